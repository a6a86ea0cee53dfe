"""Neural-network primitives that need their own kernel for stability.

``softmax`` and ``log_softmax`` are ops (not decompositions) so that the
reference is max-shifted and the optimizer can rewrite ``log(softmax(x))``
into ``log_softmax(x)``.  ``crossentropy_1hot`` is Theano's
``CrossentropyCategorical1Hot``: ``-log(p[i, y[i]])`` for integer class
indices ``y``, with ``crossentropy_1hot_grad`` as its gradient (a matrix
that is zero except at the label positions).
"""

from __future__ import annotations

import numpy as np

from aotgraph.errors import AotgraphTypeError, ShapeError
from aotgraph.graph import Constant
from aotgraph.ops.base import apply1, register_op
from aotgraph.types import TensorType, is_discrete, is_float

# --- softmax and log_softmax ------------------------------------------------


def _softmax_infer(op, types):
    (t,) = types
    if not is_float(t.dtype):
        raise AotgraphTypeError(f"{op.name}: expected a float tensor, got {t.short()}")
    if not 0 <= op["axis"] < t.ndim:
        raise AotgraphTypeError(f"{op.name}: axis {op['axis']} is out of range for ndim {t.ndim}")
    if t.shape[op["axis"]] == 0:
        raise ShapeError(f"{op.name}: the axis {op['axis']} of {t.short()} is empty")
    return [t]


def _shifted(x, axis):
    return x - np.max(x, axis=axis, keepdims=True)


def _softmax_impl(op, x):
    e = np.exp(_shifted(x, op["axis"]))
    return (e / e.sum(axis=op["axis"], keepdims=True)).astype(x.dtype, copy=False)


def _log_softmax_impl(op, x):
    z = _shifted(x, op["axis"])
    return (z - np.log(np.exp(z).sum(axis=op["axis"], keepdims=True))).astype(x.dtype, copy=False)


def _sum_axis(x, axis):
    from aotgraph.ops.reduce import reduce

    return reduce("sum", x, axis, True)


def _softmax_vjp(node, grads):
    (g,), y, axis = grads, node.outputs[0], node.op["axis"]
    return [None if g is None else y * (g - _sum_axis(g * y, axis))]


def _softmax_jvp(node, tangents):
    (t,), y, axis = tangents, node.outputs[0], node.op["axis"]
    return [None if t is None else y * (t - _sum_axis(t * y, axis))]


def _log_softmax_vjp(node, grads):
    from aotgraph.ops.elemwise import elementwise

    (g,), y, axis = grads, node.outputs[0], node.op["axis"]
    return [None if g is None else g - elementwise("exp", y) * _sum_axis(g, axis)]


def _log_softmax_jvp(node, tangents):
    from aotgraph.ops.elemwise import elementwise

    (t,), y, axis = tangents, node.outputs[0], node.op["axis"]
    return [None if t is None else t - _sum_axis(elementwise("exp", y) * t, axis)]


register_op(
    "softmax",
    infer=_softmax_infer,
    impl=_softmax_impl,
    vjp=_softmax_vjp,
    jvp=_softmax_jvp,
    n_inputs=1,
    doc="exp(x - max) / sum(exp(x - max)) along params['axis']",
)
register_op(
    "log_softmax",
    infer=_softmax_infer,
    impl=_log_softmax_impl,
    vjp=_log_softmax_vjp,
    jvp=_log_softmax_jvp,
    n_inputs=1,
    doc="(x - max) - log(sum(exp(x - max))) along params['axis']",
)


def softmax_op(name, x, axis):
    """Apply ``softmax`` or ``log_softmax`` along ``axis`` of float ``x``."""
    from aotgraph.ops.reduce import normalize_axis

    if x.ndim == 0:
        raise AotgraphTypeError(f"{name}: expected a tensor with at least one axis, got a scalar")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise AotgraphTypeError(f"{name}: axis must be an int, got {axis!r}")
    (axis,) = normalize_axis(axis, x.ndim, name)
    return apply1(name, [x], axis=axis)


# --- categorical crossentropy with integer labels ---------------------------


