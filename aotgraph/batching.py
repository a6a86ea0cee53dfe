"""Adding a leading batch axis to a graph (what ``jacobian`` vectorizes with).

:func:`batch_graph` rebuilds the part of a graph that depends on some
variables, given *batched* replacements for them (each with an extra
leading axis of one common length), so that the result computes every
batch element at once: batch element ``b`` of each output is what the
original graph gives for batch element ``b`` of the replacements.  Nodes
that do not depend on the replaced variables are shared, not copied.

Each op needs a batching rule: elementwise ops get one generically; the
rules for the others (reductions, ``sum_to_like``, ``alloc``, shape ops,
``matmul``, softmax, ...) are in :data:`BATCH_RULES`.  An op without a rule
raises :class:`NoBatchRule` (``jacobian`` then falls back to building its
rows one by one).
"""

from __future__ import annotations

from aotgraph.errors import GradientError
from aotgraph.graph import Constant, toposort
from aotgraph.ops.base import ELEMENTWISE, apply1
from aotgraph.ops.shape import alloc, dims_of, dimshuffle


class NoBatchRule(GradientError):
    """An op on the batched path has no batching rule."""


def _pad_after_batch(xb, n_new):
    """Insert ``n_new`` length-1 axes right after the batch axis."""
    if n_new <= 0:
        return xb
    return dimshuffle(xb, 0, *["x"] * n_new, *range(1, xb.ndim))


def _rebuild(node, inputs):
    return apply1(node.op.name, inputs, **node.op.params)


def _batch_elementwise(node, ins, size):
    out_ndim = node.outputs[0].ndim
    args = [
        v if b is None else _pad_after_batch(b, out_ndim - v.ndim) for v, b in zip(node.inputs, ins)
    ]
    return [_rebuild(node, args)]


def _batch_reduction(node, ins, size):
    (xb,) = ins
    axes = tuple(a + 1 for a in node.op["axis"])
    return [apply1(node.op.name, [xb], axis=axes, keepdims=node.op["keepdims"])]


def _batch_axis_param(node, ins, size):
    """softmax, log_softmax, squeeze: the op's ``axis`` moves by one."""
    params = dict(node.op.params)
    axis = params["axis"]
    params["axis"] = tuple(a + 1 for a in axis) if isinstance(axis, tuple) else axis + 1
    return [apply1(node.op.name, [ins[0]], **params)]


def _batch_dimshuffle(node, ins, size):
    pattern = node.op["pattern"]
    return [dimshuffle(ins[0], 0, *[p if p == "x" else p + 1 for p in pattern])]


def _dims_from_pattern(node):
    """A reshape/alloc node's target lengths: ints, -1, or its symbolic inputs."""
    symbolic = iter(node.inputs[1:])
    return [next(symbolic) if d is None else d for d in node.op["shape"]]


def _batch_reshape(node, ins, size):
    from aotgraph.ops.shape import reshape

    if ins[0] is None:
        raise NoBatchRule("batching: reshape with a batched shape input")
    return [reshape(ins[0], [size, *_dims_from_pattern(node)])]


def _batch_alloc(node, ins, size):
    if ins[0] is None:
        raise NoBatchRule("batching: alloc with a batched shape input")
    dims = _dims_from_pattern(node)
    return [alloc(_pad_after_batch(ins[0], len(dims) - node.inputs[0].ndim), [size, *dims])]


def _batch_sum_to_like(node, ins, size):
    """For each batch element, ``g[b]`` summed to ``like``'s shape: sum the
    leading extra axes (after the batch axis), then the axes where ``like``
    has length 1 (statically, or at run time through a batched stand-in of
    ``like``'s shape)."""
    from aotgraph.ops.reduce import reduce, sum_to_like

    gb, likeb = ins
    g, like = node.inputs
    if gb is None:
        raise NoBatchRule("batching: sum_to_like with only its shape input batched")
    lead = g.ndim - like.ndim
    h = reduce("sum", gb, tuple(range(1, lead + 1)), False) if lead else gb
    if None not in like.type.shape:
        axes = tuple(
            i + 1 for i, d in enumerate(like.type.shape) if d == 1 and h.type.shape[i + 1] != 1
        )
        return [reduce("sum", h, axes, True) if axes else h]
    if likeb is None:
        likeb = alloc(Constant(0, dtype=like.dtype), [size, *dims_of(like)])
    return [sum_to_like(h, likeb)]


def _matmul_operand(x, xb, is_left, out_batch):
    if xb is None:
        return x
    if x.ndim == 1:  # np.matmul's promotion of a 1-d operand, made explicit
        xb = dimshuffle(xb, 0, "x", 1) if is_left else dimshuffle(xb, 0, 1, "x")
    return _pad_after_batch(xb, out_batch - max(x.ndim - 2, 0))


def _batch_matmul(node, ins, size):
    from aotgraph.ops.linalg import matmul

    (a, b), (ab, bb) = node.inputs, ins
    out_batch = max(a.ndim - 2, b.ndim - 2, 0)
    left = _matmul_operand(a, ab, True, out_batch)
    right = _matmul_operand(b, bb, False, out_batch)
    out = matmul(left, right)
    drop = set()
    if ab is not None and a.ndim == 1:
        drop.add(out.ndim - 2 if right.ndim > 1 else out.ndim - 1)
    if bb is not None and b.ndim == 1:
        drop.add(out.ndim - 1)
    return [dimshuffle(out, *[i for i in range(out.ndim) if i not in drop]) if drop else out]


