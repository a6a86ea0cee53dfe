"""Op records and the op registry.

Everything about one op lives in one :class:`OpDef`, registered with
:func:`register_op` in the file of its family: its type/shape rule
(``infer``), its numpy reference implementation (``impl``), its gradient
(``vjp``) and optional forward-mode rule (``jvp``).  Emitters live in
``aotgraph/emit`` and are keyed by the op's name, because they read the IR,
never these Python objects.

An :class:`Op` is a *value*: an op name plus hashable, JSON-friendly
parameters (``Op("sum", axis=(0,))``).  Two equal ops applied to the same
inputs compute the same thing, which is what merging relies on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from aotgraph.errors import AotgraphError, AotgraphTypeError
from aotgraph.graph import Apply, Variable, trace_str, user_trace

#: Every registered op by name.
OPS: dict = {}

# Categories are sets of op names (rewrites match on sets, not lists).
ELEMENTWISE: set = set()  # outputs broadcast from inputs, element by element
COMMUTATIVE: set = set()  # f(a, b) == f(b, a)
ASSOCIATIVE: set = set()  # f(f(a, b), c) == f(a, f(b, c))
REDUCTIONS: set = set()  # reduce over the axes in params["axis"]
SHAPE_OPS: set = set()  # only move or view data
INDEXING: set = set()
LINALG: set = set()
CATEGORY_SETS = {
    "elementwise": ELEMENTWISE,
    "commutative": COMMUTATIVE,
    "associative": ASSOCIATIVE,
    "reduction": REDUCTIONS,
    "shape": SHAPE_OPS,
    "indexing": INDEXING,
    "linalg": LINALG,
}


@dataclass
class OpDef:
    """The record of one op (see module doc)."""

    name: str
    infer: Callable  # (op, [TensorType]) -> [TensorType]; raises on impossible types
    impl: Callable  # (op, *np.ndarray) -> np.ndarray | tuple of them
    vjp: Callable | None = None  # (node, [out grad Variable | None]) -> [in grad | None]
    jvp: Callable | None = None  # (node, [in tangent | None]) -> [out tangent | None]
    nondiff: str | None = None  # why there is no gradient, when there is none
    categories: frozenset = field(default_factory=frozenset)
    n_inputs: int | None = None  # None: variadic
    doc: str = ""
    label: Callable | None = None  # (op) -> short text for printing, when params are large


def register_op(
    name,
    *,
    infer,
    impl,
    vjp=None,
    jvp=None,
    nondiff=None,
    categories=(),
    n_inputs=None,
    doc="",
    label=None,
):
    """Register an op record; returns it.  Names are unique."""
    if name in OPS:
        raise AotgraphError(f"register_op: op {name!r} is already registered")
    unknown = set(categories) - set(CATEGORY_SETS)
    if unknown:
        raise AotgraphError(f"register_op({name!r}): unknown categories {unknown}")
    record = OpDef(
        name=name,
        infer=infer,
        impl=impl,
        vjp=vjp,
        jvp=jvp,
        nondiff=nondiff,
        categories=frozenset(categories),
        n_inputs=n_inputs,
        doc=doc,
        label=label,
    )
    OPS[name] = record
    for cat in categories:
        CATEGORY_SETS[cat].add(name)
    return record


def _freeze(value, where):
    """Params must be hashable and JSON-friendly: lists become tuples."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v, where) for v in value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise AotgraphTypeError(f"{where}: parameter value {value!r} is not a plain value")


class Op:
    """An op name with its parameters, e.g. ``Op("sum", axis=(0, 1))``."""

    __slots__ = ("name", "params", "_key")

    def __init__(self, name, **params):
        if name not in OPS:
            raise AotgraphError(f"Op: no op named {name!r} is registered")
        frozen = {k: _freeze(v, f"Op({name})") for k, v in sorted(params.items())}
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "params", frozen)
        object.__setattr__(self, "_key", (name, tuple(frozen.items())))

    def __setattr__(self, key, value):
        raise AttributeError("Op is immutable")

    @property
    def defn(self) -> OpDef:
        return OPS[self.name]

    def __getitem__(self, key):
        return self.params[key]

    def get(self, key, default=None):
        return self.params.get(key, default)

    def __eq__(self, other):
        return isinstance(other, Op) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    def label(self) -> str:
        if self.defn.label is not None:
            return self.defn.label(self)
        if not self.params:
            return self.name
        inner = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}{{{inner}}}"

    def __repr__(self):
        return self.label()


def apply_op(name, inputs, **params) -> Apply:
    """Build an apply node, inferring output types from the op's rule.

    Type and shape errors raised by the rule get the user's source line
    appended, so a spec author sees where the impossible expression is.
    """
    op = Op(name, **params)
    defn = op.defn
    inputs = list(inputs)
    if defn.n_inputs is not None and len(inputs) != defn.n_inputs:
        raise AotgraphTypeError(f"{name}: expected {defn.n_inputs} inputs, got {len(inputs)}")
    for i, v in enumerate(inputs):
        if not isinstance(v, Variable):
            raise AotgraphTypeError(
                f"{name}: input {i} must be a symbolic variable, got {type(v).__name__}"
            )
    try:
        out_types = defn.infer(op, [v.type for v in inputs])
    except AotgraphError as exc:
        where = user_trace()
        if where and "(at " not in str(exc):
            exc.args = (f"{exc.args[0]} (at {where[0]}:{where[1]})",) + exc.args[1:]
        raise
    return Apply(op, inputs, out_types)


def apply1(name, inputs, **params) -> Variable:
    """:func:`apply_op` for single-output ops: returns the output variable."""
    return apply_op(name, inputs, **params).outputs[0]


def rebuild_node(node: Apply, new_inputs) -> Apply:
    """The same op applied to other inputs (types inferred again)."""
    return apply_op(node.op.name, new_inputs, **node.op.params)


def describe(var: Variable) -> str:
    """``name: type (created at file:line)`` for error messages."""
    return f"{var!r}: {var.type.short()} (created at {trace_str(var)})"
