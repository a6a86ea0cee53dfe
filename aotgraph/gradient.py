"""Reverse-mode automatic differentiation: ``grad`` and ``Lop``.

Each op's record carries its VJP: ``vjp(node, output_grads)`` returns one
symbolic gradient per input (``None`` for "no gradient flows there"), and
optionally its JVP: ``jvp(node, input_tangents)``, one tangent per output.
Reverse mode (:func:`grad`, :func:`Lop`) walks the graph backwards calling
the VJPs; forward mode (``Rop``, in :mod:`aotgraph.forward_mode`) walks it
forwards calling the JVPs; ``jacobian`` and ``hessian`` live in
:mod:`aotgraph.jacobians`.  All are reachable from here and from ``ag``.
Gradients keep the dtype of the variable they are taken with respect to.
Integer and boolean values carry no gradient: a variable that reaches the
cost only through them (comparisons, integer casts, argmax) gets zeros, as
in Theano; one that reaches it only through shapes, ``disconnected_grad``
or past ``consider_constant`` variables is *disconnected*.

The helpers :func:`unbroadcast`, :func:`broadcast_like` and the factories
:func:`elementwise_vjp` / :func:`elementwise_jvp` are what the op families
build their rules from.  Numerical checking lives in
:mod:`aotgraph.gradcheck` (``ag.gradient.verify_grad``).
"""

from __future__ import annotations

import warnings

import numpy as np

from aotgraph.errors import GradientError
from aotgraph.graph import Constant, Variable, as_list, toposort, trace_str
from aotgraph.ops.base import apply1, register_op
from aotgraph.types import is_discrete


class DisconnectedInputError(GradientError, ValueError):
    """``grad`` was asked for the gradient of a variable the cost does not
    depend on (with ``disconnected_inputs="raise"``)."""


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
    """``x``, but no gradient flows through it.

    >>> import aotgraph as ag, aotgraph.tensor as at
    >>> x = at.dscalar("x")
    >>> float(ag.grad(x * disconnected_grad(x), x).eval({x: 3.0}))
    3.0
    """
    from aotgraph.tensor.basic import as_tensor

    x = as_tensor(x)
    if isinstance(x, Constant):
        return x
    return apply1("disconnected_grad", [x])


zero_grad = disconnected_grad


# --- helpers the VJP/JVP rules are built from -----------------------------


def zeros_like(x):
    """Zeros of ``x``'s (run-time) shape and dtype."""
    from aotgraph.tensor.shape import zeros_like as shape_zeros_like

    return shape_zeros_like(x)


def _same_static_shape(a, b):
    return a.ndim == b.ndim and None not in a.type.shape and a.type.shape == b.type.shape


def broadcast_like(g, x):
    """``g`` broadcast (numpy rules) to the run-time shape of ``x`` (the
    adjoint of :func:`unbroadcast`); ``g`` keeps its dtype."""
    if _same_static_shape(g, x):
        return g
    from aotgraph.ops.shape import alloc, dims_of

    return alloc(g, dims_of(x))


def unbroadcast(g, x):
    """``g`` (of a broadcast result's shape) summed down to ``x``'s shape."""
    from aotgraph.ops.reduce import sum_to_like

    return sum_to_like(g, x)


def _is_number(p, value):
    return isinstance(p, (int, float)) and not isinstance(p, bool) and p == value


def scale(g, p):
    """``g * p`` for a symbolic or Python-number factor ``p``; Python numbers
    stay weak, so a float32 ``g`` stays float32."""
    if _is_number(p, 1):
        return g
    if _is_number(p, -1):
        return -g
    return g * p


