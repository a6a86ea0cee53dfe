"""Looking at graphs: ``debugprint``, ``pp`` and Graphviz ``dot_text``; the
debugging aids of ``ag.function`` (profile tables, the NaN guard of native
calls).

>>> import aotgraph.tensor as at
>>> x = at.dvector("x")
>>> y = at.exp(x) * x
>>> print(debugprint(y, file="str"), end="")
mul [id A] float64[?]
 |exp [id B] float64[?]
 | |x [id C] float64[?]
 |x [id C] float64[?]
>>> pp(y)
'(exp(x) * x)'
"""

from __future__ import annotations

import os
import sys

from aotgraph.graph import Constant, SharedVariable, Variable, as_list, toposort


def _op_label(node) -> str:
    op = node.op
    if op.name == "fused_elementwise":
        steps = ",".join(s[0] for s in op["steps"])
        reduction = op.get("reduce")
        tail = f"|{reduction[0]}{{axis={reduction[1]}}}" if reduction else ""
        return f"fused_elementwise{{{steps}{tail}}}"
    return op.label()


def node_label(node) -> str:
    """The short label of an apply node (fused chains by their step names).

    >>> import aotgraph.tensor as at
    >>> node_label(at.exp(at.dvector()).owner)
    'exp'
    """
    return _op_label(node)


def var_label(var) -> str:
    """What a variable is called in prints: op label, name or value."""
    if var.owner is not None:
        label = _op_label(var.owner)
        if len(var.owner.outputs) > 1:
            label += f".{var.index}"
        return label
    if isinstance(var, Constant) and var.name is None:
        return f"Constant{{{var._label()}}}"
    return var._label()


class _Ids:
    """Theano-style short ids: A..Z, BA, BB, ... in order of first print."""

    def __init__(self):
        self.ids = {}

    def __call__(self, key):
        if key not in self.ids:
            n, text = len(self.ids), ""
            while True:
                text = chr(ord("A") + n % 26) + text
                n //= 26
                if n == 0:
                    break
            self.ids[key] = text
        return self.ids[key]


def _trace_text(var) -> str:
    tr = getattr(var, "trace", None)
    return f"  <- {os.path.basename(tr[0])}:{tr[1]}" if tr else ""


def _print_var(root, ids, lines, done, with_trace):
    """One root and its inputs, depth first (iterative: deep graphs are fine)."""
    stack = [(root, "", "")]
    while stack:
        var, prefix, child_prefix = stack.pop()
        key = id(var.owner) if var.owner is not None else id(var)
        text = f"{prefix}{var_label(var)} [id {ids(key)}] {var.type.short()}"
        if var.owner is not None and var.name:
            text += f" '{var.name}'"
        if with_trace and var.owner is not None:
            text += _trace_text(var)
        if var.owner is not None and key in done:
            lines.append(text + " ...")
            continue
        lines.append(text)
        if var.owner is None:
            continue
        done.add(key)
        below = child_prefix + " |"
        stack.extend((inp, below, below) for inp in reversed(var.owner.inputs))


def _roots_of(x):
    """``[(heading or None, variable)]`` and whether to show source lines."""
    from aotgraph.fgraph import FunctionGraph
    from aotgraph.function import Function

    if isinstance(x, Function) or isinstance(getattr(x, "fgraph", None), FunctionGraph):
        return _roots_of(x.fgraph)[0], True
    if isinstance(x, FunctionGraph):
        roots = [(f"output {i}", v) for i, v in enumerate(x.outputs)]
        roots += [(f"update {s._label()}", v) for s, v in x.updates]
        return roots, False
    if isinstance(x, Variable):
        return [(None, x)], False
    if isinstance(x, (list, tuple)) and all(isinstance(v, Variable) for v in x):
        return [(None, v) for v in x], False
    raise TypeError(
        f"debugprint: expected a variable, a list of variables, a FunctionGraph or an "
        f"ag.Function, got {type(x).__name__}"
    )


