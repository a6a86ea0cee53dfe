"""Cancellation in products: ``(g / s) * s -> g`` through whole trees of
``mul``, ``true_div`` and ``neg``, and the rewrites that expose it in
gradient graphs (distribution over a sum, factors moved out of
``sum_to_like``).

Gradients of ``log(sigmoid(x))``, ``log(softmax(x))`` and of the
crossentropies built on them contain ``g * (1 / s) * s * (1 - s)``: where
``s`` underflowed to 0 that is ``inf * 0 = nan``; cancelled it is the exact
``g * (1 - s)``.  A cancelled factor ``c`` leaves ``+ c * 0`` behind, so
results change only where ``c == 0`` (nan becomes the limit value); nan
or infinite ``c`` still give nan.  Part of the stabilize pass.

>>> import aotgraph.tensor as at
>>> a, b = at.dvector("a"), at.dvector("b")
>>> sign, num, den = product_factors((a / b) * b)
>>> sign, [v.name for v in num], [v.name for v in den]
(1, ['a', 'b'], ['b'])
"""

from __future__ import annotations

from aotgraph.graph import Constant
from aotgraph.opt.builders import as_dtype_of, op, single_owner
from aotgraph.opt.rewrite import Match, P, node_rule, rule
from aotgraph.types import is_float

#: How deep a product tree is flattened.
MAX_DEPTH = 8


def product_factors(var, depth=0):
    """``(sign, numerator factors, denominator factors)`` of a tree of
    ``mul`` / ``true_div`` / ``neg`` nodes of one float dtype."""
    node = single_owner(var)
    if (
        depth >= MAX_DEPTH
        or node is None
        or node.op.name not in ("mul", "true_div", "neg")
        or any(v.dtype != var.dtype for v in node.inputs)
    ):
        return 1, [var], []
    parts = [product_factors(v, depth + 1) for v in node.inputs]
    if node.op.name == "neg":
        sign, num, den = parts[0]
        return -sign, num, den
    (s1, n1, d1), (s2, n2, d2) = parts
    if node.op.name == "mul":
        return s1 * s2, n1 + n2, d1 + d2
    return s1 * s2, n1 + d2, d1 + n2


def _cancel_lists(num, den):
    """Remove factors present in both lists (by identity); returns
    ``(num, den, cancelled)``."""
    num, den, cancelled = list(num), list(den), []
    for d in list(den):
        for i, n in enumerate(num):
            if n is d:
                del num[i]
                den.remove(d)
                cancelled.append(d)
                break
    return num, den, cancelled


def _product(factors, like):
    out = None
    for f in factors:
        if isinstance(f, Constant) and f.ndim == 0 and f.data == 1:
            continue
        out = f if out is None else op("mul", out, f)
    return out if out is not None else Constant(1, dtype=like.dtype)


def _has_cancellation(node, ctx):
    out = node.outputs[0]
    if not is_float(out.dtype) or any(v.dtype != out.dtype for v in node.inputs):
        return None
    sign, num, den = product_factors(out)
    num, den, cancelled = _cancel_lists(num, den)
    if not cancelled:
        return None
    m = Match(node, ctx)
    m.update(sign=sign, num=num, den=den, cancelled=cancelled)
    return m


def _rebuild_product(m):
    out = m.out
    result = _product(m["num"], out)
    if m["den"]:
        result = op("true_div", result, _product(m["den"], out))
    if m["sign"] < 0:
        result = op("neg", result)
    zero = Constant(0, dtype=out.dtype)
    for c in m["cancelled"]:
        # + c * 0 keeps nan where c is nan or inf (as (a / c) * c was) and
        # broadcasts like the product did; only c == 0 changes: nan -> a
        result = op("add", result, op("mul", c, zero))
    return as_dtype_of(result, out)


def _distribute_to_cancel(m):
    """(t1 +- t2) * r -> t1 * r +- t2 * r when some t_i / b meets b in r."""
    total, r = m["s"], m["r"]
    terms = total.owner.inputs
    if any(v.dtype != m.out.dtype for v in (total, r, *terms)):
        return None  # promotion between the levels: distributing changes wrap-around
    _, r_num, _ = product_factors(r)
    for t in terms:
        _, _, den = product_factors(t)
        if any(d is n for d in den for n in r_num):
            return op(total.owner.op.name, *(op("mul", t, r) for t in terms))
    return None


def _factor_out_of_sum_to_like(m):
    """sum_to_like(a * b, like) -> sum_to_like(a, like) * b when b has
    like's run-time shape (b is constant along the summed axes)."""
    inner, like = m["p_node"], m["like"]
    if m.ctx is None:
        return None
    name = inner.op.name
    candidates = (1, 0) if name == "mul" else (1,)
    for keep in candidates:
        b, a = inner.inputs[keep], inner.inputs[1 - keep]
        if b.dtype != m.out.dtype or not m.ctx.shapes.same_shape(b, like):
            continue
        if a.ndim < like.ndim:
            a = op("dimshuffle", a, pattern=("x",) * (like.ndim - a.ndim) + tuple(range(a.ndim)))
        summed = op("sum_to_like", as_dtype_of(a, m.out), like)
        return op(name, summed, b) if keep == 1 or name == "mul" else None
    return None


CANCEL_RULES = [
    # (a / b) * b -> a   (and any product tree with a factor above and below)
    node_rule("cancel_factors", _has_cancellation, _rebuild_product, ops=("mul", "true_div")),
    # (t1 + t2) * r -> t1 * r + t2 * r   when a t_i is divided by a factor of r
    rule(
        "distribute_to_cancel",
        P("mul", P(frozenset({"add", "sub"}), "_", "_", name="s"), "r"),
        _distribute_to_cancel,
    ),
    # sum_to_like(-y, like) -> -sum_to_like(y, like)
    rule(
        "neg_out_of_sum_to_like",
        P("sum_to_like", P("neg", "y"), "like"),
        lambda m: op("neg", op("sum_to_like", m["y"], m["like"])),
    ),
    # sum_to_like(a * b, like) -> sum_to_like(a, like) * b   (b shaped like like)
    rule(
        "factor_out_of_sum_to_like",
        P("sum_to_like", P(frozenset({"mul", "true_div"}), "_", "_", name="p"), "like"),
        _factor_out_of_sum_to_like,
    ),
]
