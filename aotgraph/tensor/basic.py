"""Turning Python values into tensors, constructors, and NEP 50 weak scalars."""

from __future__ import annotations

import numbers

import numpy as np

from aotgraph.config import config
from aotgraph.errors import AotgraphTypeError
from aotgraph.graph import Constant, SharedVariable, Variable
from aotgraph.types import TensorType, as_dtype


def as_tensor(x, name=None, dtype=None) -> Variable:
    """A symbolic variable for ``x``: variables pass through, Python numbers
    become weak constants, arrays and nested lists become constants."""
    if isinstance(x, Variable):
        if dtype is not None and x.dtype != as_dtype(dtype):
            from aotgraph.ops.elemwise import cast

            return cast(x, dtype)
        return x
    if isinstance(x, (bool, np.bool_)):
        return Constant(bool(x), dtype=dtype or "bool", name=name)
    if isinstance(x, numbers.Number) and not isinstance(x, np.generic):
        if isinstance(x, complex):
            raise AotgraphTypeError(f"as_tensor: complex numbers are not supported ({x!r})")
        return Constant(x, dtype=dtype, name=name, weak=dtype is None)
    if isinstance(x, (np.ndarray, np.generic, list, tuple)):
        try:
            return Constant(x, dtype=dtype, name=name)
        except ValueError as exc:
            raise AotgraphTypeError(f"as_tensor: cannot make a tensor of {x!r}: {exc}") from None
    raise AotgraphTypeError(
        f"as_tensor: expected a symbolic variable, number or array, got {type(x).__name__} {x!r}"
    )


def constant(value, name=None, dtype=None) -> Constant:
    """A constant tensor.  ``at.constant(2.0)`` is float64 like numpy; use
    the ``dtype`` argument (or a plain Python number in an expression, which
    adapts to the other operand) for float32."""
    if isinstance(value, Variable):
        raise AotgraphTypeError("constant: value must be a number or array, not a variable")
    return Constant(value, dtype=dtype, name=name)


def _weak_dtype(values):
    strong = [v.dtype for v in values if not (isinstance(v, Constant) and v.weak)]
    weak = [v.data.item() for v in values if isinstance(v, Constant) and v.weak]
    return np.result_type(*strong, *weak).name


def resolve_weak(opname, inputs):
    """Variables for ``inputs`` with weak Python scalars given the dtype NEP 50
    picks, e.g. ``[float32 x, 2.0] -> [x, Constant(2.0, float32)]``."""
    vars_ = [as_tensor(v) for v in inputs]
    skip_first = opname == "switch"  # the condition takes no part in promotion
    part = vars_[1:] if skip_first else vars_
    if not any(isinstance(v, Constant) and v.weak for v in part):
        return vars_
    dtypes = _ufunc_loop_dtypes(opname, part) or [_weak_dtype(part)] * len(part)
    dtypes = ["float32" if d == "float16" else d for d in dtypes]
    out = vars_[:1] if skip_first else []
    for v, dtype in zip(part, dtypes):
        if isinstance(v, Constant) and v.weak:
            v = _convert_weak(opname, v.data.item(), dtype)
        out.append(v)
    return out


def _ufunc_loop_dtypes(opname, inputs):
    """The input dtypes of the loop numpy's ufunc for ``opname`` runs, weak
    scalars passed as their Python type (numpy's own NEP 50 resolution, which
    is per ufunc: ``int8 / 300`` is fine, ``int8 + 300`` is not); None when
    the op is not a numpy ufunc or numpy has no loop."""
    from aotgraph.ops.elemwise import ELEMENTWISE_TABLE

    func = np.matmul if opname == "matmul" else ELEMENTWISE_TABLE.get(opname, (None,))[0]
    if not isinstance(func, np.ufunc) or func.nin != len(inputs):
        return None
    args = tuple(
        type(v.data.item()) if isinstance(v, Constant) and v.weak else np.dtype(v.dtype)
        for v in inputs
    )
    try:
        loop = func.resolve_dtypes(args + (None,) * func.nout)
    except (TypeError, ValueError):
        return None
    return [d.name for d in loop[: func.nin]]


