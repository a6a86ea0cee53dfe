"""Numerical stabilization: the same math computed without overflow,
underflow or cancellation.

These rows change results only where the original overflowed, underflowed
or cancelled: there they give the finite, correct value (e.g.
``log(1 + exp(100))`` is 100 instead of ``inf`` in float32).  The stabilize
pass also runs :mod:`aotgraph.opt.cancel` (``(g / s) * s -> g``), which keeps
gradients through ``log(sigmoid)`` and ``log(softmax)`` finite, and the
crossentropy rows below fuse ``crossentropy_1hot(softmax(x), y)`` and its
gradient into ``log_softmax`` and ``softmax - onehot`` forms.  Rules whose
ops are not registered stay inactive until they are.
"""

from __future__ import annotations

from aotgraph.graph import Constant
from aotgraph.ops.base import INDEXING, SHAPE_OPS
from aotgraph.opt.builders import as_dtype_of, determines_shape, op, single_owner
from aotgraph.opt.rewrite import C, P, rule
from aotgraph.types import is_discrete, is_float


def _float(name):
    return lambda m: is_float(m[name].dtype)


def _inner_keeps(m, inner, name):
    """The inner node ``m[inner]`` does not broadcast ``m[name]``."""
    node = m[inner + "_node"]
    return any(v is m[name] and determines_shape(node, i) for i, v in enumerate(node.inputs))


def _float_kept(inner, name):
    return lambda m: is_float(m[name].dtype) and _inner_keeps(m, inner, name)


def _strip_to_max(var):
    """Follow switch (taken branch), dimshuffle, cast and
    disconnected_grad to the node computing ``var``."""
    for _ in range(8):
        node = single_owner(var)
        if node is None:
            return None
        if node.op.name == "switch":
            var = node.inputs[1]
        elif node.op.name in ("dimshuffle", "disconnected_grad", "cast"):
            var = node.inputs[0]
        else:
            return node
    return None


def is_max_shifted(z) -> bool:
    """``z`` is ``a - max(a)`` (possibly guarded/dimshuffled): exp(z) <= 1."""
    node = single_owner(z, "sub")
    if node is None:
        return False
    a, shift = node.inputs
    peak = _strip_to_max(shift)
    return peak is not None and peak.op.name == "max" and peak.inputs[0] is a


def _logsumexp(m):
    """log(sum(exp(x))) -> log(sum(exp(x - m))) + m with m = max(x) (0 where
    max(x) is not finite, so that all -inf or inf slices stay exact).  Only
    over axes of static nonzero length: max cannot reduce an empty axis."""
    x = m["x"]
    if is_max_shifted(x) or not is_float(x.dtype):
        return None
    params = m["s_node"].op.params
    axes, keepdims = params["axis"], params["keepdims"]
    if any(x.type.shape[a] in (None, 0) for a in axes):
        return None  # max of an empty axis raises where sum gives log(0) = -inf
    peak = op("max", x, axis=axes, keepdims=True)
    zero = Constant(0, dtype=x.dtype)
    safe = op("switch", op("isfinite", peak), peak, zero)
    total = op("sum", op("exp", op("sub", x, safe)), axis=axes, keepdims=True)
    out = op("add", op("log", total), safe)
    if not keepdims:
        out = op("dimshuffle", out, pattern=tuple(a for a in range(x.ndim) if a not in axes))
    return out


def _softmax_like(var) -> bool:
    node = single_owner(var)
    if node is None:
        return False
    if node.op.name == "softmax":
        return True
    return node.op.name == "true_div" and single_owner(node.inputs[0], "exp") is not None


def _log_through_view(m):
    """log(view(q)) -> view(log(q)) for a softmax-like q, so the log can
    meet the softmax (views: shape and indexing ops, data input first)."""
    view = m["v_node"]
    if not view.inputs:
        return None
    q = view.inputs[0]
    moves_data = view.outputs[0].dtype == q.dtype and all(
        is_discrete(v.dtype) for v in view.inputs[1:]
    )  # other inputs are indices or lengths (not shape_i, join, inc_subtensor)
    if not moves_data or not _softmax_like(q):
        return None
    return op(view.op.name, op("log", q), *view.inputs[1:], **view.op.params)


def _log_softmax_op(m):
    return op("log_softmax", m["x"], **m["sm_node"].op.params)


def _neg_softplus(x):
    return op("neg", op("softplus", x))


def _unary_of(name, inner="e"):
    """Replace ``m.node`` by ``name(x)`` when the constant operand does not
    broadcast the bound ``inner`` operand."""

    def build(m):
        var = m[inner]
        for i, v in enumerate(m.node.inputs):
            if v is var and determines_shape(m.node, i) and is_float(m["x"].dtype):
                return as_dtype_of(op(name, m["x"]), m.out)
        return None

    return build


def _xent_softmax(m):
    """crossentropy_1hot(softmax(x), y) -> -log_softmax(x)[arange(n), y].

    crossentropy_1hot rejects negative labels; numpy indexing would wrap
    them, so they are moved below -k where indexing rejects them too."""
    from aotgraph.tensor.basic import as_tensor

    x, y = m["x"], m["y"]
    if m["sm_node"].op["axis"] != 1 or x.ndim != 2:
        return None
    x_ = as_tensor(x)
    rows = x_.shape[0]
    index = op("arange", rows, start=0, stop=None, step=1, dtype="int64")
    labels = as_dtype_of(y, index)
    labels = op(
        "switch",
        op("lt", labels, Constant(0, dtype="int64")),
        op("sub", labels, as_dtype_of(x_.shape[1], index)),
        labels,
    )
    picked = op(
        "adv_subtensor", op("log_softmax", x, axis=1), index, labels, idx=(("array",), ("array",))
    )
    return op("neg", picked)


