"""Loops: ``ag.scan`` (Theano's semantics) and the helpers built on it.

>>> import numpy as np, aotgraph as ag, aotgraph.tensor as at
>>> x = at.dvector("x")
>>> running, _ = ag.scan(lambda v, acc: acc + v, sequences=x, outputs_info=at.constant(0.0))
>>> running.eval({x: [1.0, 2.0, 3.0]})
array([1., 3., 6.])

The op itself (its params, reference implementation and type rule) lives
in :mod:`aotgraph.ops.scan`; its gradient in :mod:`aotgraph.loops.grad`.
"""

from aotgraph.loops.api import ScanUntil, foldl, foldr, map, reduce, scan, scan_until, until
from aotgraph.loops.inner import inner_function_graph, replace_inner_graph
from aotgraph.loops.rewrite import keep_last_values

__all__ = [
    "ScanUntil",
    "foldl",
    "foldr",
    "inner_function_graph",
    "keep_last_values",
    "map",
    "reduce",
    "replace_inner_graph",
    "scan",
    "scan_until",
    "until",
]
