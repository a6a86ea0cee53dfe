"""numpy-like functions over the core ops, including the decompositions
(mean, var, std, logsumexp, clip, ...) that get gradients and emitters for
free from the ops they are built of."""

from __future__ import annotations

import builtins

import numpy as np

from aotgraph.ops.elemwise import ELEMENTWISE_TABLE, cast, elementwise
from aotgraph.ops.linalg import matmul
from aotgraph.ops.reduce import arg_reduce, normalize_axis, reduce
from aotgraph.tensor.basic import as_tensor
from aotgraph.types import INT_DTYPES, float_dtype_for, is_discrete


def _unary(name):
    def f(x):
        return elementwise(name, x)

    f.__name__ = name
    f.__doc__ = f"Elementwise {name} (numpy semantics)."
    return f


def _binary(name):
    def f(x, y):
        return elementwise(name, x, y)

    f.__name__ = name
    f.__doc__ = f"Elementwise {name} with broadcasting (numpy semantics)."
    return f


_ELEMENTWISE_FUNCS = {}
for _name, (_func, _nin, _cats) in ELEMENTWISE_TABLE.items():
    _ELEMENTWISE_FUNCS[_name] = (_unary if _nin == 1 else _binary)(_name)
globals().update(_ELEMENTWISE_FUNCS)

# numpy / Theano spellings
negative = _ELEMENTWISE_FUNCS["neg"]
absolute = abs_ = _ELEMENTWISE_FUNCS["abs"]
divide = true_divide = _ELEMENTWISE_FUNCS["true_div"]
floor_divide = int_div = _ELEMENTWISE_FUNCS["floor_div"]
remainder = _ELEMENTWISE_FUNCS["mod"]
power = _ELEMENTWISE_FUNCS["pow"]
equal = _ELEMENTWISE_FUNCS["eq"]
not_equal = _ELEMENTWISE_FUNCS["neq"]
less, less_equal = _ELEMENTWISE_FUNCS["lt"], _ELEMENTWISE_FUNCS["le"]
greater, greater_equal = _ELEMENTWISE_FUNCS["gt"], _ELEMENTWISE_FUNCS["ge"]
rint = _ELEMENTWISE_FUNCS["round"]


def round(x, mode="half_to_even"):  # noqa: A001 - numpy's name
    """Round to the nearest integer, ties to even (numpy's ``round``:
    integers come back unchanged, in their own dtype).

    >>> import aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> at.round(x).eval({x: [0.5, 1.5, -2.5]})
    array([ 0.,  2., -2.])
    """
    x = as_tensor(x)
    if x.dtype in INT_DTYPES and mode in ("half_to_even", "half_away_from_zero"):
        return x
    if mode != "half_to_even":
        if mode == "half_away_from_zero":
            x = as_tensor(x)
            return sign(x) * floor(abs(x) + 0.5)  # noqa: F821 - from the table
        raise ValueError(
            f"round: mode must be 'half_to_even' or 'half_away_from_zero', got {mode!r}"
        )
    return elementwise("round", x)


def switch(cond, a, b):
    """``a`` where ``cond`` is true, else ``b`` (numpy's ``where``)."""
    return elementwise("switch", cond, a, b)


where = switch


def sqr(x):
    """``x * x``."""
    x = as_tensor(x)
    return x * x


square = sqr


def reciprocal(x):
    return elementwise("true_div", 1, x)


def clip(x, a_min, a_max):
    """``x`` limited to ``[a_min, a_max]``; the gradient passes where
    ``a_min <= x <= a_max`` (boundaries included)."""
    return minimum(maximum(x, a_min), a_max)  # noqa: F821 - from the table


# --- reductions ---------------------------------------------------------


def sum(x, axis=None, keepdims=False, dtype=None):  # noqa: A001
    """Sum over ``axis`` (numpy's dtype rules: small integers sum as int64;
    with ``dtype`` the result has that dtype, as numpy's ``sum(dtype=...)``)."""
    x = as_tensor(x)
    if dtype is None:
        return reduce("sum", x, axis, keepdims)
    # Integer sums wrap the same modulo 2**bits whatever the accumulator.
    return cast(reduce("sum", cast(x, dtype), axis, keepdims), dtype)


