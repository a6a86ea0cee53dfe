"""The graph optimizer: rewrite tables, procedural passes and the pipeline."""

from __future__ import annotations


def optimize_graph(fgraph, record=None):
    """Rewrite ``fgraph`` into an equivalent, faster FunctionGraph.

    The pipeline is built in :mod:`aotgraph.opt.pipeline`; until it lands the
    graph is returned unchanged.
    """
    try:
        from aotgraph.opt.pipeline import optimize
    except ImportError:
        return fgraph
    return optimize(fgraph, record=record)