#: numpy 2 compares arrays with out-of-range Python integers exactly
#: (``int8_array < 300`` is all True) instead of raising OverflowError.
_COMPARISONS = frozenset({"eq", "neq", "lt", "le", "gt", "ge"})


def _convert_weak(opname, value, dtype):
    """The weak Python scalar ``value`` as a constant of ``dtype`` (NEP 50)."""
    int_into_int = (
        isinstance(value, int) and not isinstance(value, bool) and np.dtype(dtype).kind in "iu"
    )
    try:
        with np.errstate(all="ignore"):
            converted = np.array(value).astype(dtype)
        fits = not int_into_int or converted == value
    except OverflowError:  # e.g. an int beyond float32's range
        fits = False
    if fits:
        return Constant(converted, dtype=dtype)
    if opname in _COMPARISONS and int_into_int:
        # Compare in a dtype that holds the value; the result is bool anyway.
        return Constant(value, dtype="int64" if value < 2**63 else "uint64")
    raise AotgraphTypeError(
        f"{opname}: Python integer {value} is out of bounds for {dtype} (the dtype of "
        f"the other operand); make it a constant of a wider dtype with at.constant"
    )


# --- symbolic inputs ----------------------------------------------------

_NDIM_NAMES = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4}
_PREFIX_DTYPES = {
    "b": "int8",
    "w": "int16",
    "i": "int32",
    "l": "int64",
    "f": "float32",
    "d": "float64",
}


def tensor(dtype=None, shape=None, name=None, ndim=None) -> Variable:
    """A free symbolic input, e.g. ``at.tensor("float32", shape=(None, 784))``.

    ``shape`` entries are static lengths or ``None``; alternatively give
    ``ndim`` for all-dynamic dimensions.
    """
    if isinstance(dtype, str) and name is None and dtype not in _dtype_names():
        # at.tensor("x") style misuse: name passed positionally.
        raise AotgraphTypeError(f"tensor: {dtype!r} is not a dtype; pass the name as name=...")
    dtype = as_dtype(dtype or config.floatX, "tensor")
    if shape is None:
        shape = (None,) * (ndim or 0)
    elif ndim is not None and ndim != len(shape):
        raise AotgraphTypeError(f"tensor: ndim={ndim} does not match shape {shape}")
    return Variable(TensorType(dtype, shape), name=name)


def _dtype_names():
    names = set()
    for d in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float32",
        "float64",
    ):
        names.add(d)
    return names


def _make_constructor(ndim, fixed_dtype, fname):
    def constructor(name=None, dtype=None, shape=None):
        if name is not None and not isinstance(name, str):
            raise AotgraphTypeError(f"{fname}: name must be a str, got {name!r}")
        if fixed_dtype is not None and dtype is not None:
            raise AotgraphTypeError(f"{fname}: the dtype is {fixed_dtype}; use a plain constructor")
        if shape is not None and len(shape) != ndim:
            raise AotgraphTypeError(f"{fname}: shape must have {ndim} entries, got {shape}")
        return tensor(fixed_dtype or dtype, shape=shape or (None,) * ndim, name=name)

    constructor.__name__ = fname
    constructor.__doc__ = (
        f"A symbolic {ndim}-d input"
        + (f" of dtype {fixed_dtype}" if fixed_dtype else " (dtype defaults to floatX)")
        + "."
    )
    return constructor


CONSTRUCTORS = {}
for _kind, _nd in _NDIM_NAMES.items():
    CONSTRUCTORS[_kind] = _make_constructor(_nd, None, _kind)
    for _prefix, _dt in _PREFIX_DTYPES.items():
        CONSTRUCTORS[_prefix + _kind] = _make_constructor(_nd, _dt, _prefix + _kind)


def shared(value, name=None, borrow=False, dtype=None, shape=None) -> SharedVariable:
    """A variable whose value persists across calls and that ``updates`` change.

    >>> import aotgraph as ag
    >>> w = ag.shared([1.0, 2.0], name="w")
    >>> w.get_value()
    array([1., 2.])
    """
    return SharedVariable(value, name=name, borrow=borrow, dtype=dtype, shape=shape)