def _check_labels(where, p_shape, y):
    n, k = p_shape
    if y.shape != (n,):
        raise ValueError(f"{where}: {n} rows of probabilities but {y.shape[0]} labels")
    if y.size and (y.min() < 0 or y.max() >= k):
        bad = y[(y < 0) | (y >= k)][0]
        raise IndexError(f"{where}: label {bad} is out of range for {k} classes")


def _xent_infer(op, types):
    p, y = types
    if p.ndim != 2 or not is_float(p.dtype):
        raise AotgraphTypeError(
            f"crossentropy_1hot: coding_dist must be a float matrix, got {p.short()}"
        )
    if y.ndim != 1 or not is_discrete(y.dtype) or y.dtype == "bool":
        raise AotgraphTypeError(
            f"crossentropy_1hot: true_dist must be an integer vector of class indices, "
            f"got {y.short()}"
        )
    if None not in (p.shape[0], y.shape[0]) and p.shape[0] != y.shape[0]:
        raise ShapeError(
            f"crossentropy_1hot: {p.shape[0]} rows of probabilities but {y.shape[0]} labels"
        )
    return [TensorType(p.dtype, (p.shape[0] if p.shape[0] is not None else y.shape[0],))]


def _xent_impl(op, p, y):
    _check_labels("crossentropy_1hot", p.shape, y)
    with np.errstate(divide="ignore"):
        return -np.log(p[np.arange(p.shape[0]), y])


def _one(p):
    return Constant(np.ones((), p.dtype))


def _xent_jvp(node, tangents):
    from aotgraph.ops.reduce import reduce

    tp, (p, y) = tangents[0], node.inputs
    if tp is None:
        return [None]
    return [reduce("sum", tp * crossentropy_1hot_grad(_one(p), p, y), (1,), False)]


register_op(
    "crossentropy_1hot",
    infer=_xent_infer,
    impl=_xent_impl,
    vjp=lambda node, gs: [
        None if gs[0] is None else crossentropy_1hot_grad(gs[0], *node.inputs),
        None,
    ],
    jvp=_xent_jvp,
    n_inputs=2,
    doc="-log(p[i, y[i]]) for a float matrix p and integer labels y",
)


def _xent_grad_infer(op, types):
    g, p, y = types
    if g.ndim > 1 or g.dtype != p.dtype:
        raise AotgraphTypeError(
            f"crossentropy_1hot_grad: the output gradient must be a {p.dtype} vector or "
            f"scalar, got {g.short()}"
        )
    _xent_infer(op, [p, y])
    return [p]


def _xent_grad_impl(op, g, p, y):
    _check_labels("crossentropy_1hot_grad", p.shape, y)
    rows = np.arange(p.shape[0])
    out = np.zeros_like(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[rows, y] = -np.broadcast_to(g, rows.shape) / p[rows, y]
    return out


def _xent_grad_vjp(node, grads):
    """G = grad(g, p, y) is -g/p at the labels: dG/dg = grad(1, p, y) and
    dG/dp = g/p**2 = G * grad(1, p, y) there, zero elsewhere."""
    from aotgraph.gradient import unbroadcast
    from aotgraph.ops.reduce import reduce

    (h,), (g, p, y) = grads, node.inputs
    if h is None:
        return [None, None, None]
    unit = crossentropy_1hot_grad(_one(p), p, y)
    gg = unbroadcast(reduce("sum", h * unit, (1,), False), g)
    return [gg, h * node.outputs[0] * unit, None]


register_op(
    "crossentropy_1hot_grad",
    infer=_xent_grad_infer,
    impl=_xent_grad_impl,
    vjp=_xent_grad_vjp,
    n_inputs=3,
    doc="gradient of crossentropy_1hot: -g[i] / p[i, y[i]] at (i, y[i]), zero elsewhere",
)


def crossentropy_1hot(p, y):
    """``-log(p[arange(n), y])`` (the op behind ``categorical_crossentropy``)."""
    return apply1("crossentropy_1hot", [p, y])


def crossentropy_1hot_grad(g, p, y):
    return apply1("crossentropy_1hot_grad", [g, p, y])
