"""``ag.function`` and the reference interpreter (``target="py"``).

Every target goes through the same steps: the user's description becomes a
:class:`~aotgraph.fgraph.FunctionGraph`, the optimizer rewrites it, then a
backend runs it.  The ``py`` backend evaluates the optimized graph with each
op's numpy reference implementation; it is the oracle of all other
backends.
"""

from __future__ import annotations

import threading

import numpy as np

from aotgraph.callcheck import bind_args, convert_input
from aotgraph.errors import AotgraphError, AotgraphTypeError
from aotgraph.fgraph import FunctionGraph, MissingInputError, make_function_graph
from aotgraph.graph import Constant, SharedVariable, Variable, toposort, trace_str

TARGETS = ("py", "cpu", "cuda")


def run_node(node, args):
    """Evaluate one apply node with its reference implementation."""
    result = node.op.defn.impl(node.op, *args)
    results = result if isinstance(result, tuple) else (result,)
    out = []
    for var, value in zip(node.outputs, results):
        value = np.asarray(value)
        if value.dtype.name != var.type.dtype:
            value = value.astype(var.type.dtype)
        if not var.type.accepts_shape(value.shape):
            raise AotgraphError(
                f"internal error: {node.op.label()} produced shape {value.shape}, "
                f"its type says {var.type.short()}"
            )
        out.append(value)
    return out


def interpret(outputs, values, fname="evaluate"):
    """Values of ``outputs`` given ``values`` (uid → ndarray) of the graph's
    free inputs; constants and shared variables supply their own."""
    env = dict(values)
    for node in toposort(outputs):
        args = []
        for v in node.inputs:
            if v.uid not in env:
                if isinstance(v, Constant):
                    env[v.uid] = v.data
                elif isinstance(v, SharedVariable):
                    env[v.uid] = v.get_value(borrow=True)
                else:
                    raise MissingInputError(
                        f"{fname}: no value given for {v!r} (created at {trace_str(v)})"
                    )
            args.append(env[v.uid])
        try:
            with np.errstate(all="ignore"):
                results = run_node(node, args)
        except (ValueError, IndexError) as exc:
            operands = ", ".join(f"{v!r} of shape {np.shape(a)}" for v, a in zip(node.inputs, args))
            where = trace_str(node.outputs[0])
            # an out-of-bounds index stays an IndexError, as in numpy
            raise (IndexError if isinstance(exc, IndexError) else ValueError)(
                f"{fname}: {node.op.label()} failed on {operands} "
                f"(expression created at {where}): {exc}"
            ) from None
        for var, value in zip(node.outputs, results):
            env[var.uid] = value
    out = []
    for v in outputs:
        if v.uid in env:
            out.append(env[v.uid])
        elif isinstance(v, Constant):
            out.append(v.data)
        elif isinstance(v, SharedVariable):
            out.append(v.get_value(borrow=True))
        else:
            raise MissingInputError(f"{fname}: no value given for {v!r}")
    return out


def evaluate(var, inputs_to_values):
    """Theano's ``var.eval({x: value})`` with the reference interpreter."""
    values = {}
    for k, v in inputs_to_values.items():
        if not isinstance(k, Variable) or isinstance(k, (Constant, SharedVariable)):
            raise AotgraphTypeError(
                f"eval: the keys of inputs_to_values must be free symbolic variables, "
                f"got {type(k).__name__} {k!r}"
            )
        values[k.uid] = convert_input("eval", k.name or "input", v, k.dtype, k.type.shape)
    return interpret([var], values, "eval")[0].copy()


class Function:
    """A compiled function: call it with one value per input.

    ``fn.fgraph`` is the optimized graph it runs, ``fn.target`` the backend.
    """

    def __init__(self, fgraph: FunctionGraph, target, allow_input_downcast, backend=None):
        self.fgraph = fgraph
        self.name = fgraph.name
        self.target = target
        self.allow_input_downcast = allow_input_downcast
        self.input_names = fgraph.input_names()
        self._backend = backend
        self._update_lock = threading.Lock()

    def _convert(self, args, kwargs):
        args = bind_args(self.name, self.input_names, args, kwargs)
        return [
            convert_input(self.name, n, a, v.dtype, v.type.shape, self.allow_input_downcast)
            for n, a, v in zip(self.input_names, args, self.fgraph.inputs)
        ]

    def __call__(self, *args, **kwargs):
        arrays = self._convert(args, kwargs)
        if self._backend is not None:
            return self._backend(arrays)
        fg = self.fgraph
        values = {v.uid: a for v, a in zip(fg.inputs, arrays)}
        with self._update_lock:
            results = interpret(fg.all_outputs(), values, self.name)
            n = len(fg.outputs)
            # updates are all computed from pre-call values, checked, then
            # applied: a failing call changes no shared variable
            for (shared, _), value in zip(fg.updates, results[n:]):
                if not shared.type.accepts_shape(value.shape):
                    raise ValueError(
                        f"{self.name}: the update of shared variable {shared!r} has "
                        f"shape {value.shape}, which does not fit its type "
                        f"{shared.type.short()}"
                    )
            for (shared, _), value in zip(fg.updates, results[n:]):
                shared.set_value(np.array(value, copy=True), borrow=True)
        outs = [np.array(r, copy=True) for r in results[:n]]
        return outs[0] if fg.single_output else outs

    def __repr__(self):
        return f"<aotgraph.Function {self.name} target={self.target}>"


def function(
    inputs,
    outputs=None,
    updates=None,
    givens=None,
    on_unused_input="raise",
    allow_input_downcast=False,
    target="cpu",
    name=None,
    optimize=True,
):
    """Compile a callable from symbolic inputs to outputs (Theano's ``function``).

    ``updates`` (a dict or list of pairs) give new values of shared
    variables, all computed from the values before the call.  ``givens``
    substitute variables before compiling.  ``target`` is ``"cpu"`` (native
    code through the build pipeline, cached), ``"py"`` (the numpy reference
    interpreter) or ``"cuda"``.

    >>> import aotgraph as ag, aotgraph.tensor as at
    >>> x, y = at.dvector("x"), at.dvector("y")
    >>> f = ag.function([x, y], x + y, target="py")
    >>> f([1, 2], [3, 4])
    array([4., 6.])
    """
    if target not in TARGETS:
        raise ValueError(f"function: target must be one of {', '.join(TARGETS)}, got {target!r}")
    fname = name or "function"
    fg = make_function_graph(fname, inputs, outputs, updates, givens, on_unused_input)
    if optimize:
        from aotgraph.opt import optimize_graph

        fg = optimize_graph(fg)
    if target == "py":
        return Function(fg, target, allow_input_downcast)
    from aotgraph.build import compile_in_process

    return compile_in_process(fg, target=target, allow_input_downcast=allow_input_downcast)
