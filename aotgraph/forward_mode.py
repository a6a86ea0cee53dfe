"""Forward mode: ``Rop`` (Jacobian-vector products) from the ops' JVP rules.

Tangents flow from ``wrt`` to the outputs through each op's ``jvp``; an op
with a VJP but no JVP is differentiated by transposing its VJP (see
:func:`_jvp_by_double_vjp`).  Also reachable as ``ag.Rop`` and
``ag.gradient.Rop``.
"""

from __future__ import annotations

import warnings

from aotgraph.errors import GradientError
from aotgraph.gradient import (
    _check_choice,
    _check_wrt,
    _fit_grad,
    _same_structure,
    _seed,
    backprop,
    connected_variables,
    zeros_like,
)
from aotgraph.graph import Variable, as_list, toposort, trace_str
from aotgraph.types import is_discrete


def _jvp_by_double_vjp(node, tangents):
    """``J t`` for an op with a VJP but no JVP: the VJP ``u -> J^T u`` is
    linear in ``u``, so differentiating ``<J^T u, t>`` with respect to ``u``
    gives ``J t``.  The result no longer depends on the values of the dummy
    ``u``, only (through shape arguments such as ``sum_to_like``'s) on its
    shape, so ``u`` is then replaced by the node's output of the same type."""
    from aotgraph.graph import clone_replace

    dummies = [Variable(v.type, name=f"_u{i}") for i, v in enumerate(node.outputs)]
    in_grads = node.op.defn.vjp(node, dummies)
    seeds = [(g, t) for g, t in zip(in_grads, tangents) if g is not None and t is not None]
    if not seeds:
        return [None] * len(node.outputs)
    grads = backprop(seeds, dummies)
    result = [grads.get(u.uid) for u in dummies]
    live = [r for r in result if r is not None]
    if not live:
        return result
    replaced = iter(clone_replace(live, dict(zip(dummies, node.outputs))))
    return [None if r is None else next(replaced) for r in result]


def _node_jvp(node, tangents):
    defn = node.op.defn
    if defn.jvp is not None:
        outs = list(defn.jvp(node, tangents))
    elif defn.vjp is not None:
        outs = _jvp_by_double_vjp(node, tangents)
    elif defn.nondiff is not None:
        outs = [None] * len(node.outputs)
    else:
        raise GradientError(
            f"Rop: op {node.op.name} has no derivative rule "
            f"(expression created at {trace_str(node.outputs[0])})"
        )
    if len(outs) != len(node.outputs):
        raise GradientError(f"internal error: the jvp of {node.op.name} returned wrong arity")
    return outs


def forward_tangents(outputs, wrt_and_tangents):
    """Tangents (uid → Variable) of every variable between ``wrt`` and
    ``outputs`` for the given input tangents."""
    tangents = {w.uid: t for w, t in wrt_and_tangents}
    for node in toposort(outputs, stop=[w for w, _ in wrt_and_tangents]):
        ins = [tangents.get(v.uid) for v in node.inputs]
        if all(t is None for t in ins):
            continue
        for v, t in zip(node.outputs, _node_jvp(node, ins)):
            if t is None or is_discrete(v.dtype):
                continue
            tangents[v.uid] = _fit_grad(t, v, node)
    return tangents


def Rop(f, wrt, eval_points, disconnected_outputs="raise", return_disconnected="zero"):  # noqa: N802
    """Jacobian-vector products: ``sum_j d f / d wrt[j] . eval_points[j]``.

    ``wrt`` and ``eval_points`` are a variable each or lists of the same
    length; the result has the structure of ``f`` (Theano's ``Rop``).  An
    output that does not depend on ``wrt`` raises, warns or gets zeros
    (``disconnected_outputs``; ``return_disconnected="none"`` gives ``None``).

    >>> import aotgraph as ag, aotgraph.tensor as at
    >>> x, v = at.dvector("x"), at.dvector("v")
    >>> ag.Rop(x ** 2, x, v).eval({x: [1.0, 2.0], v: [1.0, 10.0]})
    array([ 2., 40.])
    """
    from aotgraph.tensor.basic import as_tensor

    _check_choice("Rop", "disconnected_outputs", disconnected_outputs, ("raise", "warn", "ignore"))
    _check_choice("Rop", "return_disconnected", return_disconnected, ("zero", "none"))
    wrt_list, points = as_list(wrt), as_list(eval_points)
    if len(wrt_list) != len(points):
        raise GradientError(
            f"Rop: got {len(wrt_list)} wrt variables but {len(points)} eval_points; "
            "give one per variable"
        )
    _check_wrt("Rop", wrt_list)
    pairs = [_seed("Rop", w, as_tensor(p)) for w, p in zip(wrt_list, points)]
    fs = [as_tensor(o) for o in as_list(f)]
    tangents = forward_tangents(fs, pairs)
    result = []
    wrt_ids = {w.uid for w in wrt_list}
    for o in fs:
        t = tangents.get(o.uid)
        if t is None and wrt_ids & connected_variables([o]):
            t = zeros_like(o)  # reached only through integer or boolean values
        elif t is None:
            msg = f"Rop: the expression {o!r} (created at {trace_str(o)}) does not depend on wrt"
            if disconnected_outputs == "raise":
                raise GradientError(msg + "; pass disconnected_outputs='ignore' to get zeros")
            if disconnected_outputs == "warn":
                warnings.warn(msg, stacklevel=2)
            t = None if return_disconnected == "none" else zeros_like(o)
        result.append(t)
    return _same_structure(f, result)
