"""The graph optimizer: rewrite tables, procedural passes and the pipeline.

Importing this package registers the ops the optimizer creates (``gemm``,
``fused_elementwise``), which anything reading optimized graphs (the IR
loader, the emitters) needs.
"""

from __future__ import annotations

import aotgraph.opt.ops  # noqa: F401  (registers gemm and fused_elementwise)


def optimize_graph(fgraph, record=None):
    """Rewrite ``fgraph`` into an equivalent, faster FunctionGraph.

    The pipeline is :mod:`aotgraph.opt.pipeline` (merge, useless,
    canonicalize, stabilize, specialize, fusion, scan bodies).  ``record``,
    an :class:`aotgraph.opt.record.OptRecord`, receives the rules that
    fired and the node count and time of each pass.

    >>> import aotgraph.tensor as at
    >>> from aotgraph.fgraph import make_function_graph
    >>> from aotgraph.opt.record import OptRecord
    >>> x = at.dvector("x")
    >>> rec = OptRecord()
    >>> fg = optimize_graph(make_function_graph("f", [x], at.exp(x) - 1.0), rec)
    >>> fg.outputs[0].owner.op.name, rec.node_counts[0], rec.node_counts[-1]
    ('expm1', ('input', 2), ('scan_bodies', 1))
    """
    from aotgraph.opt.pipeline import optimize

    return optimize(fgraph, record=record)
