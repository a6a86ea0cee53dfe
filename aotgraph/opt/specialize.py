"""Specialization: cheaper forms of the same computation, and BLAS.

``x ** 0.5 -> sqrt(x)`` differs from numpy only at ``x = -inf``
(``pow`` gives ``inf``, ``sqrt`` gives ``nan``) and in the sign of
``sqrt(-0.0)``; as in Theano we accept that.  Division by a constant
becomes multiplication by its reciprocal only for floats and only when the
reciprocal is finite, so NaN positions are unchanged.

Products: ``matmul`` of 2-d operands with a transposed operand, a scale,
or an added term becomes ``gemm`` with the transposes folded into
``trans_a`` / ``trans_b`` and the scalars into ``alpha`` / ``beta``.
A product read by several nodes stays a ``matmul`` (no recomputation).
"""

from __future__ import annotations

import numpy as np

from aotgraph.graph import Constant
from aotgraph.opt.builders import as_dtype_of, constant_value, determines_shape, op, single_owner
from aotgraph.opt.rewrite import K, P, rule
from aotgraph.types import is_float


def _power_chain(x, n):
    """``x ** n`` for an integer ``n >= 1`` by repeated squaring."""
    result, base = None, x
    while n:
        if n & 1:
            result = base if result is None else op("mul", result, base)
        n >>= 1
        if n:
            base = op("mul", base, base)
    return result


def _pow_small(m):
    """x ** k for k in {2, 3, 4, -1, -2, 0.5, -0.5} without calling pow."""
    k = constant_value(m["k"])
    if k is None or not determines_shape(m.node, 0):
        return None
    x = as_dtype_of(m["x"], m.out)
    if k in (2, 3, 4):
        return _power_chain(x, int(k))
    if not is_float(m.out.dtype):
        return None
    one = Constant(1, dtype=m.out.dtype)
    if k in (-1, -2):
        return op("true_div", one, _power_chain(x, int(-k)))
    if k == 0.5:
        return op("sqrt", x)
    if k == -0.5:
        return op("true_div", one, op("sqrt", x))
    return None


def _div_by_constant(m):
    c = m["c"]
    if not is_float(m.out.dtype) or not determines_shape(m.node, 0):
        return None
    with np.errstate(all="ignore"):
        recip = (np.ones((), m.out.dtype) / c.data.astype(m.out.dtype)).astype(m.out.dtype)
    finite_in = np.isfinite(c.data) & (c.data != 0)
    if np.any(finite_in & ~np.isfinite(recip)):
        return None  # 1/c overflows: x / c is finite where x * (1/c) is not
    return op("mul", as_dtype_of(m["x"], m.out), Constant(recip))


# --- gemm ---------------------------------------------------------------


def _transposed(var):
    node = single_owner(var, "dimshuffle")
    if node is not None and node.op["pattern"] == (1, 0):
        return node.inputs[0], True
    return var, False


def product_parts(var, ctx, dtype=None):
    """``(a, b, alpha, trans_a, trans_b)`` if ``var`` is a 2-d float product
    (of ``dtype`` when given) with no added term, read only once; else None."""
    node = single_owner(var)
    if node is None or (ctx is not None and ctx.clients(var) > 1):
        return None
    if dtype is not None and var.dtype != dtype:
        return None  # the scale or the sum promotes: a gemm would change the dtype
    if node.op.name == "gemm" and node.op["beta"] == 0:
        p = node.op.params
        return (*node.inputs, p["alpha"], p["trans_a"], p["trans_b"])
    if node.op.name != "matmul":
        return None
    a, b = node.inputs
    if a.ndim != 2 or b.ndim != 2 or not is_float(var.dtype):
        return None
    if a.dtype != var.dtype or b.dtype != var.dtype:
        return None
    (a, ta), (b, tb) = _transposed(a), _transposed(b)
    return a, b, 1.0, ta, tb


def _gemm(a, b, alpha, ta, tb, beta=0.0, c=None):
    inputs = [a, b] if beta == 0 else [a, b, c]
    return op("gemm", *inputs, alpha=float(alpha), beta=float(beta), trans_a=ta, trans_b=tb)


def _scalar(var, dtype):
    """A scalar constant's value if it can scale in ``dtype``, else None."""
    if not isinstance(var, Constant) or var.data.size != 1 or var.dtype != dtype:
        return None
    value = constant_value(var)
    return None if value is None or not np.isfinite(value) else float(value)


