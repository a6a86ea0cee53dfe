"""Algebraic canonicalization: one normal form for equivalent expressions.

Every row keeps NaN positions.  Rules that would not are deliberately
absent (``NAN_UNSAFE`` lists them with the input that breaks them).
Combining constants reassociates: results may differ by rounding, never
by NaN; a combination that overflows or underflows to zero is declined.
"""

from __future__ import annotations

import numpy as np

from aotgraph.graph import Constant
from aotgraph.ops.base import COMMUTATIVE, ELEMENTWISE, OPS
from aotgraph.ops.reduce import REDUCTION_TABLE
from aotgraph.opt.builders import as_dtype_of, keep, op
from aotgraph.opt.rewrite import C, K, Match, P, node_rule, rule

#: Identities we do not apply, because they change NaN/inf results.
NAN_UNSAFE = {
    "x - x -> 0": "inf - inf is nan",
    "x / x -> 1": "0/0 and inf/inf are nan",
    "x * 0 -> 0": "nan * 0 and inf * 0 are nan",
    "exp(log(x)) -> x": "log of a negative number is nan",
    "sqrt(x) ** 2 -> x": "sqrt of a negative number is nan",
    "eq(x, x) -> True": "nan != nan",
}


def _combine(m):
    """op(op(x, c1), c2) -> op(x, c1 op c2) when the folded constant is exact
    enough: finite, and not zero unless a factor was."""
    name = m.node.op.name
    c1, c2 = m["c1"].data, m["c2"].data
    with np.errstate(all="ignore"):
        value = OPS[name].impl(m.node.op, c1, c2)
    value = np.asarray(value)
    if value.dtype.kind == "f":
        if not np.all(np.isfinite(value)):
            return None
        if name == "mul" and np.any((value == 0) & (c1 != 0) & (c2 != 0)):
            return None
    return op(name, m["x"], Constant(value))


def _negated(data):
    with np.errstate(all="ignore"):
        return np.negative(data)


def _uniform(*names):
    """The bound variables have the result's dtype: no promotion inside the
    pattern (where unsigned negation and integer wrap-around would make the
    identity false, e.g. ``int16 - (-uint8)``)."""
    return lambda m: all(m[n].dtype == m.out.dtype for n in names)


def _constant_last(node, ctx):
    """Commutative binary ops: constants second, otherwise creation order,
    so that ``a + b`` and ``b + a`` merge."""
    if len(node.inputs) != 2:
        return None
    a, b = node.inputs
    key_a = (isinstance(a, Constant), a.uid)
    key_b = (isinstance(b, Constant), b.uid)
    return Match(node, ctx) if key_a > key_b else None


def _swap(m):
    a, b = m.node.inputs
    return op(m.node.op.name, b, a, **m.node.op.params)


def _compose_dimshuffles(m):
    inner = m["inner_node"].op["pattern"]
    outer = m.node.op["pattern"]
    composed = tuple("x" if q == "x" else inner[q] for q in outer)
    if composed == tuple(range(m["x"].ndim)):
        return m["x"]
    return op("dimshuffle", m["x"], pattern=composed)


def _lift_dimshuffle(m):
    """dimshuffle(f(a, b)) -> f(dimshuffle(a), dimshuffle(b)) when f's result
    is read only here and every input has the output's ndim."""
    inner = m["inner_node"]
    if m.ctx is not None and m.ctx.clients(m["inner"]) != 1:
        return None
    if len(inner.outputs) != 1 or any(v.ndim != inner.outputs[0].ndim for v in inner.inputs):
        return None
    pattern = m.node.op["pattern"]
    moved = [op("dimshuffle", v, pattern=pattern) for v in inner.inputs]
    return op(inner.op.name, *moved, **inner.op.params)


def exact_widening(src, mid) -> bool:
    """Every ``src`` value survives a round trip through ``mid`` (numpy's
    "safe" casting allows int64 -> float64, which loses digits)."""
    s, t = np.dtype(src), np.dtype(mid)
    if not np.can_cast(s, t, "safe"):
        return False
    if s.kind in "iu" and t.kind == "f":
        return s.itemsize * 8 - (s.kind == "i") <= np.finfo(t).nmant + 1
    return True


def _safe_widening(m):
    return exact_widening(m["x"].dtype, m["mid"].dtype)


def _neg_times(m):
    x = keep(m, "x")
    return None if x is None else op("neg", x)


def _shape_i_from_input(m):
    """shape_i(f(x), k) -> shape_i(x, j) (or a constant) when the symbolic
    shapes say the lengths are equal: the value of f(x) is not needed."""
    if m.ctx is None:
        return None
    source = m.ctx.shapes.length_source(m["x"], m.node.op["axis"])
    if isinstance(source, int):
        return Constant(source, dtype=m.out.dtype)
    if source is None or (source[0] is m["x"] and source[1] == m.node.op["axis"]):
        return None
    return op("shape_i", source[0], axis=source[1])


