"""``ag.function`` and the reference interpreter (``target="py"``).

Every target goes through the same steps: the user's description becomes a
:class:`~aotgraph.fgraph.FunctionGraph`, the optimizer rewrites it, then a
backend runs it.  The ``py`` backend evaluates the optimized graph with each
op's numpy reference implementation; it is the oracle of all other
backends.
"""

from __future__ import annotations

import threading
import time

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


def _short_label(node) -> str:
    from aotgraph.printing import node_label

    return node_label(node)


class NanGuardError(AotgraphError, FloatingPointError):
    """A node of a function called with ``nan_guard=True`` produced NaN or Inf."""


def check_finite(fname, node, position, results):
    """Raise :class:`NanGuardError` naming ``node`` (the ``position``-th of
    its graph) when one of its floating-point ``results`` holds NaN or Inf."""
    for var, value in zip(node.outputs, results):
        if value.dtype.kind not in "fc" or np.isfinite(value).all():
            continue
        what = "NaN" if np.isnan(value).any() else "Inf"
        out = f" output {var.index}" if len(node.outputs) > 1 else ""
        raise NanGuardError(
            f"{fname}: nan_guard: node {position} ({_short_label(node)}){out} produced {what} "
            f"in its {var.type.short()} result (expression created at {trace_str(var)})"
        )


def interpret(outputs, values, fname="evaluate", observer=None):
    """Values of ``outputs`` given ``values`` (uid → ndarray) of the graph's
    free inputs; constants and shared variables supply their own.
    ``observer(position, node, results, seconds)``, when given, sees each
    node's results as they are computed (NaN guard, profiling)."""
    env = dict(values)
    for position, node in enumerate(toposort(outputs)):
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
            start = time.perf_counter()
            with np.errstate(all="ignore"):
                results = run_node(node, args)
            if observer is not None:
                observer(position, node, results, time.perf_counter() - start)
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

    def __init__(
        self,
        fgraph: FunctionGraph,
        target,
        allow_input_downcast,
        backend=None,
        nan_guard=False,
        profile=False,
    ):
        self.fgraph = fgraph
        self.name = fgraph.name
        self.target = target
        self.allow_input_downcast = allow_input_downcast
        self.input_names = fgraph.input_names()
        self._backend = backend
        self._update_lock = threading.Lock()
        self.nan_guard = bool(nan_guard)
        #: ``{position: [label, calls, seconds]}`` when built with ``profile=True``
        self.profile_stats = {} if profile else None

    def _convert(self, args, kwargs):
        args = bind_args(self.name, self.input_names, args, kwargs)
        return [
            convert_input(self.name, n, a, v.dtype, v.type.shape, self.allow_input_downcast)
            for n, a, v in zip(self.input_names, args, self.fgraph.inputs)
        ]

    def __call__(self, *args, **kwargs):
        arrays = self._convert(args, kwargs)
        if self._backend is not None:
            if self.nan_guard or self.profile_stats is not None:
                from aotgraph.printing import guarded_native_call

                return guarded_native_call(self, arrays)
            return self._backend(arrays)
        fg = self.fgraph
        values = {v.uid: a for v, a in zip(fg.inputs, arrays)}
        with self._update_lock:
            results = interpret(fg.all_outputs(), values, self.name, self._observer())
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

    def _observer(self):
        """The per-node hook of the reference interpreter, or None."""
        guard, stats = self.nan_guard, self.profile_stats
        if not guard and stats is None:
            return None

        def observe(position, node, results, seconds):
            if stats is not None:
                row = stats.setdefault(position, [_short_label(node), 0, 0.0])
                row[1] += 1
                row[2] += seconds
            if guard:
                check_finite(self.name, node, position, results)

        return observe

    def profile_report(self, file=None):
        """The table of time per node (op, calls, total, %) of a function
        built with ``profile=True``; printed to ``file`` (default stdout),
        or only returned when ``file="str"``."""
        from aotgraph.printing import profile_table

        if self.profile_stats is None:
            raise AotgraphError(
                f"{self.name}: profile_report: the function was built without profiling; "
                "pass profile=True to ag.function"
            )
        text = profile_table(self.name, self.profile_stats.values())
        if file != "str":
            (file or __import__("sys").stdout).write(text)
        return text

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
    nan_guard=False,
    profile=False,
):
    """Compile a callable from symbolic inputs to outputs (Theano's ``function``).

    ``updates`` (a dict or list of pairs) give new values of shared
    variables, all computed from the values before the call.  ``givens``
    substitute variables before compiling.  ``target`` is ``"cpu"`` (native
    code through the build pipeline, cached), ``"py"`` (the numpy reference
    interpreter) or ``"cuda"``.

    Debugging aids: ``nan_guard=True`` raises :class:`NanGuardError` naming
    the first node whose result holds NaN or Inf and the source line that
    created it (the call changes no shared variable); ``profile=True`` times
    each node (``fn.profile_report()`` prints the table).  On ``"cpu"`` both
    are compiled into a debug build (checks and timers after each node); on
    ``"cuda"`` the call is timed as a whole and a non-finite result is
    located by replaying the call on the reference interpreter.

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
        return Function(fg, target, allow_input_downcast, nan_guard=nan_guard, profile=profile)
    from aotgraph.build import compile_in_process

    fn = compile_in_process(fg, target, allow_input_downcast, nan_guard=nan_guard, profile=profile)
    fn.nan_guard = bool(nan_guard)
    if not profile:
        fn.profile_stats = None
    elif fn.profile_stats is None:  # cuda: each call is timed as a whole
        fn.profile_stats = {}
    return fn
