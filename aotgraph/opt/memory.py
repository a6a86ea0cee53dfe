"""Memory planning hints for the emitters: ``plan_buffers(fgraph)``.

The plan names values by key: ``"in<k>"`` for input ``k``, ``"sh<k>"`` for
shared variable ``k`` of ``fgraph.shared_inputs()``, ``"c<k>"`` for the
``k``-th distinct constant in execution order, ``"n<i>"`` (or
``"n<i>.<j>"`` for output ``j`` of a multi-output node) for node ``i`` of
the execution order ``toposort(fgraph.all_outputs())``.  The result is
JSON-friendly; CONTRIBUTING.md documents it for the emitters.

Shape and indexing ops may return views: their result is treated as the
same buffer as their data input, so a buffer is dead only when no view of
it is read later, and nothing is overwritten through a view.

>>> import aotgraph as ag, aotgraph.tensor as at
>>> from aotgraph.fgraph import make_function_graph
>>> x = at.dvector("x")
>>> plan = plan_buffers(make_function_graph("f", [x], at.exp(x) + 1))
>>> plan["order"], plan["inplace"]
(['n0', 'n1'], {'n1': 0})
"""

from __future__ import annotations

from aotgraph.graph import Constant, toposort
from aotgraph.ops.base import ELEMENTWISE, INDEXING, SHAPE_OPS
from aotgraph.opt.builders import covers


def _keys(fgraph, order):
    keys = {}
    for k, v in enumerate(fgraph.inputs):
        keys[v.uid] = f"in{k}"
    for k, v in enumerate(fgraph.shared_inputs()):
        keys[v.uid] = f"sh{k}"
    n_const = 0
    for i, node in enumerate(order):
        for v in node.inputs:
            if isinstance(v, Constant) and v.uid not in keys:
                keys[v.uid] = f"c{n_const}"
                n_const += 1
        for j, v in enumerate(node.outputs):
            keys[v.uid] = f"n{i}" if len(node.outputs) == 1 else f"n{i}.{j}"
    return keys


class _Buffers:
    """Which values share memory (views) and when each buffer dies."""

    def __init__(self, fgraph, order):
        self.root = {}
        self.last = {}
        for node in order:
            view = node.op.name in SHAPE_OPS or node.op.name in INDEXING
            for v in node.outputs:
                self.root[v.uid] = self.of(node.inputs[0]) if view and node.inputs else v.uid
        for i, node in enumerate(order):
            for v in node.inputs:
                self.last[self.of(v)] = i
        for v in fgraph.all_outputs():
            self.last[self.of(v)] = len(order)  # function results live to the end

    def of(self, var):
        return self.root.get(var.uid, var.uid)

    def dies_at(self, var, i) -> bool:
        return self.last.get(self.of(var)) == i


def _overwritable_inputs(node, buffers):
    """Input positions whose buffer can hold the output, element for
    element, while the node runs (each element read before it is written,
    no other operand looking at the same memory)."""
    out = node.outputs[0]
    if len(node.outputs) != 1:
        return []
    name = node.op.name
    if name in ELEMENTWISE or (name == "fused_elementwise" and node.op.get("reduce") is None):
        candidates = range(len(node.inputs))
    elif name == "gemm" and len(node.inputs) == 3:
        candidates = [2]  # BLAS computes C := alpha * A @ B + beta * C in place
    else:
        return []
    found = []
    for i in candidates:
        v = node.inputs[i]
        others = [w for k, w in enumerate(node.inputs) if k != i]
        if v.dtype != out.dtype or buffers.of(v) != v.uid and v.owner is not None:
            continue  # a view: writing through it is not element for element
        if name == "gemm":
            ok = None not in v.type.shape and v.type.shape == out.type.shape
            ok = ok and all(buffers.of(w) != buffers.of(v) for w in others)
        else:
            ok = covers(v, others, out.type.shape)
            ok = ok and all(w is v or buffers.of(w) != buffers.of(v) for w in others)
        if ok:
            found.append(i)
    return found


