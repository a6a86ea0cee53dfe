"""Fusion: maximal groups of elementwise ops become one ``fused_elementwise``.

A group grows backwards from its last node through producers that are
fusable (single-output elementwise ops without parameters, or ``cast``)
and whose result is read only inside the group, so no value is computed
twice.  Producers of a lower rank or with a broadcast (static length 1)
axis where the group's result is longer stay outside: inside the loop they
would be recomputed for every output element.  A reduction (sum, prod, max,
min, all, any) that is the only reader of a group's result joins it as the
``reduce`` parameter.
"""

from __future__ import annotations

from aotgraph.graph import toposort
from aotgraph.ops.base import ELEMENTWISE, rebuild_node
from aotgraph.ops.reduce import REDUCTION_TABLE
from aotgraph.opt.builders import op
from aotgraph.opt.rewrite import node_label

#: Bounds per group, so the emitted loop stays a reasonable C function.
MAX_STEPS = 64
MAX_INPUTS = 32


def _fusable(node) -> bool:
    if len(node.outputs) != 1 or node.op.name not in ELEMENTWISE:
        return False
    params = set(node.op.params)
    return not params or (node.op.name == "cast" and params == {"dtype"})


def _same_extent(inner, outer) -> bool:
    """``inner``'s result is as large as ``outer``'s on every axis we know."""
    if inner.ndim != outer.ndim:
        return False
    return all(not (a == 1 and b != 1) for a, b in zip(inner.type.shape, outer.type.shape))


class _Graph:
    def __init__(self, roots):
        self.order = toposort(roots)
        self.position = {id(n): i for i, n in enumerate(self.order)}
        self.readers = {}
        for node in self.order:
            for v in node.inputs:
                self.readers.setdefault(v.uid, []).append(node)
        self.root_uids = {v.uid for v in roots}

    def only_readers_in(self, var, members) -> bool:
        if var.uid in self.root_uids:
            return False
        return all(id(r) in members for r in self.readers.get(var.uid, ()))


def _external_inputs(members):
    inside = {v.uid for n in members.values() for v in n.outputs}
    return {v.uid for n in members.values() for v in n.inputs if v.uid not in inside}


def _grow(start, graph, taken):
    """Members (id -> node) of the group ending at ``start``, within
    ``MAX_STEPS`` steps and ``MAX_INPUTS`` external inputs."""
    members = {id(start): start}
    out = start.outputs[0]
    changed = True
    while changed:
        changed = False
        for node in list(members.values()):
            for v in node.inputs:
                p = v.owner
                if p is None or id(p) in members or id(p) in taken or not _fusable(p):
                    continue
                if len(members) >= MAX_STEPS:
                    return members
                if _same_extent(v, out) and graph.only_readers_in(v, members):
                    members[id(p)] = p
                    if len(_external_inputs(members)) > MAX_INPUTS:
                        del members[id(p)]
                        continue
                    changed = True
    return members


def _reduction_reader(node, graph):
    out = node.outputs[0]
    if out.uid in graph.root_uids:
        return None
    readers = graph.readers.get(out.uid, [])
    if len(readers) != 1 or readers[0].op.name not in REDUCTION_TABLE:
        return None
    return readers[0]


def find_groups(graph):
    """``[(nodes in order, reduction node or None)]``, each a fused kernel."""
    taken, groups = set(), []
    for node in reversed(graph.order):
        if id(node) in taken or not _fusable(node):
            continue
        members = _grow(node, graph, taken)
        reduction = _reduction_reader(node, graph)
        if len(members) < 2 and reduction is None:
            continue
        nodes = sorted(members.values(), key=lambda n: graph.position[id(n)])
        taken.update(members)
        groups.append((nodes, reduction))
    return groups


def _fused_node_inputs(nodes, resolve):
    """External inputs in first-use order and the steps reading them."""
    inside = {v.uid: i for i, n in enumerate(nodes) for v in n.outputs}
    inputs, where = [], {}
    for n in nodes:
        for v in n.inputs:
            if v.uid not in inside and v.uid not in where:
                where[v.uid] = len(inputs)
                inputs.append(resolve(v))
    steps = []
    for n in nodes:
        args = tuple(
            len(inputs) + inside[v.uid] if v.uid in inside else where[v.uid] for v in n.inputs
        )
        steps.append((n.op.name, n.outputs[0].dtype, args))
    return inputs, tuple(steps)


def _build_fused(nodes, reduction, resolve):
    inputs, steps = _fused_node_inputs(nodes, resolve)
    if len(inputs) > MAX_INPUTS:
        return None
    params = {"steps": steps}
    if reduction is not None:
        p = reduction.op.params
        params["reduce"] = (reduction.op.name, p["axis"], p["keepdims"])
    return op("fused_elementwise", *inputs, **params)


def fuse_elementwise(roots, record, pass_name="fusion"):
    """The roots of an equivalent graph with elementwise groups fused."""
    graph = _Graph(roots)
    groups = find_groups(graph)
    last = {}
    for nodes, reduction in groups:
        end = reduction or nodes[-1]
        last[id(end)] = (nodes, reduction)
    interior = {id(n) for nodes, _ in groups for n in nodes} - set(last)
    mapping = {}

    def resolve(v):
        return mapping.get(v.uid, v)

    for node in graph.order:
        if id(node) in interior:
            continue
        if id(node) in last:
            nodes, reduction = last[id(node)]
            fused = _build_fused(nodes, reduction, resolve)
            if fused is not None:
                fused.trace = node.outputs[0].trace
                mapping[node.outputs[0].uid] = fused
                record.note_fired(pass_name, "fuse_elementwise", node_label(fused.owner))
                continue
            interior.difference_update(id(n) for n in nodes)
            for n in nodes[:-1] + ([nodes[-1]] if reduction is not None else []):
                _rebuild_into(n, resolve, mapping)
        _rebuild_into(node, resolve, mapping)
    return [resolve(v) for v in roots]


def _rebuild_into(node, resolve, mapping):
    inputs = [resolve(v) for v in node.inputs]
    if all(a is b for a, b in zip(inputs, node.inputs)):
        return
    new = rebuild_node(node, inputs)
    for old, n in zip(node.outputs, new.outputs):
        n.trace = old.trace
        mapping[old.uid] = n
