"""The graph optimizer: rewrite tables, procedural passes and the pipeline."""

from __future__ import annotations

import aotgraph.opt.ops  # noqa: F401  (gemm and fused_elementwise must be registered

#                           wherever optimized graphs are read, e.g. by the IR loader)


def optimize_graph(fgraph, record=None):
    """Rewrite ``fgraph`` into an equivalent, faster FunctionGraph.

    The pipeline is :mod:`aotgraph.opt.pipeline` (merge, useless,
    canonicalize, stabilize, specialize, fusion).  ``record``, an
    :class:`aotgraph.opt.record.OptRecord`, receives the rules that fired
    and the node count and time of each pass.
    """
    try:
        from aotgraph.opt.pipeline import optimize
    except ImportError:
        return fgraph
    return optimize(fgraph, record=record)
