"""Reverse-mode automatic differentiation (``ag.grad``).

Each op's record carries its VJP: ``vjp(node, output_grads)`` returns one
symbolic gradient per input (``None`` for "no gradient flows there").
"""

from __future__ import annotations

import warnings

import numpy as np

from aotgraph.errors import GradientError
from aotgraph.graph import Constant, Variable, as_list, toposort, trace_str
from aotgraph.ops.base import apply1, register_op
from aotgraph.types import is_discrete

# --- disconnected_grad: identity whose gradient is zero ------------------

register_op(
    "disconnected_grad",
    infer=lambda op, types: [types[0]],
    impl=lambda op, x: x,
    vjp=lambda node, grads: [None],
    jvp=lambda node, tangents: [None],
    n_inputs=1,
    doc="identity in value; blocks gradients (Theano's disconnected_grad / zero_grad)",
)


def disconnected_grad(x):
    """``x``, but no gradient flows through it."""
    from aotgraph.tensor.basic import as_tensor

    x = as_tensor(x)
    if isinstance(x, Constant):
        return x
    return apply1("disconnected_grad", [x])


zero_grad = disconnected_grad


def _add_grads(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _zeros_like(x):
    from aotgraph.tensor.shape import zeros_like

    return zeros_like(x)


def _path_nodes(order, wrt_uids):
    """Uids of variables that depend on any of ``wrt_uids``."""
    reach = set(wrt_uids)
    for node in order:
        if any(v.uid in reach for v in node.inputs):
            reach.update(v.uid for v in node.outputs)
    return reach


def backprop(outputs_and_grads, wrt, consider_constant=()):
    """Gradients (uid → Variable) of the scalar ``sum(o * g)`` over
    ``outputs_and_grads`` with respect to every variable between them and
    ``wrt``."""
    roots = [o for o, _ in outputs_and_grads]
    stop = list(consider_constant)
    order = toposort(roots, stop=stop)
    reach = _path_nodes(order, [w.uid for w in wrt])
    stop_uids = {v.uid for v in stop}
    grads = {}
    for o, g in outputs_and_grads:
        grads[o.uid] = _add_grads(grads.get(o.uid), g)
    for node in reversed(order):
        if not any(v.uid in reach for v in node.inputs):
            continue
        out_grads = [grads.get(v.uid) for v in node.outputs]
        if all(g is None for g in out_grads):
            continue
        defn = node.op.defn
        if defn.vjp is None:
            if defn.nondiff is not None:
                continue
            raise GradientError(
                f"grad: op {node.op.name} has no gradient rule "
                f"(expression created at {trace_str(node.outputs[0])})"
            )
        in_grads = defn.vjp(node, out_grads)
        if len(in_grads) != len(node.inputs):
            raise GradientError(f"internal error: vjp of {node.op.name} returned wrong arity")
        for v, g in zip(node.inputs, in_grads):
            if g is None or v.uid in stop_uids or v.uid not in reach or is_discrete(v.dtype):
                continue
            if g.dtype != v.dtype:
                from aotgraph.ops.elemwise import cast

                g = cast(g, v.dtype)
            grads[v.uid] = _add_grads(grads.get(v.uid), g)
    return grads


def grad(cost, wrt, consider_constant=None, known_grads=None, disconnected_inputs="raise",
         return_disconnected="zero"):
    """Symbolic gradient of scalar ``cost`` with respect to ``wrt``.

    ``wrt`` is a variable or a list (the result has the same structure).
    ``consider_constant`` lists variables treated as constants;
    ``known_grads`` maps variables to gradients injected as if they came from
    ``cost`` (``cost`` may then be ``None``).  ``disconnected_inputs`` is
    ``"raise"``, ``"warn"`` or ``"ignore"`` for a ``wrt`` the cost does not
    depend on (its gradient is then zeros, or ``None`` with
    ``return_disconnected="none"``).

    >>> import aotgraph as ag, aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> g = ag.grad((x ** 2).sum(), x)
    >>> g.eval({x: [1.0, 2.0]})
    array([2., 4.])
    """
    from aotgraph.tensor.basic import as_tensor

    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(
            f"grad: disconnected_inputs must be 'raise', 'warn' or 'ignore', got {disconnected_inputs!r}"
        )
    if return_disconnected not in ("zero", "none"):
        raise ValueError(f"grad: return_disconnected must be 'zero' or 'none', got {return_disconnected!r}")
    single = isinstance(wrt, Variable)
    wrt_list = as_list(wrt)
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise GradientError(f"grad: wrt must be symbolic variables, got {type(w).__name__}")
        if is_discrete(w.dtype):
            raise GradientError(
                f"grad: cannot take the gradient with respect to {w!r}, which has "
                f"integer/bool dtype {w.dtype}; gradients exist only for float variables"
            )
    seeds = []
    if cost is not None:
        cost = as_tensor(cost)
        if cost.ndim != 0:
            raise GradientError(
                f"grad: cost must be a scalar (0-d), got ndim {cost.ndim} "
                f"({cost.type.short()}, created at {trace_str(cost)}); use .sum() or .mean()"
            )
        if is_discrete(cost.dtype):
            raise GradientError(f"grad: cost has discrete dtype {cost.dtype}; it has no gradient")
        seeds.append((cost, Constant(np.ones((), cost.dtype))))
    elif not known_grads:
        raise GradientError("grad: cost is None and no known_grads were given")
    for var, g in (known_grads or {}).items():
        g = as_tensor(g)
        if g.ndim != var.ndim:
            raise GradientError(
                f"grad: known_grads entry for {var!r} has ndim {g.ndim}, expected {var.ndim}"
            )
        seeds.append((var, g))
    grads = backprop(seeds, wrt_list, consider_constant or ())
    result = []
    for w in wrt_list:
        g = grads.get(w.uid)
        if g is None:
            msg = (
                f"grad: the cost does not depend on {w!r} (created at {trace_str(w)}); "
                "pass disconnected_inputs='ignore' or 'warn' to get zeros"
            )
            if disconnected_inputs == "raise":
                raise GradientError(msg)
            if disconnected_inputs == "warn":
                warnings.warn(msg, stacklevel=2)
            g = None if return_disconnected == "none" else _zeros_like(w)
        elif g.dtype != w.dtype:
            from aotgraph.ops.elemwise import cast

            g = cast(g, w.dtype)
        result.append(g)
    return result[0] if single else result