def debugprint(x_or_fn, file=None, with_trace=None):
    """Print a graph one node per line, inputs indented below their node.

    Each line shows the op, a short id (repeated subgraphs are printed once
    and then referred to by id, ``...``) and the type.  For an
    ``ag.Function`` the optimized graph it runs is shown with the source
    line each node comes from.  ``file`` is a file object, ``"str"`` to
    return the text only, or None for standard output.
    """
    roots, trace_default = _roots_of(x_or_fn)
    with_trace = trace_default if with_trace is None else with_trace
    ids, lines, done = _Ids(), [], set()
    for heading, var in roots:
        if heading is not None:
            lines.append(f"{heading}:")
        _print_var(var, ids, lines, done, with_trace)
    text = "\n".join(lines) + "\n"
    if file == "str":
        return text
    (file or sys.stdout).write(text)
    return text


# --- pp: infix text ------------------------------------------------------

_INFIX = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "true_div": "/",
    "floor_div": "//",
    "mod": "%",
    "pow": "**",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "eq": "==",
    "neq": "!=",
    "matmul": "@",
    "logical_and": "&",
    "logical_or": "|",
    "bitwise_and": "&",
    "bitwise_or": "|",
    "logical_xor": "^",
    "bitwise_xor": "^",
}
_PP_LIMIT = 10_000


def pp(x) -> str:
    """The expression of ``x`` as infix text (shared subexpressions are
    written out each time; very long texts are cut with ``...``).

    >>> import aotgraph.tensor as at
    >>> x = at.dscalar("x")
    >>> pp(-x + 2.0)
    '(-x + 2.0)'
    """
    texts = {}
    for node in toposort(as_list(x)):
        args = [_pp_leaf(v, texts) for v in node.inputs]
        name = node.op.name
        if name in _INFIX and len(args) == 2:
            text = f"({args[0]} {_INFIX[name]} {args[1]})"
        elif name == "neg":
            text = f"-{args[0]}"
        else:
            text = f"{_op_label(node)}({', '.join(args)})"
        for i, v in enumerate(node.outputs):
            texts[v.uid] = text if len(node.outputs) == 1 else f"{text}[{i}]"
            if len(texts[v.uid]) > _PP_LIMIT:
                texts[v.uid] = texts[v.uid][:_PP_LIMIT] + "..."
    out = [_pp_leaf(v, texts) for v in as_list(x)]
    return out[0] if isinstance(x, Variable) else "[" + ", ".join(out) + "]"


def _pp_leaf(var, texts):
    if var.uid in texts:
        return texts[var.uid]
    if isinstance(var, Constant) and var.name is None:
        return var._label()
    return var._label()


# --- Graphviz ------------------------------------------------------------