def _gemm_transpose(m):
    parts = product_parts(m.out, None)
    if parts is None or not (parts[3] or parts[4]):
        return None
    return _gemm(*parts)


def _gemm_scale(m):
    parts = product_parts(m["p"], m.ctx, m.out.dtype)
    s = _scalar(m["s"], m.out.dtype)
    if parts is None or s is None or not determines_shape(m.node, _index(m, "p")):
        return None
    a, b, alpha, ta, tb = parts
    return _gemm(a, b, alpha * s, ta, tb)


def _term(var, dtype):
    """An added term as ``(c, beta)``: ``c * s`` gives ``(c, s)``."""
    node = single_owner(var, "mul")
    if node is not None:
        for i in (0, 1):
            s = _scalar(node.inputs[1 - i], dtype)
            if s is not None and determines_shape(node, i):
                return node.inputs[i], s
    return var, 1.0


def _gemm_add_term(sign_p, sign_c):
    """p (+|-) c  or  c - p  -> gemm with the term folded into beta."""

    def build(m):
        inputs = m.node.inputs
        orders = [(m["p"], m["c"])]
        if m.node.op.name == "add":
            orders.append((m["c"], m["p"]))
        for p, c in orders:
            parts = product_parts(p, m.ctx, m.out.dtype)
            if parts is None or not determines_shape(m.node, inputs.index(p)):
                continue
            c, beta = _term(c, m.out.dtype)
            if c.dtype != m.out.dtype or c.ndim > 2 or beta == 0:
                continue
            a, b, alpha, ta, tb = parts
            return _gemm(a, b, alpha * sign_p, ta, tb, beta * sign_c, c)
        return None

    return build


def _index(m, name):
    return next(i for i, v in enumerate(m.node.inputs) if v is m[name])


def _gemm_neg(m):
    parts = product_parts(m["p"], m.ctx, m.out.dtype)
    if parts is None:
        return None
    a, b, alpha, ta, tb = parts
    return _gemm(a, b, -alpha, ta, tb)


def _sum_to_static_like(m):
    """sum_to_like(g, like) with like's lengths all static: an explicit sum
    over the leading axes and the axes where like has length 1."""
    g, like = m["g"], m["like"]
    if None in like.type.shape or not is_float(g.dtype):
        return None
    lead = g.ndim - like.ndim
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(like.type.shape) if d == 1)
    if not axes:
        return None
    if len(axes) == lead:  # only leading axes: one plain sum
        return op("sum", g, axis=axes, keepdims=False)
    total = op("sum", g, axis=axes, keepdims=True)
    if lead:
        total = op("dimshuffle", total, pattern=tuple(range(lead, g.ndim)))
    return total


SPECIALIZE_RULES = [
    # sum_to_like(g, like: static shape) -> sum(g, broadcast axes)
    rule("sum_to_like_static", P("sum_to_like", "g", "like"), _sum_to_static_like),
    # x ** k -> x * x ..., 1 / (x * x), sqrt(x), 1 / sqrt(x)   (small constant k)
    rule("pow_small_constant", P("pow", "x", K("k")), _pow_small),
    # x / c -> x * (1 / c)   (floats)
    rule("div_by_constant", P("true_div", "x", K("c")), _div_by_constant),
    # matmul(a.T, b) -> gemm(a, b, trans_a)     (and b.T)
    rule("gemm_transpose", P("matmul", "_", "_"), _gemm_transpose),
    # (a @ b) * s -> gemm(alpha = s)
    rule("gemm_scale", P("mul", "p", K("s")), _gemm_scale),
    # -(a @ b) -> gemm(alpha = -1)
    rule("gemm_neg", P("neg", "p"), _gemm_neg),
    # a @ b + c -> gemm(c, beta = 1)   (c * s gives beta = s)
    rule("gemm_add", P("add", "p", "c"), _gemm_add_term(1.0, 1.0)),
    # c - a @ b -> gemm(alpha = -alpha, c, beta = 1)
    rule("gemm_sub_from", P("sub", "c", "p"), _gemm_add_term(-1.0, 1.0)),
    # a @ b - c -> gemm(c, beta = -1)
    rule("gemm_sub", P("sub", "p", "c"), _gemm_add_term(1.0, -1.0)),
]
