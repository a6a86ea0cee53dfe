"""The optimization pipeline: a plain list of named passes in Theano's order.

merge (CSE + constant folding) -> useless -> canonicalize -> stabilize ->
specialize (incl. BLAS) -> fusion -> scan bodies (the same pipeline inside
each loop body).  Memory planning is not a rewrite: the emitter asks
:func:`aotgraph.opt.memory.plan_buffers` for hints on the result.  Every table pass runs the rules of the passes before it as well
(rewrites expose new folding and cleanup chances), under its own budget.

>>> import aotgraph as ag, aotgraph.tensor as at
>>> from aotgraph.fgraph import make_function_graph
>>> from aotgraph.opt.record import OptRecord
>>> x = at.dvector("x")
>>> rec = OptRecord()
>>> fg = optimize(make_function_graph("f", [x], at.log(1 + at.exp(x)) * 1), rec)
>>> [n.op.name for n in ag.graph.toposort(fg.outputs)]
['softplus']
"""

from __future__ import annotations

import time

import aotgraph.opt.ops  # noqa: F401  (registers gemm and fused_elementwise)
from aotgraph.fgraph import FunctionGraph
from aotgraph.opt.cancel import CANCEL_RULES
from aotgraph.opt.canonicalize import CANONICALIZE_RULES
from aotgraph.opt.fusion import fuse_elementwise
from aotgraph.opt.merge import FOLD_MAX_ELEMENTS, fold_rules
from aotgraph.opt.record import OptRecord
from aotgraph.opt.rewrite import count_nodes, rewrite_to_fixpoint
from aotgraph.opt.scan_bodies import optimize_scan_bodies
from aotgraph.opt.specialize import SPECIALIZE_RULES
from aotgraph.opt.stabilize import STABILIZE_RULES
from aotgraph.opt.useless import USELESS_RULES


def table_pass(rules):
    """A pass running ``rules`` to a fixpoint with the driver."""

    def run(roots, record, name):
        return rewrite_to_fixpoint(roots, rules, name, record)

    return run


def fusion_pass(roots, record, name):
    return fuse_elementwise(roots, record, name)


def scan_body_pass(roots, record, name):
    return optimize_scan_bodies(roots, record, name)


def make_passes(fold_max=FOLD_MAX_ELEMENTS):
    """The pipeline: ``[(name, pass)]`` in order; a pass maps the graph's
    roots to new roots.  ``fold_max`` caps the size of folded constants."""
    cleanup = fold_rules(fold_max) + USELESS_RULES
    return [
        ("merge", table_pass(fold_rules(fold_max))),
        ("useless", table_pass(cleanup)),
        ("canonicalize", table_pass(cleanup + CANONICALIZE_RULES)),
        ("stabilize", table_pass(cleanup + STABILIZE_RULES + CANCEL_RULES)),
        ("specialize", table_pass(cleanup + SPECIALIZE_RULES)),
        ("fusion", fusion_pass),
        ("scan_bodies", scan_body_pass),
    ]


PASSES = make_passes()


def body_passes():
    """The pipeline for scan bodies: constants stay small enough to inline."""
    from aotgraph.ops.scan import MAX_INLINE_CONSTANT

    return make_passes(MAX_INLINE_CONSTANT)


def optimize(fgraph, record=None, passes=None):
    """An equivalent :class:`FunctionGraph`, optimized by ``passes``
    (default :data:`PASSES`); what fired is logged in ``record``."""
    record = record if record is not None else OptRecord()
    roots = fgraph.all_outputs()
    record.node_counts.append(("input", count_nodes(roots)))
    for name, run in passes or PASSES:
        start = time.perf_counter()
        roots = run(roots, record, name)
        record.times.append((name, time.perf_counter() - start))
        record.node_counts.append((name, count_nodes(roots)))
    n = len(fgraph.outputs)
    updates = [(s, v) for (s, _), v in zip(fgraph.updates, roots[n:])]
    return FunctionGraph(
        fgraph.name, list(fgraph.inputs), roots[:n], updates, single_output=fgraph.single_output
    )