def prod(x, axis=None, keepdims=False):
    return reduce("prod", x, axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return reduce("max", x, axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return reduce("min", x, axis, keepdims)


def all(x, axis=None, keepdims=False):  # noqa: A001
    return reduce("all", x, axis, keepdims)


def any(x, axis=None, keepdims=False):  # noqa: A001
    return reduce("any", x, axis, keepdims)


def argmax(x, axis=None, keepdims=False):
    return arg_reduce("argmax", x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    return arg_reduce("argmin", x, axis, keepdims)


def _count(x, axes):
    """Number of reduced elements, static when the lengths are, else from
    the run-time shape."""
    dims = [x.type.shape[a] for a in axes]
    if None not in dims:
        return int(np.prod(dims, dtype=np.int64))
    from aotgraph.tensor.shape import shape_i

    n = None
    for a in axes:
        d = shape_i(x, a)
        n = d if n is None else n * d
    return n


def mean(x, axis=None, keepdims=False, dtype=None):
    """Arithmetic mean (integers average in float64, as numpy)."""
    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, "mean")
    if dtype is not None:
        x = cast(x, dtype)
    elif is_discrete(x.dtype):
        x = cast(x, "float64")
    s = reduce("sum", x, axes, keepdims)
    n = _count(x, axes)
    if not isinstance(n, int):
        n = cast(n, s.dtype)
    return s / n


def var(x, axis=None, keepdims=False, ddof=0, corrected=None):
    """Variance, ``mean(abs(x - mean(x))**2)``; ``ddof`` as numpy."""
    x = as_tensor(x)
    if is_discrete(x.dtype):
        x = cast(x, "float64")
    axes = normalize_axis(axis, x.ndim, "var")
    if corrected:
        ddof = 1
    centered = x - mean(x, axes, keepdims=True)
    s = reduce("sum", centered * centered, axes, keepdims)
    n = _count(x, axes)
    # numpy divides by max(n - ddof, 0): inf or nan, never a negative variance.
    if isinstance(n, int):
        return s / builtins.max(n - ddof, 0)
    return s / cast(maximum(n - ddof, 0), s.dtype)  # noqa: F821 - from the table


def std(x, axis=None, keepdims=False, ddof=0, corrected=None):
    """Standard deviation, ``sqrt(var(x))``; ``ddof`` as numpy."""
    x = as_tensor(x)
    axis = normalize_axis(axis, x.ndim, "std")  # errors name std, not var
    return elementwise("sqrt", var(x, axis, keepdims, ddof, corrected))


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` computed with the max shifted out (stable)."""
    x = as_tensor(x)
    if is_discrete(x.dtype):
        # x - max(x) must not wrap around in a small integer dtype.
        x = cast(x, float_dtype_for(x.dtype))
    axes = normalize_axis(axis, x.ndim, "logsumexp")
    if builtins.any(x.type.shape[a] == 0 for a in axes):
        from aotgraph.errors import ShapeError

        raise ShapeError(
            f"logsumexp: cannot reduce over a zero-length axis of {x.type.short()} "
            "(like max, it needs at least one element)"
        )
    m = reduce("max", x, axes, True)
    # An all -inf slice would give inf - inf; shift by 0 there instead.
    m = switch(elementwise("isfinite", m), m, 0)
    from aotgraph.gradient import disconnected_grad

    m = disconnected_grad(m)
    s = reduce("sum", elementwise("exp", x - m), axes, True)
    out = elementwise("log", s) + m
    if not keepdims:
        from aotgraph.tensor.shape import drop_axes

        out = drop_axes(out, axes)
    return out


# --- linear algebra -----------------------------------------------------


def dot(a, b):
    """numpy's ``dot``: matmul for 1-d and 2-d operands, a scalar product
    when one is 0-d, and ``tensordot`` over the last/second-to-last axes
    beyond that."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul(a, b)
    from aotgraph.tensor.linalg import tensordot

    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2 if b.ndim > 1 else 0]))


__all__ = [
    n
    for n, v in list(globals().items())
    if not n.startswith("_") and n != "annotations" and not isinstance(v, type(np))
]
