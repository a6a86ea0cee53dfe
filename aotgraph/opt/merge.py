"""Merge (CSE) and constant folding.

Merging is done by every sweep of the driver (equal constants by value
first, then nodes with the same op and inputs).  Folding is a rule that
applies to any op whose inputs are all constants: the node is evaluated
with the op's numpy reference implementation, unless the result would be
large (``FOLD_MAX_ELEMENTS``), unknown in shape, or the op has no value
semantics to fold (``NEVER_FOLD``).
"""

from __future__ import annotations

import numpy as np

from aotgraph.graph import Constant, SharedVariable
from aotgraph.opt.rewrite import Match, node_rule

#: Results larger than this many elements stay computed at run time.
FOLD_MAX_ELEMENTS = 1 << 16

#: Ops that must stay in the graph even on constant inputs: they mark
#: graph structure (gradients) rather than compute a value.  Kept as a
#: category-like set, not scattered names.
NEVER_FOLD = frozenset()


def _foldable(node, ctx, max_elements=FOLD_MAX_ELEMENTS):
    if node.op.name in NEVER_FOLD or len(node.outputs) != 1:
        return None
    if not node.inputs:
        return None
    if not all(isinstance(v, Constant) and not isinstance(v, SharedVariable) for v in node.inputs):
        return None
    shape = node.outputs[0].type.shape
    if None in shape or int(np.prod(shape, dtype=np.int64)) > max_elements:
        return None
    return Match(node, ctx)


def _evaluate(m):
    from aotgraph.function import run_node

    try:
        with np.errstate(all="ignore"):
            (value,) = run_node(m.node, [v.data for v in m.node.inputs])
    except (ValueError, IndexError, TypeError, ZeroDivisionError, OverflowError):
        return None  # left for run time, which reports the error with context
    return Constant(value, dtype=m.out.dtype)


def fold_rules(max_elements=FOLD_MAX_ELEMENTS):
    """The merge table with folding capped at ``max_elements``."""
    return [
        # op(c1, ..., cn) -> constant, evaluated with the op's reference impl
        node_rule("constant_fold", lambda node, ctx: _foldable(node, ctx, max_elements), _evaluate),
    ]


MERGE_RULES = fold_rules()
