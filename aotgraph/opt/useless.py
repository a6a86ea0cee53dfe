"""Removal of nodes that compute nothing: identities proven statically.

A node is replaced by one of its inputs only when the static shapes prove
the other inputs cannot broadcast it (:func:`~aotgraph.opt.builders.keep`),
and the kept input is cast when the output dtype differs.

NaN and signed zeros: every row keeps NaN positions.  ``x + 0 -> x`` keeps
``-0.0`` where numpy would give ``+0.0`` (equal values; only ``1/x`` could
tell them apart), as Theano and PyTensor do.
"""

from __future__ import annotations

from aotgraph.ops.reduce import REDUCTION_TABLE
from aotgraph.opt.builders import as_dtype_of, constant_value, keep
from aotgraph.opt.rewrite import C, K, P, rule
from aotgraph.types import is_discrete


def _reshape_is_identity(m):
    x, target = m["x"], m.node.op["shape"]
    shape = x.type.shape
    if len(target) != len(shape) or 0 in shape or 0 in target:
        return False
    free = [i for i, (t, s) in enumerate(zip(target, shape)) if t != s]
    # one -1 left alone is forced to equal the remaining length
    return not free or (len(free) == 1 and target[free[0]] == -1)


def _sum_to_like_is_identity(m):
    g, like = m["g"], m["like"]
    return None not in like.type.shape and g.type.shape == like.type.shape


def _same_runtime_shape(m):
    return m.ctx is not None and m.ctx.shapes.same_shape(m["g"], m["like"])


def _alloc_of_full_value(m):
    value = m.node.inputs[0]
    if m.ctx is None or value.dtype != m.out.dtype or not m.ctx.shapes.same_shape(value, m.out):
        return None
    return value


def _full_slice(m):
    idx = m.node.op.get("idx", None)
    if idx is None or len(m.node.inputs) != 1:
        return None
    if all(e[0] == "slice" and e[1:] in ((None, None, None), (None, None, 1)) for e in idx):
        return m.node.inputs[0] if m.node.inputs[0].type == m.out.type else None
    return None


def _switch_on_constant(m):
    value = constant_value(m["c"])
    if value is None:
        data = m["c"].data
        if data.all():
            value = True
        elif not data.any():
            value = False
        else:
            return None
    return keep(m, "a" if value else "b")


def _no_axes(m):
    return m.node.op.get("axis") == ()


def _is_int(name):
    return lambda m: is_discrete(m[name].dtype)


USELESS_RULES = [
    # x * 1 -> x
    rule("mul_by_one", P("mul", "x", C(1)), lambda m: keep(m, "x")),
    # x + 0 -> x
    rule("add_zero", P("add", "x", C(0)), lambda m: keep(m, "x")),
    # x - 0 -> x
    rule("sub_zero", P("sub", "x", C(0)), lambda m: keep(m, "x")),
    # x / 1 -> x
    rule("div_by_one", P("true_div", "x", C(1)), lambda m: keep(m, "x")),
    # x // 1 -> x   (integers only: for floats it is floor(x))
    rule("floor_div_by_one", P("floor_div", "x", C(1), where=_is_int("x")), lambda m: keep(m, "x")),
    # x ** 1 -> x
    rule("pow_one", P("pow", "x", C(1)), lambda m: keep(m, "x")),
    # maximum(x, x) -> x ; minimum(x, x) -> x
    rule("max_min_same", P({"maximum", "minimum"}, "x", "x"), lambda m: m["x"]),
    # cast(x: T, T) -> x
    rule(
        "cast_same", P("cast", "x", where=lambda m: m["x"].dtype == m.out.dtype), lambda m: m["x"]
    ),
    # dimshuffle{0,1,..,n-1}(x) -> x
    rule(
        "dimshuffle_identity",
        P("dimshuffle", "x", where=lambda m: m.node.op["pattern"] == tuple(range(m["x"].ndim))),
        lambda m: m["x"],
    ),
    # reshape(x, shape of x) -> x
    rule("reshape_same", P("reshape", "x", where=_reshape_is_identity), lambda m: m["x"]),
    # disconnected_grad(x) -> x   (only the gradient builder cares)
    rule("disconnected_grad", P("disconnected_grad", "x"), lambda m: m["x"]),
    # sum_to_like(g, like) -> g   when the static shapes are equal and known
    rule(
        "sum_to_like_same",
        P("sum_to_like", "g", "like", where=_sum_to_like_is_identity),
        lambda m: m["g"],
    ),
    # sum_to_like(g, like) -> g   when symbolic shapes prove g has like's shape
    rule(
        "sum_to_like_same_runtime",
        P("sum_to_like", "g", "like", where=_same_runtime_shape),
        lambda m: m["g"],
    ),
    # alloc(v, shape) -> v   when v already has that shape
    rule("alloc_useless", P("alloc", any_args=True), _alloc_of_full_value),
    # x[:, :] -> x
    rule("full_slice", P("subtensor", any_args=True), _full_slice),
    # switch(True, a, b) -> a ; switch(False, a, b) -> b
    rule("switch_constant", P("switch", K("c"), "a", "b"), _switch_on_constant),
    # reduce(x, axis=()) -> x   (cast to the reduction's dtype)
    rule(
        "reduce_no_axes",
        P(frozenset(REDUCTION_TABLE), "x", where=_no_axes),
        lambda m: as_dtype_of(m["x"], m.out) if m.out.type.shape == m["x"].type.shape else None,
    ),
]