def _batch_xent_grad(node, ins, size):
    """crossentropy_1hot_grad is linear in its first input g:
    G(g) = g[:, None] * G(1)."""
    from aotgraph.ops.nnet import crossentropy_1hot_grad

    gb, pb, yb = ins
    g, p, y = node.inputs
    if pb is not None or yb is not None:
        raise NoBatchRule("batching: crossentropy_1hot_grad with batched probabilities")
    unit = crossentropy_1hot_grad(Constant(1, dtype=p.dtype), p, y)
    column = dimshuffle(_pad_after_batch(gb, 1 - g.ndim), 0, 1, "x")  # (size, n or 1, 1)
    return [column * unit]


_FULL_SLICE = ("slice", None, None, None)


def _batched_index(node, ins, first_index_input):
    """The node's index with a leading ``:`` for the batch axis.  Advanced
    entries must be adjacent: numpy moves separated ones to the front."""
    if any(b is not None for b in ins[first_index_input:]):
        raise NoBatchRule(f"batching: {node.op.name} with a batched index")
    idx = tuple(node.op["idx"])
    advanced = [i for i, e in enumerate(idx) if e[0] in ("array", "mask")]
    if advanced and advanced[-1] - advanced[0] + 1 != len(advanced):
        raise NoBatchRule(f"batching: {node.op.name} with separated advanced indexes")
    return (_FULL_SLICE,) + idx


def _batch_subtensor(node, ins, size):
    idx = _batched_index(node, ins, 1)
    return [apply1(node.op.name, [ins[0], *node.inputs[1:]], idx=idx)]


def _batch_inc_subtensor(node, ins, size):
    """x[idx] += y per batch element: both made batched (x by copying it
    along the batch axis when it is not), the index gets a leading ``:``."""
    from aotgraph.ops.index import index_shape

    (x, y), (xb, yb) = node.inputs[:2], ins[:2]
    idx = _batched_index(node, ins, 2)
    if xb is None:
        xb = alloc(x, [size, *dims_of(x)])
    if yb is not None:
        in_types = [v.type for v in node.inputs[2:]]
        sub_ndim = len(index_shape(node.op.name, x.type, node.op["idx"], in_types))
        yb = _pad_after_batch(yb, sub_ndim - y.ndim)
    return [
        apply1(
            node.op.name,
            [xb, y if yb is None else yb, *node.inputs[2:]],
            idx=idx,
            set=node.op["set"],
        )
    ]


BATCH_RULES = {
    "subtensor": _batch_subtensor,
    "adv_subtensor": _batch_subtensor,
    "inc_subtensor": _batch_inc_subtensor,
    "adv_inc_subtensor": _batch_inc_subtensor,
    **{name: _batch_reduction for name in ("sum", "prod", "max", "min", "all", "any")},
    "softmax": _batch_axis_param,
    "log_softmax": _batch_axis_param,
    "squeeze": _batch_axis_param,
    "dimshuffle": _batch_dimshuffle,
    "reshape": _batch_reshape,
    "alloc": _batch_alloc,
    "sum_to_like": _batch_sum_to_like,
    "matmul": _batch_matmul,
    "crossentropy_1hot_grad": _batch_xent_grad,
    "disconnected_grad": lambda node, ins, size: [_rebuild(node, ins)],
}


def batch_graph(outputs, replacements, size):
    """``outputs`` recomputed with ``replacements`` (variable → batched
    variable with a leading axis of length ``size``, an int or an integer
    scalar).  Returns, per output, its batched version, or ``None`` when it
    does not depend on the replaced variables.

    >>> import aotgraph.tensor as at
    >>> x, xs = at.dvector("x"), at.dmatrix("xs")
    >>> (ys,) = batch_graph([x * x.sum()], {x: xs}, at.shape_i(xs, 0))
    >>> ys.eval({xs: [[1.0, 2.0], [3.0, 4.0]]})
    array([[ 3.,  6.],
           [21., 28.]])
    """
    batched = {v.uid: b for v, b in replacements.items()}
    for node in toposort(outputs, stop=list(replacements)):
        ins = [batched.get(v.uid) for v in node.inputs]
        if all(b is None for b in ins):
            continue
        rule = BATCH_RULES.get(node.op.name)
        if rule is None and node.op.name in ELEMENTWISE:
            rule = _batch_elementwise
        if rule is None:
            raise NoBatchRule(f"batching: op {node.op.name} has no batching rule")
        for v, b in zip(node.outputs, rule(node, ins, size)):
            if b is None:
                continue
            if b.ndim != v.ndim + 1:
                raise NoBatchRule(
                    f"internal error: the batching rule of {node.op.name} gave ndim {b.ndim} "
                    f"for an output of ndim {v.ndim}"
                )
            batched[v.uid] = b
    return [batched.get(o.uid) for o in outputs]
