"""Shape ops: they move, view or replicate data, never compute on it.

Ops whose output lengths may be symbolic (``reshape``, ``alloc``,
``arange``, ``eye``) share one convention: a *dims pattern* parameter holds
each length as a static int, or ``None`` when the length is read at run time
from the next extra input (an integer scalar).  ``-1`` keeps numpy's reshape
meaning.  :func:`split_dims` builds such a pattern from user values.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from aotgraph.errors import AotgraphError, AotgraphTypeError, ShapeError
from aotgraph.graph import Constant, Variable
from aotgraph.ops.base import apply1, register_op
from aotgraph.types import INT_DTYPES, TensorType, shape_str


@contextmanager
def naming_operands(*operands):
    """Name the user's operands (and their types) in build errors raised
    inside, before the ``(at file:line)`` that ``apply_op`` appends."""
    try:
        yield
    except AotgraphError as exc:
        if exc.args and isinstance(exc.args[0], str) and "[operands:" not in exc.args[0]:
            shown = ", ".join(f"{v!r} {v.type.short()}" for v in operands)
            head, sep, tail = exc.args[0].rpartition(" (at ")
            msg = (
                f"{head} [operands: {shown}]{sep}{tail}"
                if sep
                else f"{exc.args[0]} [operands: {shown}]"
            )
            exc.args = (msg,) + exc.args[1:]
        raise


# --- dims patterns: static ints or symbolic int scalars -------------------


def _as_var(x):
    from aotgraph.tensor.basic import as_tensor

    return as_tensor(x)


def _int_entry(d, where, i):
    """One shape entry as a Python int or a symbolic integer scalar."""
    if isinstance(d, (bool, np.bool_)):
        raise AotgraphTypeError(f"{where}: shape entry {i} must be an integer, got {d!r}")
    if isinstance(d, (int, np.integer)):
        return int(d)
    if isinstance(d, np.ndarray) and d.ndim == 0 and d.dtype.kind in "iu":
        return int(d)
    if isinstance(d, Variable):
        if d.ndim != 0 or d.dtype not in INT_DTYPES:
            raise AotgraphTypeError(
                f"{where}: shape entry {i} must be an integer scalar, got {d.type.short()}"
            )
        if isinstance(d, Constant):
            return int(d.data)
        return d
    raise AotgraphTypeError(
        f"{where}: shape entry {i} must be an int or an integer scalar variable, got {d!r}"
    )


def shape_entries(shape, where):
    """A user's shape argument as a list of ints and symbolic int scalars.

    Accepts an int, a tuple/list of ints and scalars, a symbolic int vector
    of static length (``y.shape``) or an integer scalar variable.
    """
    if isinstance(shape, Variable) and shape.ndim == 1:
        if shape.dtype not in INT_DTYPES:
            raise AotgraphTypeError(f"{where}: shape must be integers, got {shape.type.short()}")
        if isinstance(shape, Constant):
            return [int(d) for d in shape.data]
        if shape.owner is not None and shape.owner.op.name == "make_vector":
            return [_int_entry(d, where, i) for i, d in enumerate(shape.owner.inputs)]
        (n,) = shape.type.shape
        if n is None:
            raise AotgraphTypeError(
                f"{where}: a symbolic shape vector needs a static length, got {shape.type.short()}"
            )
        return [_int_entry(shape[i], where, i) for i in range(n)]
    if isinstance(shape, (Variable, int, np.integer)):
        return [_int_entry(shape, where, 0)]
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    if not isinstance(shape, (list, tuple)):
        raise AotgraphTypeError(f"{where}: shape must be a tuple of ints, got {shape!r}")
    return [_int_entry(d, where, i) for i, d in enumerate(shape)]


def split_dims(entries):
    """``(pattern, inputs)``: ints stay in the pattern, symbolic entries
    become ``None`` there and extra op inputs (cast to int64)."""
    from aotgraph.ops.elemwise import cast

    pattern, inputs = [], []
    for d in entries:
        if isinstance(d, int):
            pattern.append(d)
        else:
            pattern.append(None)
            inputs.append(cast(d, "int64"))
    return tuple(pattern), inputs


def check_dim_inputs(where, types, n_expected, ints=True):
    """Infer-time check of the extra scalar inputs a dims pattern reads."""
    if len(types) != n_expected:
        raise AotgraphTypeError(f"{where}: expected {n_expected} scalar inputs, got {len(types)}")
    for i, t in enumerate(types):
        if t.ndim != 0 or (ints and t.dtype not in INT_DTYPES):
            kind = "an integer scalar" if ints else "a scalar"
            raise AotgraphTypeError(f"{where}: symbolic input {i} must be {kind}, got {t.short()}")


def fill_dims(pattern, values, where, allow_infer=False):
    """The concrete lengths at run time; symbolic lengths must be >= 0 (or
    -1, numpy's "infer this length", when ``allow_infer``)."""
    values = iter(values)
    out = []
    for d in pattern:
        if d is None:
            d = int(next(values))
            if d < (-1 if allow_infer else 0):
                raise ValueError(f"{where}: a symbolic length is {d} at run time, expected >= 0")
        out.append(d)
    return tuple(out)


def dims_of(x):
    """Lengths of ``x``: static ints, or ``shape_i`` nodes for dynamic ones."""
    return [d if d is not None else shape_i(x, a) for a, d in enumerate(x.type.shape)]


# --- dimshuffle -----------------------------------------------------------


def _dimshuffle_infer(op, types):
    (t,) = types
    pattern = op["pattern"]
    kept = [p for p in pattern if p != "x"]
    if sorted(kept) != sorted(set(kept)) or any(
        not isinstance(p, int) or not 0 <= p < t.ndim for p in kept
    ):
        raise AotgraphTypeError(
            f"dimshuffle: pattern {pattern!r} is invalid for ndim {t.ndim}: each axis "
            "may appear at most once, new axes are 'x'"
        )
    for axis in range(t.ndim):
        if axis not in kept and t.shape[axis] != 1:
            raise ShapeError(
                f"dimshuffle: pattern {pattern!r} drops axis {axis} of a tensor of "
                f"shape {shape_str(t.shape)}, but only axes of static length 1 can be dropped"
            )
    return [TensorType(t.dtype, tuple(1 if p == "x" else t.shape[p] for p in pattern))]


def _dimshuffle_impl(op, x):
    pattern = op["pattern"]
    kept = [p for p in pattern if p != "x"]
    dropped = tuple(a for a in range(x.ndim) if a not in kept)
    y = x.reshape([d for a, d in enumerate(x.shape) if a not in dropped]) if dropped else x
    order = sorted(kept)
    y = y.transpose([order.index(p) for p in kept])
    return y.reshape([1 if p == "x" else x.shape[p] for p in pattern])


def _dimshuffle_vjp(node, grads):
    (g,) = grads
    pattern = node.op["pattern"]
    new_axes = tuple(j for j, p in enumerate(pattern) if p == "x")
    if new_axes:
        from aotgraph.ops.reduce import reduce

        # summing a length-1 axis is the identity; it also accepts a
        # gradient whose type lost the static 1
        g = reduce("sum", g, new_axes, False)
    kept = [p for p in pattern if p != "x"]
    x = node.inputs[0]
    return [dimshuffle(g, *[kept.index(a) if a in kept else "x" for a in range(x.ndim)])]


register_op(
    "dimshuffle",
    infer=_dimshuffle_infer,
    impl=_dimshuffle_impl,
    vjp=_dimshuffle_vjp,
    jvp=lambda node, ts: [None if ts[0] is None else dimshuffle(ts[0], *node.op["pattern"])],
    categories=("shape",),
    n_inputs=1,
    doc="Theano's dimshuffle: permute axes, insert 'x' axes, drop static length-1 axes",
)


def dimshuffle(x, *pattern):
    """``x.dimshuffle(1, 'x', 0)``: permute axes and insert broadcastable ones.

    >>> import numpy as np, aotgraph.tensor as at
    >>> x = at.dmatrix("x")
    >>> x.dimshuffle(1, "x", 0).eval({x: np.ones((2, 3))}).shape
    (3, 1, 2)
    """
    x = _as_var(x)
    if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
        pattern = tuple(pattern[0])
    pattern = tuple(p if p == "x" else _axis_int(p) for p in pattern)
    if pattern == tuple(range(x.ndim)):
        return x
    return apply1("dimshuffle", [x], pattern=pattern)


def _axis_int(p):
    if isinstance(p, (int, np.integer)) and not isinstance(p, bool):
        return int(p)
    raise AotgraphTypeError(f"dimshuffle: pattern entries must be ints or 'x', got {p!r}")


# --- reshape ------------------------------------------------------------


def _reshape_static_check(t, target):
    """Raise when static lengths prove the reshape impossible."""
    if None in t.shape:
        return None
    total = int(np.prod(t.shape, dtype=np.int64))
    rest = int(np.prod([d for d in target if d not in (-1, None)], dtype=np.int64))
    bad = (
        (rest == 0 and -1 in target)  # numpy cannot infer a length next to a 0
        or (rest != 0 and total % rest)
        or (None not in target and -1 not in target and rest != total)
    )
    if bad:
        shown = tuple("?" if d is None else d for d in target)
        raise ShapeError(
            f"reshape: cannot reshape a tensor of shape {shape_str(t.shape)} "
            f"({total} elements) into shape {shown}"
        )
    return total // rest if rest else None


def _reshape_infer(op, types):
    t, dim_types = types[0], types[1:]
    target = op["shape"]
    check_dim_inputs("reshape", dim_types, sum(d is None for d in target))
    if sum(1 for d in target if d == -1) > 1:
        raise ShapeError(f"reshape: at most one -1 in the target shape {target}")
    if any(d is not None and d < -1 for d in target):
        raise ShapeError(f"reshape: invalid target shape {target}")
    inferred = _reshape_static_check(t, target)
    out = list(target)
    if -1 in target:
        out[target.index(-1)] = inferred if None not in target else None
    return [TensorType(t.dtype, tuple(out))]


def _reshape_impl(op, x, *dims):
    return x.reshape(fill_dims(op["shape"], dims, "reshape", allow_infer=True))


def _reshape_vjp(node, grads):
    x = node.inputs[0]
    return [reshape(grads[0], dims_of(x))] + [None] * (len(node.inputs) - 1)


def _reshape_jvp(node, tangents):
    t = tangents[0]
    if t is None:
        return [None]
    return [apply1("reshape", [t, *node.inputs[1:]], **node.op.params)]


register_op(
    "reshape",
    infer=_reshape_infer,
    impl=_reshape_impl,
    vjp=_reshape_vjp,
    jvp=_reshape_jvp,
    categories=("shape",),
    doc="reshape (C order) to params['shape']; one -1 allowed; None entries are read "
    "from the extra integer-scalar inputs",
)


def reshape(x, shape):
    """``x`` with a new shape of the same size (numpy's reshape, C order).

    Entries are ints (one may be -1) or symbolic integer scalars, or the
    whole shape is a symbolic vector such as ``y.shape``.

    >>> import numpy as np, aotgraph.tensor as at
    >>> x = at.dmatrix("x")
    >>> reshape(x, (x.shape[1], -1)).eval({x: np.zeros((2, 3))}).shape
    (3, 2)
    """
    x = _as_var(x)
    pattern, inputs = split_dims(shape_entries(shape, "reshape"))
    if None not in pattern and pattern == x.type.shape:
        return x
    with naming_operands(x):
        return apply1("reshape", [x, *inputs], shape=pattern)


# --- shape_i and make_vector: symbolic shapes ---------------------------


def _shape_i_infer(op, types):
    (t,) = types
    if not 0 <= op["axis"] < t.ndim:
        raise AotgraphTypeError(f"shape_i: axis {op['axis']} out of range for ndim {t.ndim}")
    return [TensorType("int64", ())]


register_op(
    "shape_i",
    infer=_shape_i_infer,
    impl=lambda op, x: np.array(x.shape[op["axis"]], dtype=np.int64),
    jvp=lambda node, ts: [None],
    nondiff="integer result",
    categories=("shape",),
    n_inputs=1,
    doc="length of axis params['axis'] at run time, as an int64 scalar",
)


def shape_i(x, axis):
    """The length of ``axis`` of ``x``: a constant when static."""
    x = _as_var(x)
    if not -x.ndim <= axis < x.ndim:
        raise AotgraphTypeError(f"shape_i: axis {axis} out of range for ndim {x.ndim}")
    axis %= x.ndim
    d = x.type.shape[axis]
    if d is not None:
        return Constant(d, dtype="int64")
    return apply1("shape_i", [x], axis=axis)


def _make_vector_infer(op, types):
    for i, t in enumerate(types):
        if t.ndim != 0:
            raise AotgraphTypeError(f"make_vector: input {i} must be a scalar, got {t.short()}")
    return [TensorType(op["dtype"], (len(types),))]


def _make_vector_vjp(node, grads):
    (g,) = grads
    return [g[i] for i in range(len(node.inputs))]


def _make_vector_jvp(node, tangents):
    if all(t is None for t in tangents):
        return [None]
    from aotgraph.tensor.shape import zeros_like

    parts = [zeros_like(v) if t is None else t for v, t in zip(node.inputs, tangents)]
    return [make_vector(parts, node.op["dtype"])]


register_op(
    "make_vector",
    infer=_make_vector_infer,
    impl=lambda op, *xs: np.array([x.item() for x in xs], dtype=op["dtype"]),
    vjp=_make_vector_vjp,
    jvp=_make_vector_jvp,
    categories=("shape",),
    doc="a vector of dtype params['dtype'] made of its scalar inputs",
)


def make_vector(scalars, dtype=None):
    """A vector of symbolic scalars (what ``x.shape`` is made of)."""
    from aotgraph.tensor.basic import resolve_weak

    items = resolve_weak("make_vector", list(scalars)) if scalars else []
    if dtype is None:
        dtype = np.result_type(*[v.dtype for v in items]).name if items else "int64"
    from aotgraph.ops.elemwise import cast

    return apply1("make_vector", [cast(v, dtype) for v in items], dtype=dtype)


# --- squeeze ------------------------------------------------------------


def _squeeze_infer(op, types):
    (t,) = types
    for a in op["axis"]:
        if not 0 <= a < t.ndim:
            raise AotgraphTypeError(f"squeeze: axis {a} is out of range for ndim {t.ndim}")
        if t.shape[a] not in (1, None):
            raise ShapeError(
                f"squeeze: cannot squeeze axis {a} of a tensor of shape "
                f"{shape_str(t.shape)}: its length is {t.shape[a]}, not 1"
            )
    return [TensorType(t.dtype, tuple(d for a, d in enumerate(t.shape) if a not in op["axis"]))]


def _squeeze_impl(op, x):
    for a in op["axis"]:
        if x.shape[a] != 1:
            raise ValueError(
                f"squeeze: axis {a} has length {x.shape[a]} at run time (input shape "
                f"{x.shape}); only length-1 axes can be squeezed"
            )
    return x.reshape([d for a, d in enumerate(x.shape) if a not in op["axis"]])


def _unsqueeze(g, axes, ndim):
    kept = iter(range(g.ndim))
    return dimshuffle(g, *["x" if a in axes else next(kept) for a in range(ndim)])


register_op(
    "squeeze",
    infer=_squeeze_infer,
    impl=_squeeze_impl,
    vjp=lambda node, gs: [_unsqueeze(gs[0], node.op["axis"], node.inputs[0].ndim)],
    jvp=lambda node, ts: [None if ts[0] is None else apply1("squeeze", ts, **node.op.params)],
    categories=("shape",),
    n_inputs=1,
    doc="drop the axes params['axis'], checking at run time that dynamic ones have length 1",
)


# --- alloc: broadcast a value to a (symbolic) shape ---------------------


def _alloc_infer(op, types):
    v, dim_types = types[0], types[1:]
    target = op["shape"]
    check_dim_inputs("alloc", dim_types, sum(d is None for d in target))
    if any(d is not None and d < 0 for d in target):
        raise ShapeError(f"alloc: negative length in the target shape {target}")
    if v.ndim > len(target):
        raise ShapeError(
            f"alloc: the value of shape {shape_str(v.shape)} has more dimensions than "
            f"the target shape {shape_str(target)}"
        )
    out = list(target)
    lead = len(target) - v.ndim
    for i, d in enumerate(v.shape):
        t = target[lead + i]
        if d is None or d == 1:
            continue
        if t is not None and t != d:
            raise ShapeError(
                f"alloc: cannot broadcast a value of shape {shape_str(v.shape)} to shape "
                f"{shape_str(target)} (axis {lead + i}: {d} vs {t})"
            )
        out[lead + i] = d
    return [TensorType(v.dtype, tuple(out))]


def _alloc_impl(op, v, *dims):
    shape = fill_dims(op["shape"], dims, "alloc")
    try:
        return np.array(np.broadcast_to(v, shape))
    except ValueError:
        raise ValueError(
            f"alloc: cannot broadcast a value of shape {v.shape} to shape {shape}"
        ) from None


def _alloc_vjp(node, grads):
    from aotgraph.ops.reduce import sum_to_like

    return [sum_to_like(grads[0], node.inputs[0])] + [None] * (len(node.inputs) - 1)


def _alloc_jvp(node, tangents):
    t = tangents[0]
    return [None if t is None else apply1("alloc", [t, *node.inputs[1:]], **node.op.params)]


register_op(
    "alloc",
    infer=_alloc_infer,
    impl=_alloc_impl,
    vjp=_alloc_vjp,
    jvp=_alloc_jvp,
    categories=("shape",),
    doc="a new tensor of shape params['shape'] filled by broadcasting the value input",
)


def alloc(value, shape):
    """``value`` broadcast (numpy rules) into a new tensor of ``shape``."""
    v = _as_var(value)
    pattern, inputs = split_dims(shape_entries(shape, "alloc"))
    if pattern == () and v.ndim == 0:
        return v  # nothing to broadcast: zeros_like of a scalar is the constant
    with naming_operands(v):
        return apply1("alloc", [v, *inputs], shape=pattern)


# --- join: concatenate along an axis -------------------------------------


def _join_infer(op, types):
    axis = op["axis"]
    first = types[0]
    if first.ndim == 0:
        raise ShapeError("concatenate: zero-dimensional tensors cannot be concatenated")
    out = list(first.shape)
    for i, t in enumerate(types):
        if t.ndim != first.ndim or t.dtype != first.dtype:
            raise AotgraphTypeError(
                f"concatenate: tensor {i} is {t.short()}, expected ndim {first.ndim} "
                f"and dtype {first.dtype} like tensor 0"
            )
        for a, d in enumerate(t.shape):
            if a == axis or d is None:
                continue
            if out[a] is not None and out[a] != d:
                raise ShapeError(
                    f"concatenate: tensor {i} has shape {shape_str(t.shape)}, tensor 0 has "
                    f"{shape_str(first.shape)}; all axes but axis {axis} must match"
                )
            out[a] = d
    lengths = [t.shape[axis] for t in types]
    out[axis] = None if None in lengths else sum(lengths)
    return [TensorType(first.dtype, tuple(out))]


def _join_vjp(node, grads):
    (g,) = grads
    axis = node.op["axis"]
    lead = (slice(None),) * axis
    start, out = 0, []
    for x in node.inputs:
        length = x.type.shape[axis]
        if length is None or not isinstance(start, int):
            length = shape_i(x, axis)
        stop = length if isinstance(start, int) and start == 0 else start + length
        out.append(g[lead + (slice(start, stop),)])
        start = stop
    return out


def _join_jvp(node, tangents):
    if all(t is None for t in tangents):
        return [None]
    from aotgraph.tensor.shape import zeros_like

    parts = [zeros_like(x) if t is None else t for x, t in zip(node.inputs, tangents)]
    return [apply1("join", parts, axis=node.op["axis"])]


register_op(
    "join",
    infer=_join_infer,
    impl=lambda op, *xs: np.concatenate(xs, axis=op["axis"]),
    vjp=_join_vjp,
    jvp=_join_jvp,
    categories=("shape",),
    doc="numpy's concatenate along params['axis'] (inputs share dtype and ndim)",
)


# --- constructors: arange and eye ---------------------------------------


def arange_dtype(values) -> str:
    """numpy's arange dtype: int64 for integers, float64 once a float (or a
    uint64 mixed with the default int64) takes part."""
    kinds = [
        "float64" if np.dtype(d).kind == "f" else "uint64" if d == "uint64" else "int64"
        for d in values
    ]
    return np.result_type("int64", *kinds).name


def _arange_length(start, stop, step):
    if step == 0:
        raise ShapeError("arange: step must not be zero")
    return max(0, int(np.ceil((stop - start) / step)))


def _arange_infer(op, types):
    bounds = (op["start"], op["stop"], op["step"])
    check_dim_inputs("arange", types, sum(b is None for b in bounds), ints=False)
    n = None if None in bounds else _arange_length(*bounds)
    return [TensorType(op["dtype"], (n,))]


def _arange_impl(op, *values):
    it = iter(values)
    bounds = [next(it).item() if b is None else b for b in (op["start"], op["stop"], op["step"])]
    if bounds[2] == 0:
        raise ValueError("arange: step is zero at run time")
    return np.arange(*bounds, dtype=op["dtype"])


def _arange_vjp(node, grads):
    """d/dstart sum(g * out) = sum(g); d/dstep = sum(g * [0, 1, 2, ...])."""
    (g,) = grads
    if g.dtype not in ("float32", "float64"):
        return [None] * len(node.inputs)
    from aotgraph.ops.reduce import reduce

    names = [k for k in ("start", "stop", "step") if node.op[k] is None]
    out = []
    for name in names:
        if name == "start":
            out.append(reduce("sum", g, None, False))
        elif name == "step":
            ramp = apply1("arange", [shape_i(g, 0)], start=0, stop=None, step=1, dtype=g.dtype)
            out.append(reduce("sum", g * ramp, None, False))
        else:
            out.append(None)
    return out


register_op(
    "arange",
    infer=_arange_infer,
    impl=_arange_impl,
    vjp=_arange_vjp,
    categories=(),  # creates data: not a view of an input (see opt/memory.py)
    doc="numpy's arange; params start/stop/step are numbers, or None when read from "
    "the scalar inputs (in that order)",
)


def _eye_infer(op, types):
    check_dim_inputs("eye", types, sum(op[k] is None for k in ("n", "m", "k")))
    for k in ("n", "m"):
        if op[k] is not None and op[k] < 0:
            raise ShapeError(f"eye: {k} must be >= 0, got {op[k]}")
    return [TensorType(op["dtype"], (op["n"], op["m"]))]


def _eye_impl(op, *values):
    it = iter(values)
    n = int(next(it)) if op["n"] is None else op["n"]
    m = int(next(it)) if op["m"] is None else op["m"]
    k = int(next(it)) if op["k"] is None else op["k"]
    if n < 0 or m < 0:
        raise ValueError(f"eye: lengths must be >= 0 at run time, got n={n}, m={m}")
    return np.eye(n, m, k, dtype=op["dtype"])


register_op(
    "eye",
    infer=_eye_infer,
    impl=_eye_impl,
    nondiff="a constant pattern of ones and zeros",
    categories=(),  # creates data: not a view of an input
    doc="numpy's eye(n, m, k); params n/m/k are ints, or None when read from the inputs",
)
