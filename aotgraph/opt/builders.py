"""Small helpers the rule tables build replacements with.

Replacements are built from ops directly (no NEP 50 weak-scalar handling):
constants are made in the dtype they must have, so a rewrite never changes
a result's dtype by accident (the driver also rejects one that does).
"""

from __future__ import annotations

import numpy as np

from aotgraph.graph import Constant
from aotgraph.ops.base import OPS, apply1
from aotgraph.types import broadcast_static, is_float


def op(name, *inputs, **params):
    """The output of op ``name`` applied to ``inputs``."""
    return apply1(name, list(inputs), **params)


def const_like(value, like, shape=()):
    """A constant ``value`` in ``like``'s dtype (a scalar unless ``shape``)."""
    return Constant(np.full(shape, value, dtype=like.dtype))


def as_dtype_of(var, like):
    """``var`` cast to ``like``'s dtype when they differ."""
    if var.dtype == like.dtype:
        return var
    return apply1("cast", [var], dtype=like.dtype)


def has_op(*names) -> bool:
    return all(n in OPS for n in names)


def constant_value(var):
    """The single value of a constant splat (all elements equal), else None."""
    if not isinstance(var, Constant) or var.data.size == 0:
        return None
    first = var.data.flat[0]
    if var.data.size > 1 and not np.all(var.data == first):
        return None
    return first.item()


def is_float_var(var) -> bool:
    return is_float(var.dtype)


def determines_shape(node, keep) -> bool:
    """Whether input ``keep`` alone has the output's shape: the other inputs
    cannot enlarge any axis by broadcasting (static proof)."""
    others = [v for i, v in enumerate(node.inputs) if i != keep]
    return covers(node.inputs[keep], others, node.outputs[0].type.shape)


def covers(kept, others, out_shape) -> bool:
    """Whether ``kept`` has shape ``out_shape`` at run time for sure when
    broadcast with ``others``: on each axis it has that static length (not
    1), or no other operand is longer than 1 there."""
    if kept.ndim != len(out_shape):
        return False
    ndim = len(out_shape)
    for axis in range(ndim):
        k = kept.type.shape[axis]
        if k is not None and k == out_shape[axis] and k != 1:
            continue
        for other in others:
            pos = axis - (ndim - other.ndim)
            if pos >= 0 and other.type.shape[pos] != 1:
                return False
    return True


def broadcast_against(a, others, shapes=None):
    """``a`` broadcast against ``others``: ``a`` itself when the static (or,
    given a :class:`~aotgraph.opt.shapes.ShapeAnalysis`, symbolic) shapes
    prove that changes nothing, else ``switch(True, a, other)`` (numpy's
    ``where`` broadcasts; no extra op needed)."""
    for other in others:
        shape = broadcast_static([a.type.shape, other.type.shape])
        if covers(a, [other], shape):
            continue
        if shapes is not None and a.ndim >= other.ndim and _symbolic_covers(shapes, a, other):
            continue
        a = apply1("switch", [Constant(True), a, other])
    return a


def _symbolic_covers(shapes, a, other):
    da, do = shapes.dims(a), shapes.dims(other)
    lead = a.ndim - other.ndim
    return all(o == 1 or o == d for d, o in zip(da[lead:], do))


def keep(m, name):
    """The bound input ``name`` as the whole result of ``m.node`` when the
    other inputs provably do not broadcast it (cast to the output dtype),
    else None."""
    var = m[name]
    for i, v in enumerate(m.node.inputs):
        if v is var and determines_shape(m.node, i):
            return as_dtype_of(var, m.out)
    if m.ctx is not None and m.ctx.shapes.same_shape(var, m.out):
        return as_dtype_of(var, m.out)
    return None


def same_static_shape(a, b) -> bool:
    """Fully static and equal shapes."""
    return None not in a.type.shape and a.type.shape == b.type.shape


def broadcast_shape(*vars_):
    return broadcast_static([v.type.shape for v in vars_])


def single_owner(var, name=None):
    """``var``'s producer if it is a single-output node (of op ``name``)."""
    node = var.owner
    if node is None or len(node.outputs) != 1:
        return None
    if name is not None and node.op.name != name:
        return None
    return node