def _is_xent_grad_of(m):
    g_node = single_owner(m["G"], "crossentropy_1hot_grad")
    sm_node = single_owner(m["sm"], "softmax")
    if g_node is None or sm_node is None or g_node.inputs[1] is not m["sm"]:
        return False
    p = m["s_node"].op.params
    return p["axis"] == (sm_node.op["axis"],) and p["keepdims"] and sm_node.op["axis"] == 1


def _xent_softmax_grad(m):
    """softmax's VJP of crossentropy_1hot_grad(g, sm, y) -> g * sm - g * onehot(y)."""
    from aotgraph.tensor import ones_like

    g, sm, y = m["G"].owner.inputs
    column = op("dimshuffle", g, pattern=(0, "x")) if g.ndim == 1 else g
    minus_onehot_g = op("crossentropy_1hot_grad", g, ones_like(sm), y)
    return op("add", op("mul", column, sm), minus_onehot_g)


def _softmax_form(m):
    """exp(z) / sum(exp(z), axis, keepdims) -> softmax(x) with x = z, or
    x = a when z = a - max(a) already (softmax shifts by itself); only over
    an axis of static nonzero length."""
    params = m["s_node"].op.params
    z = m["z"]
    if len(params["axis"]) != 1 or not params["keepdims"] or not is_float(z.dtype):
        return None
    (axis,) = params["axis"]
    if z.type.shape[axis] in (None, 0):
        return None  # the softmax op (its max) cannot reduce an empty axis
    x = z.owner.inputs[0] if is_max_shifted(z) else z
    if x.dtype != z.dtype:
        return None
    return op("softmax", x, axis=axis)


STABILIZE_RULES = [
    # exp(z) / sum(exp(z), axis, keepdims) -> softmax(z, axis)
    rule(
        "softmax_form",
        P("true_div", P("exp", "z", name="e"), P("sum", "e", name="s")),
        _softmax_form,
    ),
    # crossentropy_1hot(softmax(x), y) -> -log_softmax(x)[i, y[i]]
    rule(
        "crossentropy_softmax",
        P("crossentropy_1hot", P("softmax", "x", name="sm"), "y"),
        _xent_softmax,
    ),
    # sm * (G - sum(G * sm)) with G = xent_grad(g, sm, y) -> g * sm - g * onehot(y)
    rule(
        "crossentropy_softmax_grad",
        P(
            "mul",
            "sm",
            P("sub", "G", P("sum", P("mul", "G", "sm"), name="s"), where=_is_xent_grad_of),
        ),
        _xent_softmax_grad,
    ),
    # log(exp(x)) -> x
    rule("log_exp", P("log", P("exp", "x"), where=_float("x")), lambda m: m["x"]),
    # log(1 + x) -> log1p(x)
    rule(
        "log1p",
        P("log", P("add", "x", C(1), name="a", where=_float_kept("a", "x"))),
        lambda m: op("log1p", m["x"]),
    ),
    # log(1 - x) -> log1p(-x)
    rule(
        "log1p_neg",
        P("log", P("sub", C(1), "x", name="a", where=_float_kept("a", "x"))),
        lambda m: op("log1p", op("neg", m["x"])),
    ),
    # exp(x) - 1 -> expm1(x)
    rule("expm1", P("sub", P("exp", "x", name="e"), C(1)), _unary_of("expm1")),
    # exp(x) + (-1) -> expm1(x)
    rule("expm1_add", P("add", P("exp", "x", name="e"), C(-1)), _unary_of("expm1")),
    # log1p(exp(x)) -> softplus(x)
    rule("softplus", P("log1p", P("exp", "x")), lambda m: op("softplus", m["x"])),
    # log(sigmoid(x)) -> -softplus(-x)
    rule(
        "log_sigmoid",
        P("log", P("sigmoid", "x"), where=_float("x")),
        lambda m: _neg_softplus(op("neg", m["x"])),
    ),
    # log1p(-sigmoid(x)) -> -softplus(x)       (log(1 - sigmoid(x)) after log1p_neg)
    rule(
        "log1m_sigmoid",
        P("log1p", P("neg", P("sigmoid", "x")), where=_float("x")),
        lambda m: _neg_softplus(m["x"]),
    ),
    # 1 / (1 + exp(-x)) -> sigmoid(x)
    rule(
        "sigmoid",
        P("true_div", C(1), P("add", C(1), P("exp", P("neg", "x")), name="a"), where=_float("x")),
        lambda m: as_dtype_of(op("sigmoid", m["x"]), m.out),
    ),
    # log(exp(z) / d) -> z - log(d)            (log-softmax when d = sum(exp(z)))
    rule(
        "log_softmax_form",
        P("log", P("true_div", P("exp", "z"), "d", where=_float("z"))),
        lambda m: op("sub", m["z"], op("log", m["d"])),
    ),
    # log(softmax(x)) -> log_softmax(x)
    rule("log_softmax", P("log", P("softmax", "x", name="sm")), _log_softmax_op),
    # log(view(softmax(x))) -> view(log(softmax(x)))
    rule(
        "log_through_view",
        P("log", P((SHAPE_OPS, INDEXING), name="v", any_args=True)),
        _log_through_view,
    ),
    # log(sum(exp(x))) -> log(sum(exp(x - max x))) + max x
    rule("logsumexp", P("log", P("sum", P("exp", "x"), name="s")), _logsumexp),
]
