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
        f"as_tensor: expected a symbolic variable, number or array, got "
        f"{type(x).__name__} {x!r}"
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
    dtype = _weak_dtype(part)
    if dtype == "float16":
        dtype = "float32"
    out = vars_[:1] if skip_first else []
    for v in part:
        if isinstance(v, Constant) and v.weak:
            value = v.data.item()
            with np.errstate(all="ignore"):
                converted = np.array(value).astype(dtype)
            if isinstance(value, int) and not isinstance(value, bool) and converted != value:
                raise AotgraphTypeError(
                    f"{opname}: Python integer {value} is out of bounds for {dtype}"
                )
            v = Constant(converted, dtype=dtype)
        out.append(v)
    return out


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
        raise AotgraphTypeError(
            f"tensor: {dtype!r} is not a dtype; pass the name as name=..."
        )
    dtype = as_dtype(dtype or config.floatX, "tensor")
    if shape is None:
        shape = (None,) * (ndim or 0)
    elif ndim is not None and ndim != len(shape):
        raise AotgraphTypeError(f"tensor: ndim={ndim} does not match shape {shape}")
    return Variable(TensorType(dtype, shape), name=name)


def _dtype_names():
    names = set()
    for d in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
              "uint32", "uint64", "float32", "float64"):
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
