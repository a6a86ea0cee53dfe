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
from aotgraph.types import TensorType, as_dtype, broadcast_static, is_discrete


@lru_cache(maxsize=None)
def numpy_result_dtype(func, dtypes) -> str:
    """What numpy's ``func`` returns for these input dtypes (float16 → float32)."""
    try:
        with np.errstate(all="ignore"):
            out = func(*[np.zeros(0, d) for d in dtypes])
    except TypeError as exc:
        raise AotgraphTypeError(
            f"{getattr(func, '__name__', func)}: not defined for dtypes {', '.join(dtypes)} ({exc})"
        ) from None
    name = out.dtype.name
    return "float32" if name == "float16" else name


def _erf(x):
    # np.array, not .astype: on a 0-d input frompyfunc returns a Python float.
    return np.array(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)


def _erfc(x):
    return np.array(np.frompyfunc(math.erfc, 1, 1)(x), dtype=x.dtype)


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
        # a callable: the names are only needed for an error message
        names=lambda: [f"input {i} ({t.short()})" for i, t in enumerate(types)],
    )


def _make_infer(name):
    def infer(op, types):
        shape = _broadcast_types(op, types)
        return [TensorType(elementwise_dtype(name, [t.dtype for t in types]), shape)]

    return infer


def _make_impl(name, func):
    def impl(op, *args):
        out_dtype = elementwise_dtype(name, [a.dtype.name for a in args])
        if out_dtype in ("float32", "float64") and any(a.dtype.kind in "biu" for a in args):
            # numpy would compute a float16 result for small integers;
            # compute in the output dtype instead, as the C code does.
            args = [a.astype(out_dtype) if a.dtype.kind in "biu" else a for a in args]
        with np.errstate(all="ignore"):
            return np.asarray(func(*args)).astype(out_dtype, copy=False)

    return impl


# --- derivatives: each op's VJP and JVP come from its partials ------------
# name: partials(*inputs, out) -> one derivative per input.  Python numbers
# stay weak (a float32 gradient stays float32); 0 means a zero gradient
# (floor, sign, ... as in Theano).  abs'(0) = sign(0) = 0.  maximum and
# minimum give ties to their first argument, so clip = minimum(maximum(x,
# lo), hi) passes the gradient where lo <= x <= hi (boundaries included).
# pow: d/da is 0 where b == 0 (also at a == 0), d/db is 0 where a == 0.
_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _e(name, *args):
    return elementwise(name, *args)


def _rsqrt(x):
    return _e("true_div", 1.0, _e("sqrt", x))


def _erf_partial(x, out):
    return [_e("mul", _TWO_OVER_SQRT_PI, _e("exp", -(x * x)))]


PARTIALS = {
    "neg": lambda x, out: [-1],
    "abs": lambda x, out: [_e("sign", x)],
    "sign": lambda x, out: [0],
    "floor": lambda x, out: [0],
    "ceil": lambda x, out: [0],
    "round": lambda x, out: [0],
    "trunc": lambda x, out: [0],
    "add": lambda a, b, out: [1, 1],
    "sub": lambda a, b, out: [1, -1],
    "mul": lambda a, b, out: [b, a],
    "true_div": lambda a, b, out: [_e("true_div", 1.0, b), -(out / b)],
    "floor_div": lambda a, b, out: [0, 0],
    "mod": lambda a, b, out: [1, -_e("floor_div", a, b)],
    "pow": lambda a, b, out: [
        _e("switch", _e("eq", b, 0), 0, b * _e("pow", a, b - 1)),
        _e("switch", _e("eq", a, 0), 0, out * _e("log", a)),
    ],
    "maximum": lambda a, b, out: [_e("ge", a, b), _e("lt", a, b)],
    "minimum": lambda a, b, out: [_e("le", a, b), _e("gt", a, b)],
    "exp": lambda x, out: [out],
    "exp2": lambda x, out: [out * _LN2],
    "log": lambda x, out: [_e("true_div", 1.0, x)],
    "log2": lambda x, out: [_e("true_div", 1.0, x * _LN2)],
    "log10": lambda x, out: [_e("true_div", 1.0, x * _LN10)],
    "log1p": lambda x, out: [_e("true_div", 1.0, x + 1.0)],
    "expm1": lambda x, out: [out + 1.0],
    "sqrt": lambda x, out: [_e("true_div", 0.5, out)],
    "sigmoid": lambda x, out: [out * (1.0 - out)],
    "softplus": lambda x, out: [_e("sigmoid", x)],
    "erf": _erf_partial,
    "erfc": lambda x, out: [-_erf_partial(x, out)[0]],
    "sin": lambda x, out: [_e("cos", x)],
    "cos": lambda x, out: [-_e("sin", x)],
    "tan": lambda x, out: [out * out + 1.0],
    "arcsin": lambda x, out: [_rsqrt(1.0 - x * x)],
    "arccos": lambda x, out: [-_rsqrt(1.0 - x * x)],
    "arctan": lambda x, out: [_e("true_div", 1.0, x * x + 1.0)],
    "arctan2": lambda a, b, out: [b / (a * a + b * b), -(a / (a * a + b * b))],
    "sinh": lambda x, out: [_e("cosh", x)],
    "cosh": lambda x, out: [_e("sinh", x)],
    "tanh": lambda x, out: [1.0 - out * out],
    "arcsinh": lambda x, out: [_rsqrt(x * x + 1.0)],
    "arccosh": lambda x, out: [_rsqrt(x * x - 1.0)],
    "arctanh": lambda x, out: [_e("true_div", 1.0, 1.0 - x * x)],
}
#: Ops with boolean or integer results: no gradient flows through them.
NONDIFF = {
    name: "boolean or integer result"
    for name in (
        "isnan",
        "isinf",
        "isfinite",
        "eq",
        "neq",
        "lt",
        "le",
        "gt",
        "ge",
        "logical_not",
        "logical_and",
        "logical_or",
        "logical_xor",
        "bitwise_and",
        "bitwise_or",
        "bitwise_xor",
        "invert",
    )
}


