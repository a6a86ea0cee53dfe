"""Elementwise ops: one table row per op.

Output dtypes follow numpy 2 exactly: the rule asks numpy what it returns
for zero-size arrays of the input dtypes (float16, which aotgraph does not
have, becomes float32).  Shapes broadcast as in numpy.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from aotgraph.errors import AotgraphTypeError
from aotgraph.ops.base import apply1, register_op
from aotgraph.types import TensorType, as_dtype, broadcast_static


@lru_cache(maxsize=None)
def numpy_result_dtype(func, dtypes) -> str:
    """What numpy's ``func`` returns for these input dtypes (float16 → float32)."""
    try:
        with np.errstate(all="ignore"):
            out = func(*[np.zeros(0, d) for d in dtypes])
    except TypeError as exc:
        raise AotgraphTypeError(
            f"{getattr(func, '__name__', func)}: not defined for dtypes "
            f"{', '.join(dtypes)} ({exc})"
        ) from None
    name = out.dtype.name
    return "float32" if name == "float16" else name


def _erf(x):
    return np.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype)


def _erfc(x):
    return np.frompyfunc(math.erfc, 1, 1)(x).astype(x.dtype)


def _sigmoid(x):
    # exp of a non-positive number only: no overflow warnings.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def _softplus(x):
    return np.logaddexp(np.zeros((), x.dtype), x)


# name: (numpy function, number of inputs, categories)
ELEMENTWISE_TABLE = {
    # arithmetic
    "neg": (np.negative, 1, ()),
    "abs": (np.absolute, 1, ()),
    "sign": (np.sign, 1, ()),
    "add": (np.add, 2, ("commutative", "associative")),
    "sub": (np.subtract, 2, ()),
    "mul": (np.multiply, 2, ("commutative", "associative")),
    "true_div": (np.true_divide, 2, ()),
    "floor_div": (np.floor_divide, 2, ()),
    "mod": (np.remainder, 2, ()),
    "pow": (np.power, 2, ()),
    "maximum": (np.maximum, 2, ("commutative", "associative")),
    "minimum": (np.minimum, 2, ("commutative", "associative")),
    # exponentials and logarithms
    "exp": (np.exp, 1, ()),
    "exp2": (np.exp2, 1, ()),
    "log": (np.log, 1, ()),
    "log2": (np.log2, 1, ()),
    "log10": (np.log10, 1, ()),
    "log1p": (np.log1p, 1, ()),
    "expm1": (np.expm1, 1, ()),
    "sqrt": (np.sqrt, 1, ()),
    "sigmoid": (_sigmoid, 1, ()),
    "softplus": (_softplus, 1, ()),
    "erf": (_erf, 1, ()),
    "erfc": (_erfc, 1, ()),
    # rounding
    "floor": (np.floor, 1, ()),
    "ceil": (np.ceil, 1, ()),
    "round": (np.rint, 1, ()),  # half to even, as numpy's round
    "trunc": (np.trunc, 1, ()),
    # trigonometric and hyperbolic
    "sin": (np.sin, 1, ()),
    "cos": (np.cos, 1, ()),
    "tan": (np.tan, 1, ()),
    "arcsin": (np.arcsin, 1, ()),
    "arccos": (np.arccos, 1, ()),
    "arctan": (np.arctan, 1, ()),
    "arctan2": (np.arctan2, 2, ()),
    "sinh": (np.sinh, 1, ()),
    "cosh": (np.cosh, 1, ()),
    "tanh": (np.tanh, 1, ()),
    "arcsinh": (np.arcsinh, 1, ()),
    "arccosh": (np.arccosh, 1, ()),
    "arctanh": (np.arctanh, 1, ()),
    # predicates and comparisons (bool results)
    "isnan": (np.isnan, 1, ()),
    "isinf": (np.isinf, 1, ()),
    "isfinite": (np.isfinite, 1, ()),
    "eq": (np.equal, 2, ("commutative",)),
    "neq": (np.not_equal, 2, ("commutative",)),
    "lt": (np.less, 2, ()),
    "le": (np.less_equal, 2, ()),
    "gt": (np.greater, 2, ()),
    "ge": (np.greater_equal, 2, ()),
    # logical (on bools) and bitwise (on integers), as numpy's & | ^ ~
    "logical_not": (np.logical_not, 1, ()),
    "logical_and": (np.logical_and, 2, ("commutative", "associative")),
    "logical_or": (np.logical_or, 2, ("commutative", "associative")),
    "logical_xor": (np.logical_xor, 2, ("commutative", "associative")),
    "bitwise_and": (np.bitwise_and, 2, ("commutative", "associative")),
    "bitwise_or": (np.bitwise_or, 2, ("commutative", "associative")),
    "bitwise_xor": (np.bitwise_xor, 2, ("commutative", "associative")),
    "invert": (np.invert, 1, ()),
}

