"""Symbolic shapes: which run-time lengths are provably equal.

Each dimension of a variable gets a *symbol*: an int for a static length,
else a hashable token.  Two dimensions with the same token have the same
length at run time.  Unknown input lengths get ``("in", uid, axis)``; a
broadcast of two different unknown lengths gets a fresh token.  This is
what lets the optimizer drop ``sum_to_like`` and ``alloc`` nodes of
gradient graphs whose shapes are only known to be equal, not static.

>>> import aotgraph.tensor as at
>>> x = at.dmatrix("x")
>>> shapes = ShapeAnalysis()
>>> shapes.dims(at.exp(x)) == shapes.dims(x * 2.0)
True
"""

from __future__ import annotations

from aotgraph.ops.base import ELEMENTWISE
from aotgraph.ops.reduce import REDUCTION_TABLE


class ShapeAnalysis:
    """Memoized symbolic dims of variables (graphs are immutable, so a
    variable's symbols never change)."""

    def __init__(self):
        self.memo = {}
        self.inputs = {}  # uid -> owner-less variable, for ("in", uid, axis)

    def dims(self, var) -> tuple:
        stack = [var]
        while stack:
            v = stack[-1]
            if v.uid in self.memo:
                stack.pop()
                continue
            pending = (
                [] if v.owner is None else [i for i in v.owner.inputs if i.uid not in self.memo]
            )
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            self._compute(v)
        return self.memo[var.uid]

    def same_shape(self, a, b) -> bool:
        return a.ndim == b.ndim and self.dims(a) == self.dims(b)

    def _compute(self, var):
        node = var.owner
        if node is None:
            self.memo[var.uid] = _own_dims(var)
            self.inputs[var.uid] = var
            return
        rule = _RULES.get(node.op.name)
        if rule is None and node.op.name in ELEMENTWISE:
            rule = _broadcast_rule
        if rule is None and node.op.name in REDUCTION_TABLE:
            rule = _reduce_rule
        dims = rule(self, node) if rule is not None and len(node.outputs) == 1 else None
        for out in node.outputs:
            if dims is None or len(dims) != out.ndim:
                result = _own_dims(out, ("out",))
            else:
                # static knowledge of the output type wins
                result = tuple(s if s is not None else d for s, d in zip(out.type.shape, dims))
            self.memo[out.uid] = result

    def length_source(self, var, axis):
        """``(input variable, axis)`` whose length ``var`` has on ``axis``,
        an int when static, or None."""
        token = self.dims(var)[axis]
        if isinstance(token, int):
            return token
        if token[0] == "in" and token[1] in self.inputs:
            return self.inputs[token[1]], token[2]
        return None

    def scalar_value(self, var):
        """The symbol an int scalar stands for (``shape_i`` results)."""
        node = var.owner
        if node is not None and node.op.name == "shape_i":
            return self.dims(node.inputs[0])[node.op["axis"]]
        from aotgraph.graph import Constant

        if isinstance(var, Constant) and var.ndim == 0:
            return int(var.data)
        return ("val", var.uid)


def _own_dims(var, kind=("in",)):
    return tuple(
        d if d is not None else (*kind, var.uid, axis) for axis, d in enumerate(var.type.shape)
    )


def broadcast_symbols(shapes, out_uid):
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for axis in range(ndim):
        found = set()
        for s in shapes:
            pos = axis - (ndim - len(s))
            if pos >= 0 and s[pos] != 1:
                found.add(s[pos])
        ints = {d for d in found if isinstance(d, int)}
        if ints:
            result.append(ints.pop())
        elif not found:
            result.append(1)
        elif len(found) == 1:
            result.append(found.pop())
        else:
            result.append(("bcast", out_uid, axis))
    return tuple(result)


def _broadcast_rule(an, node):
    return broadcast_symbols([an.dims(v) for v in node.inputs], node.outputs[0].uid)


def _reduce_rule(an, node):
    dims, axes = an.dims(node.inputs[0]), node.op["axis"]
    if node.op["keepdims"]:
        return tuple(1 if i in axes else d for i, d in enumerate(dims))
    return tuple(d for i, d in enumerate(dims) if i not in axes)


def _dimshuffle_rule(an, node):
    dims = an.dims(node.inputs[0])
    return tuple(1 if p == "x" else dims[p] for p in node.op["pattern"])


def _matmul_rule(an, node):
    a, b = node.inputs
    if a.ndim != 2 or b.ndim != 2:
        return None
    return (an.dims(a)[0], an.dims(b)[1])


def _gemm_rule(an, node):
    a, b = (an.dims(v) for v in node.inputs[:2])
    m = a[1] if node.op["trans_a"] else a[0]
    n = b[0] if node.op["trans_b"] else b[1]
    shapes = [(m, n)] + [an.dims(c) for c in node.inputs[2:]]
    return broadcast_symbols(shapes, node.outputs[0].uid)


def _alloc_rule(an, node):
    value, dim_inputs = node.inputs[0], list(node.inputs[1:])
    target = []
    for d in node.op["shape"]:
        target.append(d if d is not None else an.scalar_value(dim_inputs.pop(0)))
    del value  # numpy's broadcast_to: the result has exactly the target shape
    return tuple(target)


def _fused_rule(an, node):
    if node.op.get("reduce") is not None:
        return None
    return _broadcast_rule(an, node)


_RULES = {
    "dimshuffle": _dimshuffle_rule,
    "matmul": _matmul_rule,
    "gemm": _gemm_rule,
    "alloc": _alloc_rule,
    "sum_to_like": lambda an, node: an.dims(node.inputs[1]),
    "fused_elementwise": _fused_rule,
    "disconnected_grad": lambda an, node: an.dims(node.inputs[0]),
    "softmax": lambda an, node: an.dims(node.inputs[0]),
    "log_softmax": lambda an, node: an.dims(node.inputs[0]),
    "crossentropy_1hot_grad": lambda an, node: an.dims(node.inputs[1]),
}
