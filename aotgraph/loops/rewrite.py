"""Graph rewrites of scan nodes (bodies are optimized by the pipeline's
``scan_bodies`` pass, :mod:`aotgraph.opt.scan_bodies`).

:func:`keep_last_values`: a loop output read only as ``out[-1]`` keeps only
its last value instead of the full history (Theano's ``scan_save_mem``).
It maps a list of root variables to equivalent roots, like the passes of
:mod:`aotgraph.opt.pipeline`.
"""

from __future__ import annotations

from aotgraph.graph import clients, toposort
from aotgraph.ops.base import apply_op, rebuild_node
from aotgraph.ops.scan import Layout


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


def keep_last_values(roots, record=None, pass_name="scan_save_memory"):
    """``roots`` with every loop history that is only read as ``out[-1]``
    stored as its last value alone (no history buffer).  A loop that runs 0
    steps then yields the initial state where ``out[-1]`` would have raised.
    With an :class:`~aotgraph.opt.record.OptRecord`, each change is noted
    (so it plugs into the pipeline as ``(pass_name, keep_last_values)``)."""
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
            params["states"] = tuple(
                (s.taps, "last" if k in found else s.store) for k, s in enumerate(lay.states)
            )
            params["nits"] = tuple(
                "last" if n_states + m in found else store for m, store in enumerate(lay.nits)
            )
            new = apply_op("scan", inputs, **params)
            if record is not None:
                record.note_fired(pass_name, "keep_last_values", f"outputs {sorted(found)}")
            for k, readers in found.items():
                mapping.update((r.outputs[0].uid, new.outputs[k]) for r in readers)
        elif any(a is not b for a, b in zip(inputs, node.inputs)):
            new = rebuild_node(node, inputs)
        else:
            continue
        mapping.update((old.uid, v) for old, v in zip(node.outputs, new.outputs))
    return [mapping.get(v.uid, v) for v in roots]