# Functions numpy does not define for integers; they behave like np.exp.
_FLOAT_ONLY = {"sigmoid", "softplus", "erf", "erfc"}


def elementwise_dtype(name, dtypes) -> str:
    """Output dtype of elementwise op ``name`` on inputs of ``dtypes``."""
    if name == "switch":
        return numpy_result_dtype(np.add, tuple(dtypes[1:]))
    if name == "cast":
        raise AssertionError("cast carries its dtype as a parameter")
    func = ELEMENTWISE_TABLE[name][0]
    if name in _FLOAT_ONLY:
        return numpy_result_dtype(np.exp, tuple(dtypes))
    return numpy_result_dtype(func, tuple(dtypes))


def _broadcast_types(op, types):
    return broadcast_static(
        [t.shape for t in types],
        what=op.name,
        names=[f"input {i} ({t.short()})" for i, t in enumerate(types)],
    )


def _make_infer(name):
    def infer(op, types):
        shape = _broadcast_types(op, types)
        return [TensorType(elementwise_dtype(name, [t.dtype for t in types]), shape)]

    return infer


def _make_impl(name, func):
    def impl(op, *args):
        out_dtype = elementwise_dtype(name, [a.dtype.name for a in args])
        if out_dtype in ("float32", "float64") and any(
            a.dtype.kind in "biu" for a in args
        ):
            # numpy would compute a float16 result for small integers;
            # compute in the output dtype instead, as the C code does.
            args = [a.astype(out_dtype) if a.dtype.kind in "biu" else a for a in args]
        with np.errstate(all="ignore"):
            return np.asarray(func(*args)).astype(out_dtype, copy=False)

    return impl


for _name, (_func, _nin, _cats) in ELEMENTWISE_TABLE.items():
    register_op(
        _name,
        infer=_make_infer(_name),
        impl=_make_impl(_name, _func),
        categories=("elementwise",) + _cats,
        n_inputs=_nin,
        doc=f"elementwise {_name}, as numpy's {getattr(_func, '__name__', _name)}",
    )


def _switch_infer(op, types):
    cond, a, b = types
    shape = _broadcast_types(op, types)
    return [TensorType(elementwise_dtype("switch", [t.dtype for t in types]), shape)]


def _switch_impl(op, cond, a, b):
    out_dtype = elementwise_dtype("switch", [cond.dtype.name, a.dtype.name, b.dtype.name])
    return np.where(cond.astype(bool), a, b).astype(out_dtype, copy=False)


register_op(
    "switch",
    infer=_switch_infer,
    impl=_switch_impl,
    categories=("elementwise",),
    n_inputs=3,
    doc="where(cond, a, b): a where cond is nonzero, else b",
)


def _cast_infer(op, types):
    (t,) = types
    return [TensorType(op["dtype"], t.shape)]


def _cast_impl(op, x):
    with np.errstate(all="ignore"):
        return x.astype(op["dtype"])


register_op(
    "cast",
    infer=_cast_infer,
    impl=_cast_impl,
    categories=("elementwise",),
    n_inputs=1,
    doc="cast to params['dtype'] with numpy's astype (unsafe casting)",
)


def elementwise(name, *inputs):
    """Apply elementwise op ``name`` to tensors, Python numbers or arrays.

    Python scalars are weak (NEP 50): ``float32_var * 2.0`` stays float32.
    """
    from aotgraph.tensor.basic import resolve_weak

    return apply1(name, resolve_weak(name, inputs))


def cast(x, dtype):
    """``x`` converted to ``dtype`` (numpy's ``astype``)."""
    from aotgraph.tensor.basic import as_tensor

    x = as_tensor(x)
    dtype = as_dtype(dtype, "cast")
    if x.dtype == dtype:
        return x
    return apply1("cast", [x], dtype=dtype)