def _reduce_of_reduce(m):
    """r(r(x, A), B) -> r(x, A + B) for one reduction r (inner keepdims off)."""
    inner, outer = m["inner_node"].op, m.node.op
    if inner.name != outer.name or inner["keepdims"]:
        return None
    remaining = [i for i in range(m["x"].ndim) if i not in inner["axis"]]
    axes = tuple(sorted(set(inner["axis"]) | {remaining[b] for b in outer["axis"]}))
    keepdims = outer["keepdims"]
    if keepdims:
        return None  # the inner axes would come back as length 1
    return op(outer.name, m["x"], axis=axes, keepdims=False)


CANONICALIZE_RULES = [
    # shape_i(f(x), k) -> shape_i(x, j)        (equal lengths, symbolic shapes)
    rule("shape_i_from_input", P("shape_i", "x"), _shape_i_from_input),
    # sum(sum(x, A), B) -> sum(x, A u B)        (same for prod, max, min, all, any)
    rule(
        "reduce_of_reduce",
        P(frozenset(REDUCTION_TABLE), P(frozenset(REDUCTION_TABLE), "x", name="inner")),
        _reduce_of_reduce,
    ),
    # -(-x) -> x
    rule("double_neg", P("neg", P("neg", "x")), lambda m: m["x"]),
    # -(x - y) -> y - x
    rule("neg_sub", P("neg", P("sub", "x", "y")), lambda m: op("sub", m["y"], m["x"])),
    # x * -1 -> -x
    rule("mul_minus_one", P("mul", "x", C(-1)), _neg_times),
    # x - (-y) -> x + y
    rule(
        "sub_neg",
        P("sub", "x", P("neg", "y"), where=_uniform("x", "y")),
        lambda m: op("add", m["x"], m["y"]),
    ),
    # x + (-y) -> x - y
    rule(
        "add_neg",
        P("add", "x", P("neg", "y"), where=_uniform("x", "y")),
        lambda m: op("sub", m["x"], m["y"]),
    ),
    # (-x) * (-y) -> x * y
    rule(
        "mul_neg_neg",
        P("mul", P("neg", "x"), P("neg", "y"), where=_uniform("x", "y")),
        lambda m: op("mul", m["x"], m["y"]),
    ),
    # (-x) / (-y) -> x / y
    rule(
        "div_neg_neg",
        P("true_div", P("neg", "x"), P("neg", "y"), where=_uniform("x", "y")),
        lambda m: op("true_div", m["x"], m["y"]),
    ),
    # x - c -> x + (-c)   (exact, also with wrap-around; lets constants combine)
    rule(
        "sub_constant",
        P("sub", "x", K("c"), where=_uniform("x", "c")),
        lambda m: op("add", m["x"], Constant(_negated(m["c"].data))),
    ),
    # (x + c1) + c2 -> x + (c1 + c2)
    rule(
        "add_constants",
        P("add", P("add", "x", K("c1"), name="i"), K("c2"), where=_uniform("x", "i")),
        _combine,
    ),
    # (x * c1) * c2 -> x * (c1 * c2)
    rule(
        "mul_constants",
        P("mul", P("mul", "x", K("c1"), name="i"), K("c2"), where=_uniform("x", "i")),
        _combine,
    ),
    # (x + c) + y -> (x + y) + c   (constants bubble to the end of a chain)
    rule(
        "add_constant_outward",
        P(
            "add",
            P("add", "x", K("c"), name="i"),
            "y",
            where=lambda m: not isinstance(m["y"], Constant) and _uniform("x", "y", "i")(m),
        ),
        lambda m: op("add", op("add", m["x"], m["y"]), m["c"]),
    ),
    # f(c, x) -> f(x, c)  and  f(b, a) -> f(a, b) for commutative f
    node_rule("commutative_order", _constant_last, _swap, ops=COMMUTATIVE),
    # cast(cast(x, wider), T) -> cast(x, T)
    rule(
        "cast_of_widening_cast",
        P("cast", P("cast", "x", name="mid"), where=_safe_widening),
        lambda m: as_dtype_of(m["x"], m.out),
    ),
    # dimshuffle{p2}(dimshuffle{p1}(x)) -> dimshuffle{p1 o p2}(x)
    rule(
        "dimshuffle_compose",
        P("dimshuffle", P("dimshuffle", "x", name="inner")),
        _compose_dimshuffles,
    ),
    # dimshuffle(f(a, b)) -> f(dimshuffle(a), dimshuffle(b))   (f elementwise)
    rule(
        "dimshuffle_lift",
        P("dimshuffle", P(ELEMENTWISE, name="inner", any_args=True)),
        _lift_dimshuffle,
    ),
]
