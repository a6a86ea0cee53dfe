"""Building loop bodies, and getting them back as FunctionGraphs.

:func:`build_body` turns the graph a step function returned into a body
that depends only on its placeholders: every sub-expression that does not
depend on a placeholder (shared variables, outer variables, computations on
them, constants too large to inline) becomes an outer non-sequence, so
loop-invariant work runs once, outside the loop.
"""

from __future__ import annotations

from aotgraph.fgraph import FunctionGraph
from aotgraph.graph import Constant, Variable, clone_replace, toposort
from aotgraph.ops.base import Op
from aotgraph.ops.scan import MAX_INLINE_CONSTANT, decode_inner, encode_inner


def _dependents(order, placeholders):
    dep = {v.uid for v in placeholders}
    for node in order:
        if any(v.uid in dep for v in node.inputs):
            dep.update(v.uid for v in node.outputs)
    return dep


def loop_invariants(placeholders, outputs):
    """Variables the body reads that do not depend on ``placeholders`` and
    are not small constants, in first-use order."""
    order = toposort(outputs, stop=placeholders)
    dep = _dependents(order, placeholders)
    found = {}

    def visit(v):
        if v.uid in dep:
            return
        if isinstance(v, Constant) and v.data.size <= MAX_INLINE_CONSTANT:
            return
        found.setdefault(v.uid, v)

    for node in order:
        if any(v.uid in dep for v in node.inputs):
            for v in node.inputs:
                visit(v)
    for v in outputs:
        visit(v)
    return list(found.values())


def build_body(placeholders, outputs):
    """``(encoded body, outer non-sequences)``: the body's inputs are
    ``placeholders`` followed by one new input per outer non-sequence."""
    outer = loop_invariants(placeholders, outputs)
    inner_args = [Variable(v.type, name=v.name) for v in outer]
    body_out = (
        clone_replace(list(outputs), dict(zip(outer, inner_args))) if outer else list(outputs)
    )
    return encode_inner(list(placeholders) + inner_args, body_out), outer


def inner_function_graph(op, name="scan_body") -> FunctionGraph:
    """The body of scan op ``op`` as a FunctionGraph (inputs in the order of
    the op's inner inputs), e.g. to optimize it with ``optimize_graph`` and
    put it back with :func:`replace_inner_graph`.

    >>> import aotgraph as ag, aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> ys, _ = ag.scan(lambda v: v * 2, sequences=x)
    >>> fg = inner_function_graph(ys.owner.op)
    >>> len(fg.inputs), len(fg.outputs)
    (1, 1)
    """
    body = decode_inner(op["inner"])
    return FunctionGraph(name, list(body.inputs), list(body.outputs))


def replace_inner_graph(op, fgraph) -> Op:
    """A scan op like ``op`` whose body is ``fgraph`` (same inputs, outputs
    of the same types), e.g. after optimizing the body."""
    old = decode_inner(op["inner"])
    if len(fgraph.inputs) != len(old.inputs) or len(fgraph.outputs) != len(old.outputs):
        raise ValueError(
            "replace_inner_graph: the new body must have the same number of inputs and outputs"
        )
    for a, b in zip(
        list(fgraph.inputs) + list(fgraph.outputs), list(old.inputs) + list(old.outputs)
    ):
        if a.type.dtype != b.type.dtype or a.type.ndim != b.type.ndim:
            raise ValueError(
                f"replace_inner_graph: body variable {a!r} has type {a.type.short()}, "
                f"expected {b.type.short()}"
            )
    params = dict(op.params)
    params["inner"] = encode_inner(list(fgraph.inputs), list(fgraph.outputs))
    return Op("scan", **params)