def elementwise_vjp(partials):
    """A VJP for an elementwise op from ``partials(*inputs, out)``, which
    returns one derivative per input (a variable or a Python number; ``0``
    means "zero gradient", as Theano's floor/sign)."""

    def vjp(node, out_grads):
        (g,) = out_grads
        if g is None:
            return [None] * len(node.inputs)
        ps = partials(*node.inputs, node.outputs[0])
        grads = []
        for x, p in zip(node.inputs, ps):
            if is_discrete(x.dtype) or p is None:
                grads.append(None)
            elif _is_number(p, 0):
                grads.append(zeros_like(x))
            else:
                grads.append(unbroadcast(scale(g, p), x))
        return grads

    return vjp


def elementwise_jvp(partials):
    """The JVP matching :func:`elementwise_vjp`: ``sum_i t_i * partial_i``,
    broadcast to the output's shape."""

    def jvp(node, tangents):
        out = node.outputs[0]
        if is_discrete(out.dtype) or all(t is None for t in tangents):
            return [None]
        ps = partials(*node.inputs, out)
        total = None
        for t, p in zip(tangents, ps):
            if t is None or p is None or _is_number(p, 0):
                continue
            term = scale(t, p)
            total = term if total is None else total + term
        if total is None:
            return [zeros_like(out)]
        return [broadcast_like(total, out)]

    return jvp


# --- reverse mode ---------------------------------------------------------


