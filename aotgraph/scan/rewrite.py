"""Graph rewrites of scan nodes, for the optimizer pipeline.

- :func:`optimize_scan_bodies`: optimize each loop's body as its own graph;
- :func:`keep_last_values`: a loop output read only as ``out[-1]`` keeps only
  its last value instead of the full history (Theano's ``scan_save_mem``).

Both map a list of root variables to equivalent roots, like the passes of
:mod:`aotgraph.opt.pipeline`; :func:`optimize_scans` runs both.
"""

from __future__ import annotations

from aotgraph.graph import clients, toposort
from aotgraph.ops.base import apply_op, rebuild_node
from aotgraph.ops.scan import Layout
from aotgraph.scan.inner import inner_function_graph, replace_inner_graph


def optimize_scan_bodies(roots, optimize=None):
    """``roots`` (a list of variables) with the body of every scan node
    rewritten by ``optimize`` (a FunctionGraph -> FunctionGraph function,
    default :func:`aotgraph.opt.optimize_graph`, which reaches nested loops
    through this same function when the pipeline calls it).  Usable as an
    optimizer pass: ``optimize_scan_bodies(fgraph.all_outputs())``."""
    if optimize is None:
        from aotgraph.opt import optimize_graph as optimize
    mapping = {}
    for node in toposort(roots):
        inputs = [mapping.get(v.uid, v) for v in node.inputs]
        if node.op.name == "scan":
            body = optimize(inner_function_graph(node.op))
            op = replace_inner_graph(node.op, body)
            new = apply_op("scan", inputs, **op.params)
        elif any(a is not b for a, b in zip(inputs, node.inputs)):
            new = rebuild_node(node, inputs)
        else:
            continue
        mapping.update((old.uid, v) for old, v in zip(node.outputs, new.outputs))
    return [mapping.get(v.uid, v) for v in roots]


def _last_index(node):
    """Whether ``node`` is ``x[-1]`` on the first axis."""
    return node.op.name == "subtensor" and tuple(node.op.params.get("idx", ())) == (("int", -1),)


def _readers_of_last(node, uses, root_ids):
    """Output index -> the ``x[-1]`` nodes reading it, for each history output
    of scan ``node`` that nothing else reads."""
    lay = Layout(node.op)
    stores = [s.store for s in lay.states] + list(lay.nits)
    found = {}
    for k, store in enumerate(stores):
        out = node.outputs[k]
        readers = uses.get(out.uid, [])
        if store != "all" or out.uid in root_ids or not readers:
            continue
        if all(i == 0 and _last_index(reader) for reader, i in readers):
            found[k] = [reader for reader, _ in readers]
    return found


def keep_last_values(roots):
    """``roots`` with every loop history that is only read as ``out[-1]``
    stored as its last value alone (no history buffer).  A loop that runs 0
    steps then yields the initial state where ``out[-1]`` would have raised."""
    uses, root_ids = clients(roots), {v.uid for v in roots}
    mapping = {}
    for node in toposort(roots):
        if all(v.uid in mapping for v in node.outputs):
            continue
        inputs = [mapping.get(v.uid, v) for v in node.inputs]
        found = _readers_of_last(node, uses, root_ids) if node.op.name == "scan" else {}
        if found:
            lay = Layout(node.op)
            params = dict(node.op.params)
            n_states = len(lay.states)
            params["states"] = tuple((s.taps, "last" if k in found else s.store)
                                     for k, s in enumerate(lay.states))
            params["nits"] = tuple("last" if n_states + m in found else store
                                   for m, store in enumerate(lay.nits))
            new = apply_op("scan", inputs, **params)
            for k, readers in found.items():
                mapping.update((r.outputs[0].uid, new.outputs[k]) for r in readers)
        elif any(a is not b for a, b in zip(inputs, node.inputs)):
            new = rebuild_node(node, inputs)
        else:
            continue
        mapping.update((old.uid, v) for old, v in zip(node.outputs, new.outputs))
    return [mapping.get(v.uid, v) for v in roots]


def optimize_scans(roots, optimize=None):
    """:func:`optimize_scan_bodies` then :func:`keep_last_values`."""
    return keep_last_values(optimize_scan_bodies(roots, optimize))
