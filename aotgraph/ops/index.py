"""Indexing ops: numpy's basic and advanced indexing and their updates.

An index is the ``idx`` parameter, a tuple of entries, one per index item
(``Ellipsis`` is expanded by the user-level parser, trailing axes are
implicit full slices):

- ``("int", v)``: an integer; ``v`` is an int or ``"?"`` (read from the
  next index input, an integer scalar);
- ``("slice", start, stop, step)``: each an int, ``None`` (absent) or ``"?"``;
- ``("newaxis",)``: a new axis of length 1;
- ``("array",)``: an integer-array input (advanced indexing);
- ``("mask", k)``: a boolean-array input spanning ``k`` axes.

``subtensor`` / ``inc_subtensor`` take basic indexes only (ints, slices,
newaxis); ``adv_subtensor`` / ``adv_inc_subtensor`` any mix, with numpy's
result layout.  The ``inc`` ops take ``(x, y, *index_inputs)`` and a ``set``
flag (Theano's ``set_instead_of_inc``); increments accumulate duplicates as
``np.add.at`` does.
"""

from __future__ import annotations

import numpy as np

from aotgraph.errors import AotgraphTypeError, ShapeError
from aotgraph.ops.base import apply1, register_op
from aotgraph.types import INT_DTYPES, TensorType, broadcast_static, shape_str


class IndexBuildError(ShapeError, IndexError):
    """An index that static shapes prove out of range (an ``IndexError``)."""


SYMBOLIC = "?"

# --- static layout ---------------------------------------------------------


def _axes_used(entry):
    kind = entry[0]
    if kind == "newaxis":
        return 0
    return entry[1] if kind == "mask" else 1


def _slice_length(n, start, stop, step):
    """Static length of ``range(n)[start:stop:step]`` or None."""
    if SYMBOLIC in (start, stop, step):
        return None
    if step == 0:
        raise ShapeError("slice step cannot be zero")
    if n is None:
        return None if (start, stop) != (None, None) or step not in (None, 1) else n
    return len(range(n)[slice(start, stop, step)])


def _check_static_int(where, v, n, axis):
    if n is not None and not -n <= v < n:
        raise IndexBuildError(
            f"{where}: index {v} is out of bounds for axis {axis} with length {n}"
        )


def _scalar_input(where, t, pos):
    if t.ndim != 0 or t.dtype not in INT_DTYPES:
        raise AotgraphTypeError(
            f"{where}: index input {pos} must be an integer scalar, got {t.short()}"
        )


def _check_mask(where, xt, axis, mt, k):
    if mt.dtype != "bool" or mt.ndim != k:
        raise AotgraphTypeError(
            f"{where}: mask input must be a {k}-d bool tensor, got {mt.short()}"
        )
    for j, d in enumerate(mt.shape):
        n = xt.shape[axis + j] if axis + j < xt.ndim else None
        if d is not None and n is not None and d != n:
            raise IndexBuildError(
                f"{where}: boolean index of shape {shape_str(mt.shape)} does not match the "
                f"indexed tensor of shape {shape_str(xt.shape)} at axis {axis + j}"
            )


def _walk(where, xt, idx, in_types):
    """Per entry: ``(kind, dims)``, kind "basic" or "adv" (advanced)."""
    used = sum(_axes_used(e) for e in idx)
    if used > xt.ndim:
        raise IndexBuildError(
            f"{where}: too many indices: the index uses {used} axes, the tensor has "
            f"shape {shape_str(xt.shape)}"
        )
    advanced = any(e[0] in ("array", "mask") for e in idx)
    idx = tuple(idx) + (("slice", None, None, None),) * (xt.ndim - used)
    types = iter(in_types)
    axis, parts = 0, []
    for e in idx:
        kind = e[0]
        n = xt.shape[axis] if axis < xt.ndim else None
        if kind == "int":
            if e[1] == SYMBOLIC:
                _scalar_input(where, next(types), axis)
            else:
                _check_static_int(where, e[1], n, axis)
            parts.append(("adv", ()) if advanced else ("basic", ()))
        elif kind == "slice":
            for c in e[1:]:
                if c == SYMBOLIC:
                    _scalar_input(where, next(types), axis)
            parts.append(("basic", (_slice_length(n, *e[1:]),)))
        elif kind == "newaxis":
            parts.append(("basic", (1,)))
        elif kind == "array":
            t = next(types)
            if t.dtype not in INT_DTYPES:
                raise AotgraphTypeError(
                    f"{where}: array index must have an integer dtype, got {t.short()}"
                )
            parts.append(("adv", t.shape))
        elif kind == "mask":
            _check_mask(where, xt, axis, next(types), e[1])
            parts.append(("adv", (None,)))
        else:
            raise AotgraphTypeError(f"{where}: unknown index entry {e!r}")
        axis += _axes_used(e)
    if next(types, None) is not None:
        raise AotgraphTypeError(f"{where}: more index inputs than the index reads")
    return parts