_ZERO_GRAD_NOTE = "; zero gradient (piecewise constant, as in Theano)"
GRAD_NOTES = {
    "abs": "; gradient sign(x), 0 at x = 0",
    "maximum": "; on ties the gradient goes to the first argument",
    "minimum": "; on ties the gradient goes to the first argument",
    "pow": "; d/da is 0 where b == 0, d/db is 0 where a == 0",
    **{n: _ZERO_GRAD_NOTE for n in ("sign", "floor", "ceil", "round", "trunc", "floor_div")},
}


def _grad_rules(name):
    """The ``vjp``/``jvp``/``nondiff`` keywords of ``register_op`` for ``name``."""
    from aotgraph.gradient import elementwise_jvp, elementwise_vjp

    if name in NONDIFF:
        return {"nondiff": NONDIFF[name]}
    partials = PARTIALS[name]
    return {"vjp": elementwise_vjp(partials), "jvp": elementwise_jvp(partials)}


for _name, (_func, _nin, _cats) in ELEMENTWISE_TABLE.items():
    register_op(
        _name,
        infer=_make_infer(_name),
        impl=_make_impl(_name, _func),
        **_grad_rules(_name),
        categories=("elementwise",) + _cats,
        n_inputs=_nin,
        doc=f"elementwise {_name}, as numpy's {getattr(_func, '__name__', _name)}"
        + GRAD_NOTES.get(_name, ""),
    )


def _switch_infer(op, types):
    cond, a, b = types
    shape = _broadcast_types(op, types)
    return [TensorType(elementwise_dtype("switch", [t.dtype for t in types]), shape)]


def _switch_impl(op, cond, a, b):
    out_dtype = elementwise_dtype("switch", [cond.dtype.name, a.dtype.name, b.dtype.name])
    return np.where(cond.astype(bool), a, b).astype(out_dtype, copy=False)


def _switch_vjp(node, grads):
    """No gradient to the condition (zeros for a float one, as Theano);
    each branch gets g where it was chosen."""
    from aotgraph.gradient import unbroadcast, zeros_like

    (g,) = grads
    cond, a, b = node.inputs
    if g is None:
        return [None, None, None]
    ga = None if is_discrete(a.dtype) else unbroadcast(elementwise("switch", cond, g, 0), a)
    gb = None if is_discrete(b.dtype) else unbroadcast(elementwise("switch", cond, 0, g), b)
    return [None if is_discrete(cond.dtype) else zeros_like(cond), ga, gb]


def _switch_jvp(node, tangents):
    from aotgraph.gradient import broadcast_like

    _, ta, tb = tangents
    out = node.outputs[0]
    if (ta is None and tb is None) or is_discrete(out.dtype):
        return [None]
    picked = elementwise("switch", node.inputs[0], 0 if ta is None else ta, 0 if tb is None else tb)
    return [broadcast_like(picked, out)]


register_op(
    "switch",
    infer=_switch_infer,
    impl=_switch_impl,
    vjp=_switch_vjp,
    jvp=_switch_jvp,
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
    # integer and boolean values carry no gradient, in either direction
    vjp=lambda node, gs: [
        None
        if gs[0] is None or is_discrete(node.inputs[0].dtype)
        else cast(gs[0], node.inputs[0].dtype)
    ],
    jvp=lambda node, ts: [
        None if ts[0] is None or is_discrete(node.op["dtype"]) else cast(ts[0], node.op["dtype"])
    ],
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