def plan_buffers(fgraph):
    """Buffer reuse and in-place hints for ``fgraph`` (see the module doc).

    Returns ``{"order", "last_use", "inplace", "reuse", "shared_inplace"}``:

    * ``order``: node keys in execution order;
    * ``last_use``: buffer key -> index in ``order`` of the last node
      reading it or a view of it (``len(order)`` for function results);
    * ``inplace``: node key -> input position whose buffer the node may
      overwrite with its result (the input is an intermediate, not a view,
      dies at this node, and provably has the output's dtype and size);
    * ``reuse``: node key -> key of an earlier intermediate, dead before
      this node runs, with the same dtype and static shape (free-list reuse;
      chains resolve transitively);
    * ``shared_inplace``: shared key -> node key: the update value may be
      computed directly into the shared variable's buffer because no node
      after it reads the old value (or a view of it), and it reads the old
      value, if at all, element for element.
    """
    order = toposort(fgraph.all_outputs())
    keys = _keys(fgraph, order)
    buffers = _Buffers(fgraph, order)
    shared_plan = _plan_shared(fgraph, order, keys, buffers)
    placed = set(shared_plan.values())
    inplace, donated = _plan_inplace(order, keys, buffers, placed)
    return {
        "order": [keys[n.outputs[0].uid].split(".")[0] for n in order],
        "last_use": {keys[uid]: i for uid, i in buffers.last.items() if uid in keys},
        "inplace": inplace,
        "reuse": _plan_reuse(order, keys, buffers, donated, placed | set(inplace)),
        "shared_inplace": shared_plan,
    }


def _plan_inplace(order, keys, buffers, skip):
    inplace, donated = {}, set()
    for i, node in enumerate(order):
        if keys[node.outputs[0].uid] in skip:
            continue
        for pos in _overwritable_inputs(node, buffers):
            v = node.inputs[pos]
            if v.owner is None or not buffers.dies_at(v, i) or v.uid in donated:
                continue
            inplace[keys[node.outputs[0].uid]] = pos
            donated.add(v.uid)
            break
    return inplace, donated


def _is_view(node):
    return node.op.name in SHAPE_OPS or node.op.name in INDEXING


def _plan_reuse(order, keys, buffers, donated, placed):
    """Greedy free list by (dtype, static shape) of dead intermediate
    buffers; views and nodes already ``placed`` take none."""
    free, reuse = {}, {}
    for i, node in enumerate(order):
        out = node.outputs[0]
        key = keys[out.uid]
        pool = free.get((out.dtype, out.type.shape))
        if pool and key not in placed and len(node.outputs) == 1 and not _is_view(node):
            reuse[key] = pool.pop()
        for v in dict.fromkeys(node.inputs):  # distinct, in order
            root = buffers.of(v)
            if v.owner is None or root != v.uid or root in donated or not buffers.dies_at(v, i):
                continue
            if None not in v.type.shape and not _is_view(v.owner):
                free.setdefault((v.dtype, v.type.shape), []).append(keys[v.uid])
    return reuse


def _plan_shared(fgraph, order, keys, buffers):
    position = {id(n): i for i, n in enumerate(order)}
    readers = {}
    for node in order:
        for v in node.inputs:
            readers.setdefault(buffers.of(v), []).append((node, v))
    out_uids = {v.uid for v in fgraph.outputs}
    plan = {}
    for shared, value in fgraph.updates:
        node = value.owner
        if node is None or _is_view(node) or len(node.outputs) != 1 or shared.uid in out_uids:
            continue
        if value.type.shape != shared.type.shape or value.dtype != shared.dtype:
            continue
        late = [
            (r, v) for r, v in readers.get(shared.uid, []) if position[id(r)] >= position[id(node)]
        ]
        if any(r is not node for r, _ in late):
            continue
        if any(v is not shared for _, v in late):
            continue  # the update node reads the old value through a view
        if late and not any(node.inputs[p] is shared for p in _overwritable_inputs(node, buffers)):
            continue
        if keys[value.uid] in plan.values():
            continue  # one result cannot live in two shared buffers
        plan[keys[shared.uid]] = keys[value.uid]
    return plan