def index_shape(where, xt, idx, in_types):
    """The static shape of ``x[idx]`` (numpy's layout rules)."""
    parts = _walk(where, xt, idx, in_types)
    adv = [i for i, (kind, _) in enumerate(parts) if kind == "adv"]
    if not adv:
        return tuple(d for _, dims in parts for d in dims)
    bshape = broadcast_static(
        [dims for kind, dims in parts if kind == "adv"], what=f"{where}: index arrays"
    )
    basic = [(i, dims) for i, (kind, dims) in enumerate(parts) if kind == "basic"]
    if adv == list(range(adv[0], adv[-1] + 1)):
        before = [d for i, dims in basic if i < adv[0] for d in dims]
        after = [d for i, dims in basic if i > adv[0] for d in dims]
        return tuple(before) + bshape + tuple(after)
    # advanced indexes separated by a basic one: their dims go first
    return bshape + tuple(d for _, dims in basic for d in dims)


# --- run time ------------------------------------------------------------


def numpy_index(where, idx, values, x_shape):
    """The numpy index tuple for ``idx`` given the index input values."""
    values = iter(values)
    out, axis = [], 0

    def take(c):
        return int(next(values)) if c == SYMBOLIC else c

    for e in idx:
        kind = e[0]
        if kind == "int":
            v = take(e[1])
            n = x_shape[axis]
            if not -n <= v < n:
                raise IndexError(
                    f"{where}: index {v} is out of bounds for axis {axis} with length {n}"
                )
            out.append(v)
        elif kind == "slice":
            out.append(slice(*[take(c) for c in e[1:]]))
        elif kind == "newaxis":
            out.append(None)
        elif kind == "array":
            out.append(np.asarray(next(values)).astype(np.intp, copy=False))
        else:
            out.append(np.asarray(next(values), dtype=bool))
        axis += _axes_used(e)
    return tuple(out)


