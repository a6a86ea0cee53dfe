"""The graph core: variables and apply nodes in Theano's bipartite model.

A :class:`Variable` is an SSA value: it is the output of at most one
:class:`Apply` node (its ``owner``), or a graph input (``owner is None``):
a free input, a :class:`Constant` or a :class:`SharedVariable`.  Apply nodes
are immutable once built; rewriting a graph builds new nodes.
"""

from __future__ import annotations

import itertools
import os
import sys

import numpy as np

from aotgraph.errors import AotgraphTypeError
from aotgraph.types import TensorType, as_dtype

# With the separator, so that a user file like ``.../aotgraph_demo.py`` beside
# the package is not mistaken for a file of the package.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_ids = itertools.count()


def user_trace():
    """``(filename, lineno)`` of the first caller frame outside aotgraph."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIR):
            return (filename, frame.f_lineno)
        frame = frame.f_back
    return None


def trace_str(var) -> str:
    tr = getattr(var, "trace", None)
    if not tr:
        return "<unknown location>"
    return f"{tr[0]}:{tr[1]}"


_WRITE_ONCE = frozenset({"type", "owner", "index", "uid"})


class Variable:
    """A symbolic tensor value of a given :class:`~aotgraph.types.TensorType`.

    Numeric operators, indexing and the numpy-like methods come from
    :mod:`aotgraph.tensor.methods`.
    """

    __slots__ = ("type", "owner", "index", "name", "trace", "uid", "__weakref__")

    def __init__(self, type, owner=None, index=None, name=None):
        if not isinstance(type, TensorType):
            raise AotgraphTypeError(f"Variable: type must be a TensorType, got {type!r}")
        if name is not None and not isinstance(name, str):
            raise AotgraphTypeError(f"Variable: name must be a str or None, got {name!r}")
        init = object.__setattr__  # past the write-once check, which costs time
        init(self, "type", type)
        init(self, "owner", owner)
        init(self, "index", index)
        init(self, "name", name)
        init(self, "trace", user_trace())
        init(self, "uid", next(_ids))

    # --- type shortcuts -------------------------------------------------
    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def static_shape(self) -> tuple:
        return self.type.shape

    @property
    def broadcastable(self) -> tuple:
        return self.type.broadcastable

    def __setattr__(self, key, value):
        # SSA: once built, a variable's type and producer never change
        # (``name`` and ``trace`` may, for printing and rewrites).
        if key in _WRITE_ONCE and hasattr(self, "uid"):
            raise AttributeError(f"Variable.{key} cannot be changed once the variable exists")
        object.__setattr__(self, key, value)

    def __repr__(self):
        return self._label()

    def _label(self) -> str:
        if self.name:
            return self.name
        if self.owner is not None:
            label = self.owner.op.label()
            if len(self.owner.outputs) > 1:
                label += f".{self.index}"
            return label
        return f"<{self.type.short()}>"

    def __bool__(self):
        raise AotgraphTypeError(
            f"a symbolic variable ({self!r}) has no truth value; use at.switch / "
            "at.where for conditions, and & | ~ for logical operations"
        )

    def __hash__(self):
        return object.__hash__(self)

    def __iter__(self):
        raise AotgraphTypeError(
            f"a symbolic variable ({self!r}) cannot be iterated; index it instead"
        )

    def clone(self) -> "Variable":
        """A new free variable of the same type and name."""
        return Variable(self.type, name=self.name)

    def eval(self, inputs_to_values=None):
        """Evaluate with the reference interpreter, like Theano's ``eval``.

        >>> import aotgraph.tensor as at
        >>> x = at.dvector("x")
        >>> (x * 2).eval({x: [1.0, 2.0]})
        array([2., 4.])
        """
        from aotgraph.function import evaluate

        return evaluate(self, inputs_to_values or {})


class Constant(Variable):
    """A constant tensor.  ``weak`` marks a Python scalar (NEP 50): its
    dtype yields to the other operands of the operation it appears in."""

    __slots__ = ("data", "weak", "_signature")

    def __init__(self, value, dtype=None, name=None, weak=False):
        arr = np.array(value, dtype=dtype, copy=True)
        if arr.dtype == object or arr.dtype.kind in "USVcmM":
            raise AotgraphTypeError(
                f"constant: cannot make a tensor constant from {type(value).__name__} "
                f"{value!r} (dtype {arr.dtype}); expected numbers"
            )
        dtype_name = as_dtype(arr.dtype, "constant")
        arr.setflags(write=False)
        super().__init__(TensorType(dtype_name, arr.shape), name=name)
        self.data = arr
        self.weak = weak
        self._signature = None

    def signature(self):
        """Hashable value identity, used to merge equal constants."""
        if self._signature is None:
            self._signature = (
                self.type.dtype,
                self.type.shape,
                self.data.tobytes(),
            )
        return self._signature

    def _label(self) -> str:
        if self.name:
            return self.name
        if self.data.size <= 6:
            text = np.array2string(self.data, separator=", ")
            return text if self.data.ndim else repr(self.data.item())
        return f"Constant{{{self.type.short()}}}"

    def clone(self) -> "Constant":
        return self


class SharedVariable(Variable):
    """A variable whose value persists across calls (``ag.shared``)."""

    __slots__ = ("_value",)

    def __init__(self, value, name=None, borrow=False, dtype=None, shape=None):
        if isinstance(value, Variable):
            raise AotgraphTypeError(
                "shared: value must be a numpy array or number, not a symbolic variable"
            )
        # borrow: no copy when none is needed (numpy 2's copy=False would raise)
        arr = np.asarray(value, dtype=dtype) if borrow else np.array(value, dtype=dtype)
        if arr.dtype == object or arr.dtype.kind in "USVcmM":
            raise AotgraphTypeError(
                f"shared: value of dtype {arr.dtype} is not supported; expected numbers"
            )
        if isinstance(value, float) and not isinstance(value, np.generic) and dtype is None:
            # A Python float becomes floatX, as in Theano.
            from aotgraph.config import config

            arr = arr.astype(config.floatX)
        dtype_name = as_dtype(arr.dtype, "shared")
        if shape is None:
            shape = arr.shape
        super().__init__(TensorType(dtype_name, shape), name=name)
        if not self.type.accepts_shape(arr.shape):
            raise AotgraphTypeError(
                f"shared: value of shape {arr.shape} does not fit static shape {shape}"
            )
        self._value = arr

    def get_value(self, borrow=False):
        """The current value (a copy unless ``borrow=True``)."""
        return self._value if borrow else self._value.copy()

    def set_value(self, value, borrow=False):
        """Replace the value; dtype and static lengths must still fit."""
        arr = np.asarray(value) if borrow else np.array(value)
        if arr.dtype != np.dtype(self.type.dtype):
            if not np.can_cast(arr.dtype, self.type.dtype, casting="same_kind"):
                raise AotgraphTypeError(
                    f"set_value of shared variable {self._label()!r}: dtype {arr.dtype} "
                    f"cannot be stored as {self.type.dtype}"
                )
            arr = arr.astype(self.type.dtype)
        if not self.type.accepts_shape(arr.shape):
            raise AotgraphTypeError(
                f"set_value of shared variable {self._label()!r}: shape {arr.shape} "
                f"does not fit {self.type!r}"
            )
        self._value = arr

    def _label(self) -> str:
        return self.name or f"<shared {self.type.short()}>"

    def clone(self) -> "SharedVariable":
        return self


class Apply:
    """An application of an op to input variables, producing outputs."""

    __slots__ = ("op", "inputs", "outputs", "__weakref__")

    def __init__(self, op, inputs, output_types):
        self.op = op
        self.inputs = tuple(inputs)
        for i, v in enumerate(self.inputs):
            if not isinstance(v, Variable):
                raise AotgraphTypeError(
                    f"{op.name}: input {i} must be a symbolic variable, got {v!r}"
                )
        self.outputs = tuple(Variable(t, owner=self, index=i) for i, t in enumerate(output_types))

    @property
    def out(self) -> Variable:
        (single,) = self.outputs
        return single

    def __setattr__(self, key, value):
        if hasattr(self, "outputs"):
            raise AttributeError("Apply nodes are immutable")
        object.__setattr__(self, key, value)

    def merge_key(self):
        """Structural identity: same op and same input variables."""
        return (self.op, tuple(v.uid for v in self.inputs))

    def __repr__(self):
        args = ", ".join(repr(v) for v in self.inputs)
        return f"{self.op.label()}({args})"


# --- graph walking ------------------------------------------------------


def as_list(outputs):
    if isinstance(outputs, Variable):
        return [outputs]
    return list(outputs)


def toposort(outputs, stop=()):
    """Apply nodes needed for ``outputs``, each after the nodes it reads.

    Iterative (deep graphs do not hit the recursion limit) and deterministic:
    inputs are visited in order.  Variables in ``stop`` are treated as inputs.
    """
    stop_ids = {v.uid for v in stop}
    order = []
    seen = set()
    for root in as_list(outputs):
        if root.owner is None or root.uid in stop_ids:
            continue
        stack = [(root.owner, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                if id(node) in seen:
                    continue
            if i < len(node.inputs):
                stack.append((node, i + 1))
                inp = node.inputs[i]
                if inp.owner is not None and inp.uid not in stop_ids and id(inp.owner) not in seen:
                    stack.append((inp.owner, 0))
            else:
                if id(node) not in seen:
                    seen.add(id(node))
                    order.append(node)
    return order


def graph_inputs(outputs, stop=()):
    """Owner-less variables (and ``stop`` variables) that ``outputs`` depend on,
    in first-seen order."""
    stop_ids = {v.uid for v in stop}
    found, seen = [], set()

    def add(v):
        if v.uid not in seen:
            seen.add(v.uid)
            found.append(v)

    for root in as_list(outputs):
        if root.owner is None or root.uid in stop_ids:
            add(root)
    for node in toposort(outputs, stop):
        for v in node.inputs:
            if v.owner is None or v.uid in stop_ids:
                add(v)
    return found


def ancestors(outputs, stop=()):
    """Every variable ``outputs`` depend on, outputs included."""
    result = {v.uid: v for v in graph_inputs(outputs, stop)}
    for node in toposort(outputs, stop):
        for v in node.inputs + node.outputs:
            result[v.uid] = v
    for v in as_list(outputs):
        result[v.uid] = v
    return list(result.values())


def clients(outputs):
    """Map ``uid`` of each variable to the list of ``(node, input_index)`` reading it."""
    result = {}
    for node in toposort(outputs):
        for i, v in enumerate(node.inputs):
            result.setdefault(v.uid, []).append((node, i))
    return result


def clone_replace(outputs, replace=None, rebuild=None):
    """Copy the graph of ``outputs`` with variables substituted.

    ``replace`` maps variables to their replacements (a replacement must have
    the same ndim and a compatible dtype).  Nodes not depending on a
    replaced variable are shared with the original graph.  Returns the same
    structure as ``outputs`` (a variable or a list).

    >>> import aotgraph.tensor as at
    >>> x, y = at.dscalar("x"), at.dscalar("y")
    >>> z = clone_replace(x * 2, {x: y})
    >>> float(z.eval({y: 3.0}))
    6.0
    """
    from aotgraph.ops.base import rebuild_node

    replace = dict(replace or {})
    single = isinstance(outputs, Variable)
    outs = as_list(outputs)
    mapping = {}
    for old, new in replace.items():
        if not isinstance(old, Variable):
            raise AotgraphTypeError(f"clone_replace: replace keys must be variables, got {old!r}")
        if not isinstance(new, Variable):
            from aotgraph.tensor.basic import as_tensor

            new = as_tensor(new)
        if new.ndim != old.ndim:
            raise AotgraphTypeError(
                f"clone_replace: replacement for {old!r} has ndim {new.ndim}, expected {old.ndim}"
            )
        mapping[old.uid] = new
    for node in toposort(outs, stop=[k for k in replace]):
        new_inputs = [mapping.get(v.uid, v) for v in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        new_node = (rebuild or rebuild_node)(node, new_inputs)
        for old, new in zip(node.outputs, new_node.outputs):
            mapping[old.uid] = new
    result = [mapping.get(v.uid, v) for v in outs]
    return result[0] if single else result