def _dot_escape(text) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def dot_text(fgraph_or_vars) -> str:
    """Graphviz ``dot`` source for a graph (no pydot needed).

    Apply nodes are ellipses, inputs boxes (shared variables filled,
    constants grey), outputs double boxes; edges carry types.

    >>> import aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> print(dot_text(at.exp(x)).splitlines()[0])
    digraph aotgraph {
    """
    roots, _ = _roots_of(fgraph_or_vars)
    outputs = [v for _, v in roots]
    names, lines = {}, ["digraph aotgraph {", "  rankdir=TB;", '  node [fontname="Helvetica"];']

    def vertex(var):
        if var.owner is not None:
            return names[id(var.owner)]
        if id(var) not in names:
            names[id(var)] = f"v{len(names)}"
            style = _input_style(var)
            label = _dot_escape(f"{var_label(var)}\\n{var.type.short()}")
            lines.append(f'  {names[id(var)]} [label="{label}", {style}];')
        return names[id(var)]

    for node in toposort(outputs):
        sources = [vertex(v) for v in node.inputs]
        names[id(node)] = f"n{len(names)}"
        lines.append(
            f'  {names[id(node)]} [label="{_dot_escape(_op_label(node))}", shape=ellipse];'
        )
        for i, (src, v) in enumerate(zip(sources, node.inputs)):
            lines.append(f'  {src} -> {names[id(node)]} [label="{i}: {v.type.short()}"];')
    for k, (heading, var) in enumerate(roots):
        src = vertex(var)
        label = _dot_escape(heading or f"output {k}")
        lines.append(f'  out{k} [label="{label}", shape=box, peripheries=2];')
        lines.append(f'  {src} -> out{k} [label="{var.type.short()}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _input_style(var) -> str:
    if isinstance(var, SharedVariable):
        return 'shape=box, style=filled, fillcolor="lightblue"'
    if isinstance(var, Constant):
        return 'shape=box, style=filled, fillcolor="lightgrey"'
    return "shape=box"


# --- debugging aids of ag.function ---------------------------------------


def profile_table(fname, rows) -> str:
    """A table of ``(label, calls, seconds)`` rows, slowest first, with each
    row's share of the total.

    >>> print(profile_table("f", [("exp", 2, 0.003), ("add", 2, 0.001)]), end="")
    profile of f: 2 nodes, 0.004000 s in total
      op                                   calls     total s      %
      exp                                      2    0.003000   75.0
      add                                      2    0.001000   25.0
    """
    from aotgraph.build.pkg_runtime import format_profile

    return format_profile(fname, rows)


def _non_finite(values):
    """The position of the first float array holding NaN or Inf, or None."""
    import numpy as np

    for k, value in enumerate(values):
        value = np.asarray(value)
        if value.dtype.kind in "fc" and not np.isfinite(value).all():
            return k
    return None


def guarded_native_call(fn, arrays):
    """Run a native ``ag.function`` with its profile and NaN guard.

    Debug builds check and time each node in C (``fn.native_guard``,
    ``fn.native_profile``).  Otherwise the call is timed as a whole, and a
    non-finite result is located by replaying the call on the reference
    interpreter.  Either way a guarded failure leaves the shared variables
    as they were before the call."""
    import time

    from aotgraph.function import NanGuardError

    fg = fn.fgraph
    before = [(s, s.get_value(borrow=False)) for s, _ in fg.updates] if fn.nan_guard else []
    start = time.perf_counter()
    try:
        result = fn._backend(arrays)
    except ValueError as exc:
        if not (getattr(fn, "native_guard", False) and "nan_guard:" in str(exc)):
            raise
        _restore(before)
        raise NanGuardError(str(exc)) from None
    finally:
        _record_native_profile(fn, time.perf_counter() - start)
    if not fn.nan_guard or getattr(fn, "native_guard", False):
        return result
    outs = [result] if fg.single_output else list(result)
    bad = _non_finite(outs + [s.get_value(borrow=True) for s, _ in before])
    if bad is not None:
        _restore(before)
        where = (
            f"output {bad}" if bad < len(outs) else f"the update of {before[bad - len(outs)][0]!r}"
        )
        _replay_guarded(fn, arrays, where)
    return result


def _restore(saved):
    for shared, value in saved:
        shared.set_value(value, borrow=True)


def _record_native_profile(fn, elapsed):
    stats = fn.profile_stats
    if stats is None:
        return
    reader = getattr(fn, "native_profile", None)
    if reader is not None:  # per-node counters of a profile build
        stats.clear()
        stats.update(reader())
        return
    n_nodes = len(toposort(fn.fgraph.all_outputs()))
    row = stats.setdefault(0, [f"native call ({n_nodes} nodes)", 0, 0.0])
    row[1] += 1
    row[2] += elapsed


def _replay_guarded(fn, arrays, where):
    """Raise the NanGuardError of the reference interpreter on ``arrays``."""
    from aotgraph.function import NanGuardError, check_finite, interpret

    fg = fn.fgraph
    values = {v.uid: a for v, a in zip(fg.inputs, arrays)}
    try:
        interpret(
            fg.all_outputs(),
            values,
            fn.name,
            lambda pos, node, res, _s: check_finite(fn.name, node, pos, res),
        )
    except NanGuardError as exc:
        raise NanGuardError(
            f"{exc} [native {where} was not finite; located by replaying the "
            "call on the reference interpreter]"
        ) from None
    raise NanGuardError(
        f"{fn.name}: nan_guard: the native code produced NaN or Inf in {where}, but the "
        "reference interpreter did not on the same inputs: a numerical difference of the "
        "native kernels (try target='py' to compare)"
    )
