"""FunctionGraph: what one compiled function computes.

Explicit inputs, outputs, the shared variables it reads, and its updates
(shared variable → new value).  The optimizer maps a FunctionGraph to an
equivalent one; the IR serializer and the reference interpreter read it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from aotgraph.errors import AotgraphTypeError
from aotgraph.graph import (
    Constant,
    SharedVariable,
    Variable,
    as_list,
    clone_replace,
    graph_inputs,
    trace_str,
)


class MissingInputError(AotgraphTypeError):
    """An output depends on a free variable that is not an input."""


class UnusedInputError(AotgraphTypeError):
    """An input that no output or update depends on (``on_unused_input``)."""


@dataclass
class FunctionGraph:
    name: str
    inputs: list  # free Variables, in call order
    outputs: list  # Variables
    updates: list = field(default_factory=list)  # [(SharedVariable, Variable)]
    single_output: bool = False  # outputs given as one variable, not a list

    def all_outputs(self):
        """Outputs then update values: everything that must be computed."""
        return list(self.outputs) + [v for _, v in self.updates]

    def shared_inputs(self):
        """Shared variables read or updated, in first-seen order."""
        found = {}
        for v in graph_inputs(self.all_outputs()):
            if isinstance(v, SharedVariable):
                found.setdefault(v.uid, v)
        for s, _ in self.updates:
            found.setdefault(s.uid, s)
        return list(found.values())

    def input_names(self):
        """Names used in messages and as keyword arguments: the variable's
        name, or ``input<i>`` (duplicates get their index appended)."""
        names, seen = [], set()
        for i, v in enumerate(self.inputs):
            name = v.name or f"input{i}"
            if name in seen:
                name = f"{name}_{i}"
            seen.add(name)
            names.append(name)
        return names


def _check_update(fname, shared, value):
    from aotgraph.tensor.basic import as_tensor

    if not isinstance(shared, SharedVariable):
        raise AotgraphTypeError(
            f"{fname}: updates must map shared variables to expressions; "
            f"{shared!r} is not a shared variable"
        )
    value = as_tensor(value)
    if value.ndim != shared.ndim:
        raise AotgraphTypeError(
            f"{fname}: the update of shared variable {shared!r} has ndim {value.ndim}, "
            f"expected {shared.ndim} (created at {trace_str(value)})"
        )
    if value.dtype != shared.dtype:
        import numpy as np

        if not np.can_cast(value.dtype, shared.dtype, "same_kind"):
            raise AotgraphTypeError(
                f"{fname}: the update of shared variable {shared!r} has dtype "
                f"{value.dtype}, expected {shared.dtype}; cast it with .astype "
                f"(created at {trace_str(value)})"
            )
        from aotgraph.ops.elemwise import cast

        value = cast(value, shared.dtype)
    for axis, (a, b) in enumerate(zip(value.type.shape, shared.type.shape)):
        if a is not None and b is not None and a != b:
            raise AotgraphTypeError(
                f"{fname}: the update of shared variable {shared!r} has static length "
                f"{a} on axis {axis}, expected {b}"
            )
    return value


def make_function_graph(
    name, inputs, outputs, updates=None, givens=None, on_unused_input="raise"
) -> FunctionGraph:
    """Validate a user's function description and apply ``givens``."""
    from aotgraph.tensor.basic import as_tensor

    if on_unused_input not in ("raise", "warn", "ignore", None):
        raise ValueError(
            f"{name}: on_unused_input must be 'raise', 'warn' or 'ignore', got {on_unused_input!r}"
        )
    if isinstance(inputs, Variable):
        inputs = [inputs]
    inputs = list(inputs)
    for i, v in enumerate(inputs):
        if not isinstance(v, Variable) or isinstance(v, (Constant, SharedVariable)) or v.owner:
            kind = (
                "a constant"
                if isinstance(v, Constant)
                else "a shared variable (shared variables are implicit inputs)"
                if isinstance(v, SharedVariable)
                else "the result of an operation"
                if isinstance(v, Variable)
                else type(v).__name__
            )
            raise AotgraphTypeError(
                f"{name}: input {i} must be a free symbolic variable (like at.vector()), got {kind}"
            )
    if len({v.uid for v in inputs}) != len(inputs):
        raise AotgraphTypeError(f"{name}: the same variable is given twice as an input")
    single = outputs is not None and not isinstance(outputs, (list, tuple))
    outs = [
        as_tensor(o)
        for o in ([] if outputs is None else as_list(outputs) if not single else [outputs])
    ]
    if isinstance(updates, dict):
        updates = list(updates.items())
    pairs = [(s, _check_update(name, s, v)) for s, v in (updates or [])]
    if len({s.uid for s, _ in pairs}) != len(pairs):
        raise AotgraphTypeError(f"{name}: a shared variable is updated twice")
    if givens:
        items = list(givens.items()) if isinstance(givens, dict) else list(givens)
        replaced = clone_replace(outs + [v for _, v in pairs], dict(items))
        outs, new_vals = replaced[: len(outs)], replaced[len(outs) :]
        pairs = [(s, v) for (s, _), v in zip(pairs, new_vals)]
    fg = FunctionGraph(name, inputs, outs, pairs, single_output=single)
    _check_inputs(fg, on_unused_input)
    return fg


def _check_inputs(fg, on_unused_input):
    needed = graph_inputs(fg.all_outputs())
    given = {v.uid for v in fg.inputs}
    for v in needed:
        if isinstance(v, (Constant, SharedVariable)) or v.uid in given:
            continue
        raise MissingInputError(
            f"{fg.name}: an output depends on the variable {v!r} ({v.type.short()}, "
            f"created at {trace_str(v)}), which is not among the inputs"
        )
    used = {v.uid for v in needed}
    unused = [v for v in fg.inputs if v.uid not in used]
    if unused and on_unused_input in ("raise", None):
        raise UnusedInputError(
            f"{fg.name}: input {unused[0]!r} is not used to compute any output; "
            "pass on_unused_input='ignore' (or 'warn') if that is intended"
        )
    if unused and on_unused_input == "warn":
        warnings.warn(f"{fg.name}: input {unused[0]!r} is unused", stacklevel=4)
