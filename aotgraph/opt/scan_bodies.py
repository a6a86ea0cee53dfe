"""Optimizing the bodies of ``scan`` nodes with the same pipeline.

A body is decoded, optimized as a function of its inner inputs, and
encoded again; the scan node is rebuilt with the new body when every body
output keeps its exact type (the loop's type rule depends on them).
Folding inside bodies is capped at the size scan inlines constants
(larger constants belong outside the body, as outer non-sequences).
"""

from __future__ import annotations

from aotgraph.errors import AotgraphError
from aotgraph.fgraph import FunctionGraph
from aotgraph.graph import toposort
from aotgraph.ops.base import OPS, apply_op, rebuild_node


def _optimized_body(inner, record, pass_name):
    from aotgraph.ops.scan import decode_inner, encode_inner
    from aotgraph.opt.pipeline import body_passes, optimize
    from aotgraph.opt.record import OptRecord

    body = decode_inner(inner)
    fgraph = FunctionGraph("scan_body", list(body.inputs), list(body.outputs))
    sub = OptRecord()
    optimized = optimize(fgraph, sub, passes=body_passes())
    new_inner = encode_inner(list(optimized.inputs), list(optimized.outputs))
    if new_inner[0] != inner[0] or _out_types(new_inner) != _out_types(inner):
        return inner
    for p, rule, label in sub.fired:
        record.note_fired(f"{pass_name}/{p}", rule, label)
    record.rejected.extend((f"{pass_name}/{p}", r, why) for p, r, why in sub.rejected)
    return new_inner


def _out_types(inner):
    in_codes, consts, nodes, outs = inner
    types = list(in_codes) + [(d, tuple(s)) for d, s, _ in consts]
    for _, _, _, out_types in nodes:
        types.extend((d, tuple(s)) for d, s in out_types)
    return tuple(types[r] for r in outs)


def optimize_scan_bodies(roots, record, pass_name="scan_bodies"):
    """Roots of an equivalent graph whose scan bodies are optimized."""
    if "scan" not in OPS:
        return roots
    mapping = {}
    for node in toposort(roots):
        inputs = [mapping.get(v.uid, v) for v in node.inputs]
        new = node
        if node.op.name == "scan":
            inner = _optimized_body(node.op["inner"], record, pass_name)
            if inner != node.op["inner"] or any(a is not b for a, b in zip(inputs, node.inputs)):
                try:
                    new = apply_op("scan", inputs, **{**node.op.params, "inner": inner})
                except AotgraphError:
                    new = rebuild_node(node, inputs)
        elif any(a is not b for a, b in zip(inputs, node.inputs)):
            new = rebuild_node(node, inputs)
        for old, n in zip(node.outputs, new.outputs):
            if n is not old:
                n.trace = old.trace
                mapping[old.uid] = n
    return [mapping.get(v.uid, v) for v in roots]
