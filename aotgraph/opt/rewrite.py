"""The rewrite engine: patterns, rules and the one fixpoint driver.

Local rewrites are table rows ``rule(name, pattern, build)``.  A pattern is
an op name (or a category set such as ``ELEMENTWISE``) with input patterns:

* a string binds the input variable under that name (a repeated name must
  be the very same variable); ``"_"`` matches anything;
* a nested :class:`P` matches the input's producer;
* ``C(value)`` matches a constant equal to ``value`` everywhere;
* ``K("c")`` binds any constant.

Binary ops in ``COMMUTATIVE`` match with their inputs in either order.
``build(m)`` gets the :class:`Match` (bindings by name, ``m.node``,
``m.out``) and returns the replacement variable, or ``None`` to decline.

>>> import aotgraph.tensor as at
>>> x = at.dvector("x")
>>> y = at.neg(at.neg(x))
>>> m = P("neg", P("neg", "x")).match(y.owner)
>>> m["x"] is x
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from aotgraph import graph as graph_mod
from aotgraph.errors import AotgraphError
from aotgraph.graph import Constant, Variable, toposort
from aotgraph.ops.base import COMMUTATIVE, OPS, rebuild_node

# --- patterns -----------------------------------------------------------


class Match(dict):
    """Bindings of one successful match, plus the matched node and output."""

    def __init__(self, node, ctx=None):
        super().__init__()
        self.node = node
        self.out = node.outputs[0]
        self.ctx = ctx


class C:
    """Matches a constant equal to ``value`` in every element."""

    def __init__(self, value):
        self.value = value

    def matches(self, var):
        return is_constant_value(var, self.value)


class K:
    """Binds any constant under ``name``."""

    def __init__(self, name):
        self.name = name


def is_constant_value(var, value) -> bool:
    """Whether ``var`` is a constant whose every element equals ``value``."""
    if not isinstance(var, Constant) or var.data.size == 0:
        return False
    data = var.data
    if data.size > 1 and not np.all(data == data.flat[0]):
        return False
    first = data.flat[0]
    return bool(first == value) and not (isinstance(value, float) and np.isnan(value))


def _single_owner(var):
    node = var.owner
    if node is None or len(node.outputs) != 1:
        return None
    return node


class P:
    """A pattern over one apply node (see the module doc)."""

    def __init__(self, op, *args, name=None, where=None, any_args=False):
        self.op = op
        self.args = args
        self.name = name
        self.where = where
        self.any_args = any_args  # match whatever the inputs are

    def op_names(self):
        """Names matched now: a name, a (live) category set, or a tuple of
        category sets united at match time (ops may register later)."""
        if isinstance(self.op, str):
            return {self.op}
        if isinstance(self.op, tuple):
            return set().union(*self.op)
        return self.op

    def names_used(self):
        """Op names (not categories) this pattern mentions, recursively."""
        found = {self.op} if isinstance(self.op, str) else set()
        for a in self.args:
            if isinstance(a, P):
                found |= a.names_used()
        return found

    def match(self, node, ctx=None):
        m = Match(node, ctx)
        return m if self._match_node(node, m) else None

    def _match_node(self, node, m):
        if node.op.name not in self.op_names():
            return False
        if self.any_args:
            return self._finish(node, m, m)
        if len(node.inputs) != len(self.args):
            return False
        orders = [node.inputs]
        if len(node.inputs) == 2 and node.op.name in COMMUTATIVE:
            orders.append(node.inputs[::-1])
        for inputs in orders:
            trial = Match(m.node, m.ctx)
            trial.update(m)
            if all(self._match_arg(a, v, trial) for a, v in zip(self.args, inputs)):
                if self._finish(node, trial, m):
                    return True
        return False

    def _finish(self, node, trial, m):
        if self.name is not None:
            trial[self.name] = node.outputs[0]
            trial[self.name + "_node"] = node
        if self.where is None or self.where(trial):
            if trial is not m:
                m.update(trial)
            return True
        return False

    @staticmethod
    def _match_arg(arg, var, m):
        if isinstance(arg, str):
            if arg == "_":
                return True
            if arg in m:
                return m[arg] is var
            m[arg] = var
            return True
        if isinstance(arg, C):
            return arg.matches(var)
        if isinstance(arg, K):
            if not isinstance(var, Constant):
                return False
            m[arg.name] = var
            return True
        node = _single_owner(var)
        return node is not None and arg._match_node(node, m)


@dataclass
class Rule:
    """A named local rewrite: ``pattern`` (or ``match_fn(node, ctx)``) and ``build``."""

    name: str
    pattern: P | None
    build: Callable
    match_fn: Callable | None = None
    ops: frozenset | None = None  # op names for match_fn rules (None: every op)

    def root_ops(self):
        if self.pattern is not None:
            return self.pattern.op_names()
        return self.ops

    def active(self) -> bool:
        """False while an op the pattern names is not registered yet."""
        return self.pattern is None or self.pattern.names_used() <= OPS.keys()

    def try_node(self, node, ctx):
        if self.pattern is not None:
            m = self.pattern.match(node, ctx)
        else:
            m = self.match_fn(node, ctx)
        if m is None:
            return None
        return self.build(m)


def rule(name, pattern, build):
    """A table row: ``rule("log1p", P("log", P("add", C(1), "x")), build)``."""
    return Rule(name, pattern, build)


def node_rule(name, match_fn, build, ops=None):
    """A row whose match is a function ``match_fn(node, ctx) -> Match | None``."""
    return Rule(name, None, build, match_fn=match_fn, ops=None if ops is None else frozenset(ops))


# --- the driver ---------------------------------------------------------


@dataclass
class Budget:
    """Bounds for one pass: sweeps over the graph, rewrites per node, and
    growth of the node count (relative plus absolute slack)."""

    max_sweeps: int = 12
    max_local: int = 8
    growth: float = 2.0
    slack: int = 64


class RewriteContext:
    """What rules may ask about the graph: client counts from the start of
    the sweep (carried over to rebuilt nodes) and symbolic shapes."""

    def __init__(self, roots, order, shapes=None):
        from aotgraph.opt.shapes import ShapeAnalysis

        self.shapes = shapes if shapes is not None else ShapeAnalysis()
        self.n_clients = {}
        for node in order:
            for v in node.inputs:
                self.n_clients[v.uid] = self.n_clients.get(v.uid, 0) + 1
        for v in roots:
            self.n_clients[v.uid] = self.n_clients.get(v.uid, 0) + 1

    def clients(self, var) -> int:
        return self.n_clients.get(var.uid, 0)


def _fits(old, new) -> str | None:
    """Why ``new`` cannot replace ``old`` (None when it can)."""
    if not isinstance(new, Variable):
        return f"built {type(new).__name__}, not a Variable"
    if new.dtype != old.dtype:
        return f"dtype {new.dtype} instead of {old.dtype}"
    if new.ndim != old.ndim:
        return f"ndim {new.ndim} instead of {old.ndim}"
    for a, b in zip(old.type.shape, new.type.shape):
        if a is not None and a != b:
            return f"shape {new.type.short()} less specific than {old.type.short()}"
    return None


class _Sweep:
    """One pass over the graph in topological order: rebuild nodes whose
    inputs changed, merge duplicates (CSE, constants by value), apply rules."""

    def __init__(self, roots, index, pass_name, record, budget, shapes):
        self.order = toposort(roots)
        self.ctx = RewriteContext(roots, self.order, shapes)
        self.index = index
        self.pass_name = pass_name
        self.record = record
        self.budget = budget
        self.mapping = {}
        self.seen_nodes = {}
        self.seen_consts = {}
        self.changed = False

    def resolve(self, var):
        var = self.mapping.get(var.uid, var)
        if isinstance(var, Constant) and var.name is None:
            canon = self.seen_consts.setdefault(var.signature(), var)
            if canon is not var:
                self.changed = True
            return canon
        return var

    def run(self, roots):
        for node in self.order:
            self.visit(node)
        return [self.resolve(v) for v in roots]

    def visit(self, node):
        inputs = [self.resolve(v) for v in node.inputs]
        new = node
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            new = rebuild_node(node, inputs)
            for o, n in zip(node.outputs, new.outputs):
                n.trace = o.trace
                self.ctx.n_clients[n.uid] = self.ctx.clients(o)
        key = new.merge_key()
        if key in self.seen_nodes:
            # a duplicate: take the (already rewritten) results of the first
            outs = self.seen_nodes[key]
            self.changed = True
            for o, n in zip(node.outputs, outs):
                self.ctx.n_clients[n.uid] = self.ctx.clients(n) + self.ctx.clients(o)
        else:
            outs = list(new.outputs)
            if len(outs) == 1:
                outs[0] = self.rewrite_local(new)
            self.seen_nodes[key] = outs
        for o, n in zip(node.outputs, outs):
            if n is not o:
                self.mapping[o.uid] = n

    def rewrite_local(self, node):
        out = node.outputs[0]
        for _ in range(self.budget.max_local):
            rep = self.first_rewrite(node, out)
            if rep is None:
                return out
            self.changed = True
            out = rep
            node = _single_owner(rep)
            if node is None:
                return out
        return out

    def first_rewrite(self, node, out):
        for r in self.index.get(node.op.name, ()):
            mark = next(graph_mod._ids)
            try:
                rep = r.try_node(node, self.ctx)
            except Exception as exc:  # noqa: BLE001 - a faulty rule must not break a build
                # recorded (tests assert there are none), the graph stays as it was
                kind = "" if isinstance(exc, AotgraphError) else f"{type(exc).__name__}: "
                self.record.rejected.append((self.pass_name, r.name, f"build failed: {kind}{exc}"))
                continue
            if rep is None or rep is out:
                continue
            why = _fits(out, rep)
            if why is not None:
                self.record.rejected.append((self.pass_name, r.name, why))
                continue
            _copy_trace(rep, out, mark)
            self.record.note_fired(self.pass_name, r.name, node_label(node))
            return rep
        return None


def _copy_trace(rep, original, mark):
    """New variables of a replacement (uid above ``mark``) take the trace of
    what they replace; the walk stops at pre-existing variables."""
    stack, seen = [rep], set()
    while stack:
        v = stack.pop()
        if v.uid <= mark or v.uid in seen:
            continue
        seen.add(v.uid)
        v.trace = original.trace
        if v.owner is not None:
            stack.extend(v.owner.inputs)


def node_label(node) -> str:
    """Short text for the record: ``op(input labels)``."""
    args = ", ".join(_short(v) for v in node.inputs)
    return f"{node.op.label()}({args})"


def _short(var):
    if var.name:
        return var.name
    if var.owner is not None:
        return var.owner.op.name
    if isinstance(var, Constant) and var.data.size == 1:
        return repr(var.data.item())
    return var.type.short()


def _index_rules(rules):
    index = {}
    for r in rules:
        if not r.active():
            continue
        names = r.root_ops()
        for name in OPS if names is None else names:
            index.setdefault(name, []).append(r)
    return index


def count_nodes(roots) -> int:
    return len(toposort(roots))


def rewrite_to_fixpoint(roots, rules, pass_name, record, budget=None):
    """Apply ``rules`` over the graph of ``roots`` until nothing changes or a
    budget is exhausted; returns the new roots.  Every sweep also merges
    equal constants and structurally equal nodes."""
    from aotgraph.opt.shapes import ShapeAnalysis

    budget = budget or Budget()
    index = _index_rules(rules)
    shapes = ShapeAnalysis()
    limit = int(count_nodes(roots) * budget.growth) + budget.slack
    for _ in range(budget.max_sweeps):
        sweep = _Sweep(roots, index, pass_name, record, budget, shapes)
        new_roots = sweep.run(roots)
        if not sweep.changed and all(a is b for a, b in zip(new_roots, roots)):
            return new_roots
        if count_nodes(new_roots) > limit:
            # keep the last graph within budget: a rewrite loop must not blow up
            record.budget_hits.append((pass_name, f"node count above {limit}"))
            return roots
        roots = new_roots
    record.budget_hits.append((pass_name, f"{budget.max_sweeps} sweeps"))
    return roots