def _run(where, fn):
    """Call ``fn`` naming ``where`` in numpy's index and shape errors."""
    try:
        return fn()
    except IndexError as exc:
        if str(exc).startswith(where):
            raise
        raise IndexError(f"{where}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _sub_impl(op, x, *values):
    def go():
        return np.array(x[numpy_index(op.name, op["idx"], values, x.shape)])

    return _run(op.name, go)


def _inc_impl(op, x, y, *values):
    def go():
        index = numpy_index(op.name, op["idx"], values, x.shape)
        out = np.array(x, copy=True)
        if op["set"]:
            out[index] = y
        elif op.name == "adv_inc_subtensor":
            np.add.at(out, index, y)
        else:
            out[index] += y
        return out

    return _run(op.name, go)


# --- type rules ----------------------------------------------------------


def _sub_infer(op, types):
    xt = types[0]
    return [TensorType(xt.dtype, index_shape(op.name, xt, op["idx"], types[1:]))]


def _inc_infer(op, types):
    xt, yt = types[0], types[1]
    where = "set_subtensor" if op["set"] else "inc_subtensor"
    if yt.dtype != xt.dtype:
        raise AotgraphTypeError(
            f"{where}: value dtype {yt.dtype} differs from the tensor's {xt.dtype}"
        )
    sub = index_shape(where, xt, op["idx"], types[2:])
    bad = yt.ndim > len(sub) or any(
        d is not None and d != 1 and s is not None and d != s
        for d, s in zip(yt.shape[::-1], sub[::-1])
    )
    if bad:
        raise ShapeError(
            f"{where}: a value of shape {shape_str(yt.shape)} cannot be broadcast to the "
            f"indexed shape {shape_str(sub)}"
        )
    return [xt]


def _check_basic(op, types):
    if any(e[0] in ("array", "mask") for e in op["idx"]):
        raise AotgraphTypeError(f"{op.name}: advanced index entries need adv_{op.name}")


# --- gradients -----------------------------------------------------------


def _zeros_like(x):
    from aotgraph.tensor.shape import zeros_like

    return zeros_like(x)


def _inc_name(sub_name):
    return "adv_inc_subtensor" if sub_name == "adv_subtensor" else "inc_subtensor"


def _sub_name(inc_name):
    return "adv_subtensor" if inc_name == "adv_inc_subtensor" else "subtensor"


def _sub_vjp(node, grads):
    """The adjoint of gathering is scattering (adding) into zeros."""
    x, index_inputs = node.inputs[0], node.inputs[1:]
    gx = apply1(
        _inc_name(node.op.name),
        [_zeros_like(x), grads[0], *index_inputs],
        idx=node.op["idx"],
        set=False,
    )
    return [gx] + [None] * len(index_inputs)


def _sub_jvp(node, tangents):
    t = tangents[0]
    if t is None:
        return [None]
    return [apply1(node.op.name, [t, *node.inputs[1:]], **node.op.params)]


def _inc_vjp(node, grads):
    (g,) = grads
    y, index_inputs = node.inputs[1], node.inputs[2:]
    idx = node.op["idx"]
    if node.op["set"]:
        from aotgraph.graph import Constant

        zero = Constant(np.zeros((), g.dtype))
        gx = apply1(node.op.name, [g, zero, *index_inputs], idx=idx, set=True)
    else:
        gx = g
    from aotgraph.ops.reduce import sum_to_like

    gy = sum_to_like(apply1(_sub_name(node.op.name), [g, *index_inputs], idx=idx), y)
    return [gx, gy] + [None] * len(index_inputs)


def _inc_jvp(node, tangents):
    tx, ty = tangents[0], tangents[1]
    if tx is None and ty is None:
        return [None]
    x, y = node.inputs[0], node.inputs[1]
    tx = _zeros_like(x) if tx is None else tx
    ty = _zeros_like(y) if ty is None else ty
    return [apply1(node.op.name, [tx, ty, *node.inputs[2:]], **node.op.params)]


def _basic_sub_infer(op, types):
    _check_basic(op, types)
    return _sub_infer(op, types)


def _basic_inc_infer(op, types):
    _check_basic(op, types)
    return _inc_infer(op, types)


register_op(
    "subtensor",
    infer=_basic_sub_infer,
    impl=_sub_impl,
    vjp=_sub_vjp,
    jvp=_sub_jvp,
    categories=("indexing",),
    doc="basic indexing x[ints, slices, newaxis] (see the module doc for params['idx'])",
)
register_op(
    "inc_subtensor",
    infer=_basic_inc_infer,
    impl=_inc_impl,
    vjp=_inc_vjp,
    jvp=_inc_jvp,
    categories=("indexing",),
    doc="x with x[idx] set to (params['set']) or incremented by y, basic indexes",
)
register_op(
    "adv_subtensor",
    infer=_sub_infer,
    impl=_sub_impl,
    vjp=_sub_vjp,
    jvp=_sub_jvp,
    categories=("indexing",),
    doc="advanced indexing with integer arrays and boolean masks (numpy's layout)",
)
register_op(
    "adv_inc_subtensor",
    infer=_inc_infer,
    impl=_inc_impl,
    vjp=_inc_vjp,
    jvp=_inc_jvp,
    categories=("indexing",),
    doc="x with x[idx] set to or incremented by y (np.add.at: duplicates accumulate)",
)