def _add_grads(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _path_nodes(order, wrt_uids):
    """Uids of variables that depend on any of ``wrt_uids``."""
    reach = set(wrt_uids)
    for node in order:
        if any(v.uid in reach for v in node.inputs):
            reach.update(v.uid for v in node.outputs)
    return reach


def _node_vjp(node, out_grads):
    defn = node.op.defn
    if defn.vjp is None:
        if defn.nondiff is not None:
            return [None] * len(node.inputs)
        raise GradientError(
            f"grad: op {node.op.name} has no gradient rule "
            f"(expression created at {trace_str(node.outputs[0])})"
        )
    in_grads = list(defn.vjp(node, out_grads))
    if len(in_grads) != len(node.inputs):
        raise GradientError(
            f"internal error: the vjp of {node.op.name} returned {len(in_grads)} "
            f"gradients for {len(node.inputs)} inputs"
        )
    return in_grads


def _fit_grad(g, v, node):
    """``g`` checked against variable ``v`` and cast to its dtype."""
    if g.ndim != v.ndim:
        raise GradientError(
            f"internal error: the vjp of {node.op.name} gave a gradient of ndim {g.ndim} "
            f"for an input of ndim {v.ndim}"
        )
    if g.dtype != v.dtype:
        from aotgraph.ops.elemwise import cast

        g = cast(g, v.dtype)
    return g


def backprop(outputs_and_grads, wrt, consider_constant=()):
    """Gradients (uid → Variable) of the scalar ``sum(o * g)`` over
    ``outputs_and_grads`` with respect to every float variable between them
    and ``wrt``.  Variables in ``consider_constant`` receive their gradient
    but pass nothing on to their ancestors (Theano's semantics)."""
    roots = [o for o, _ in outputs_and_grads]
    order = toposort(roots, stop=list(consider_constant))
    reach = _path_nodes(order, [w.uid for w in wrt])
    grads = {}
    for o, g in outputs_and_grads:
        if g is not None and not is_discrete(o.dtype):
            grads[o.uid] = _add_grads(grads.get(o.uid), g)
    for node in reversed(order):
        if not any(v.uid in reach for v in node.inputs):
            continue
        out_grads = [grads.get(v.uid) for v in node.outputs]
        if all(g is None for g in out_grads):
            continue
        for v, g in zip(node.inputs, _node_vjp(node, out_grads)):
            if g is None or v.uid not in reach or is_discrete(v.dtype):
                continue
            grads[v.uid] = _add_grads(grads.get(v.uid), _fit_grad(g, v, node))
    return grads


def _check_wrt(where, wrt):
    for w in wrt:
        if not isinstance(w, Variable):
            raise GradientError(
                f"{where}: wrt must be symbolic variables, got {type(w).__name__} {w!r}"
            )
        if is_discrete(w.dtype):
            raise GradientError(
                f"{where}: cannot take the gradient with respect to {w!r}, which has "
                f"integer/bool dtype {w.dtype}; gradients exist only for float variables "
                f"(created at {trace_str(w)})"
            )


def _seed(where, var, g):
    from aotgraph.tensor.basic import as_tensor

    if not isinstance(var, Variable):
        raise GradientError(f"{where}: known_grads keys must be variables, got {var!r}")
    g = as_tensor(g)
    if g.ndim != var.ndim:
        raise GradientError(
            f"{where}: the value given for {var!r} has ndim {g.ndim}, expected {var.ndim} "
            f"(the ndim of {var!r}, {var.type.short()})"
        )
    if g.dtype != var.dtype and not is_discrete(var.dtype):
        from aotgraph.ops.elemwise import cast

        g = cast(g, var.dtype)
    return var, g


def _cost_seed(cost):
    from aotgraph.tensor.basic import as_tensor

    cost = as_tensor(cost)
    if cost.ndim != 0:
        raise GradientError(
            f"grad: cost must be a scalar (0-d), got ndim {cost.ndim} "
            f"({cost.type.short()}, created at {trace_str(cost)}); use .sum() or .mean()"
        )
    if is_discrete(cost.dtype):
        raise GradientError(
            f"grad: cost has discrete dtype {cost.dtype}; it has no gradient "
            f"(created at {trace_str(cost)})"
        )
    return cost, Constant(np.ones((), cost.dtype))


#: Inputs an op reads only the shape of: a path through them does not
#: connect a variable to the cost (``x`` in ``x.shape[0] * y``).
SHAPE_ONLY_INPUTS = {"shape_i": (0,), "sum_to_like": (1,), "disconnected_grad": (0,)}


def connected_variables(roots, consider_constant=()):
    """Uids of the variables ``roots`` depend on through their values.

    A variable reached only through non-differentiable values (comparisons,
    integer casts, argmax, ...) is connected: its gradient is zero, as in
    Theano.  Paths through shapes, ``disconnected_grad`` and past
    ``consider_constant`` variables do not connect."""
    connected = {v.uid for v in roots}
    for node in reversed(toposort(roots, stop=list(consider_constant))):
        if any(o.uid in connected for o in node.outputs):
            skip = SHAPE_ONLY_INPUTS.get(node.op.name, ())
            connected.update(v.uid for i, v in enumerate(node.inputs) if i not in skip)
    return connected


def _collect(where, grads, wrt_list, seeds, options):
    """The gradient of each ``wrt``: zeros for a connected variable that
    received none, and the ``disconnected_inputs`` policy for the others."""
    consider_constant, disconnected_inputs, return_disconnected = options
    result, connected = [], None
    for w in wrt_list:
        g = grads.get(w.uid)
        if g is None:
            if connected is None:
                connected = connected_variables([v for v, _ in seeds], consider_constant)
            if w.uid in connected:
                g = zeros_like(w)
            else:
                _disconnected(where, w, disconnected_inputs)
                g = None if return_disconnected == "none" else zeros_like(w)
        elif g.dtype != w.dtype:
            from aotgraph.ops.elemwise import cast

            g = cast(g, w.dtype)
        result.append(g)
    return result


def _disconnected(where, w, policy):
    msg = (
        f"{where}: the cost does not depend on {w!r} (created at {trace_str(w)}); "
        "pass disconnected_inputs='ignore' or 'warn' to get zeros"
    )
    if policy == "raise":
        raise DisconnectedInputError(msg)
    if policy == "warn":
        warnings.warn(msg, stacklevel=4)


def _check_choice(where, name, value, choices):
    if value not in choices:
        raise ValueError(
            f"{where}: {name} must be one of {', '.join(map(repr, choices))}, got {value!r}"
        )


def _same_structure(wrt, result):
    if isinstance(wrt, Variable):
        return result[0]
    return tuple(result) if isinstance(wrt, tuple) else result


def grad(
    cost,
    wrt,
    consider_constant=None,
    known_grads=None,
    disconnected_inputs="raise",
    return_disconnected="zero",
):
    """Symbolic gradient of scalar ``cost`` with respect to ``wrt``.

    ``wrt`` is a variable or a list/tuple (the result has the same
    structure).  ``consider_constant`` lists variables treated as constants;
    ``known_grads`` maps variables to gradients injected as if they came from
    ``cost`` (``cost`` may then be ``None``).  ``disconnected_inputs`` is
    ``"raise"`` (:class:`DisconnectedInputError`), ``"warn"`` or ``"ignore"``
    for a ``wrt`` the cost does not depend on; its gradient is then zeros, or
    ``None`` with ``return_disconnected="none"``.  A ``wrt`` the cost depends
    on only through integer or boolean values (``x > 0``) gets zeros.

    >>> import aotgraph as ag, aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> g = ag.grad((x ** 2).sum(), x)
    >>> g.eval({x: [1.0, 2.0]})
    array([2., 4.])
    """
    _check_choice("grad", "disconnected_inputs", disconnected_inputs, ("raise", "warn", "ignore"))
    _check_choice("grad", "return_disconnected", return_disconnected, ("zero", "none"))
    wrt_list = as_list(wrt)
    _check_wrt("grad", wrt_list)
    seeds = []
    if cost is not None:
        seeds.append(_cost_seed(cost))
    elif not known_grads:
        raise GradientError("grad: cost is None and no known_grads were given")
    seeds += [_seed("grad", v, g) for v, g in dict(known_grads or {}).items()]
    grads = backprop(seeds, wrt_list, consider_constant or ())
    options = (consider_constant or (), disconnected_inputs, return_disconnected)
    result = _collect("grad", grads, wrt_list, seeds, options)
    return _same_structure(wrt, result)


def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="raise"):  # noqa: N802
    """Vector-Jacobian products: ``sum_i eval_points[i] . d f[i] / d wrt``.

    ``f`` and ``eval_points`` are a variable each or lists of the same
    length; the result has the structure of ``wrt`` (Theano's ``Lop``).

    >>> import numpy as np, aotgraph as ag, aotgraph.tensor as at
    >>> x, v = at.dvector("x"), at.dvector("v")
    >>> ag.Lop(x ** 2, x, v).eval({x: [1.0, 2.0], v: [1.0, 10.0]})
    array([ 2., 40.])
    """
    _check_choice("Lop", "disconnected_inputs", disconnected_inputs, ("raise", "warn", "ignore"))
    fs, points = as_list(f), as_list(eval_points)
    if len(fs) != len(points):
        raise GradientError(
            f"Lop: got {len(fs)} expressions but {len(points)} eval_points; give one per expression"
        )
    wrt_list = as_list(wrt)
    _check_wrt("Lop", wrt_list)
    seeds = [_seed("Lop", v, p) for v, p in zip(fs, points)]
    grads = backprop(seeds, wrt_list, consider_constant or ())
    options = (consider_constant or (), disconnected_inputs, "zero")
    return _same_structure(wrt, _collect("Lop", grads, wrt_list, seeds, options))


#: Public names defined in the modules that build on this one, resolved on
#: first use (they import this module, so it cannot import them up front).
_ELSEWHERE = {
    "Rop": "aotgraph.forward_mode",
    "forward_tangents": "aotgraph.forward_mode",
    "jacobian": "aotgraph.jacobians",
    "hessian": "aotgraph.jacobians",
    "verify_grad": "aotgraph.gradcheck",
    "GradientCheckError": "aotgraph.gradcheck",
    "numeric_grad": "aotgraph.gradcheck",
}


def __getattr__(name):
    if name in _ELSEWHERE:
        import importlib

        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module 'aotgraph.gradient' has no attribute {name!r}")
