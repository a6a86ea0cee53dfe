"""Shape ops: they move or view data, never compute on it."""

from __future__ import annotations

import numpy as np

from aotgraph.errors import AotgraphTypeError, ShapeError
from aotgraph.ops.base import apply1, register_op
from aotgraph.types import TensorType, shape_str

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


register_op(
    "dimshuffle",
    infer=_dimshuffle_infer,
    impl=_dimshuffle_impl,
    categories=("shape",),
    n_inputs=1,
    doc="Theano's dimshuffle: permute axes, insert 'x' axes, drop static length-1 axes",
)


def dimshuffle(x, *pattern):
    """``x.dimshuffle(1, 'x', 0)``: permute axes and insert broadcastable ones."""
    from aotgraph.tensor.basic import as_tensor

    x = as_tensor(x)
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


def _reshape_infer(op, types):
    (t,) = types
    target = op["shape"]
    if sum(1 for d in target if d == -1) > 1:
        raise ShapeError(f"reshape: at most one -1 in the target shape {target}")
    if any(d < -1 for d in target):
        raise ShapeError(f"reshape: invalid target shape {target}")
    known = [d for d in t.shape]
    out = list(target)
    if -1 in target:
        rest = int(np.prod([d for d in target if d != -1], dtype=np.int64))
        if None in known:
            out[target.index(-1)] = None
        else:
            total = int(np.prod(known, dtype=np.int64))
            if rest == 0 or total % rest:
                raise ShapeError(
                    f"reshape: cannot reshape a tensor of shape {shape_str(t.shape)} "
                    f"into shape {target}"
                )
            out[target.index(-1)] = total // rest
    elif None not in known:
        if int(np.prod(known, dtype=np.int64)) != int(np.prod(target, dtype=np.int64)):
            raise ShapeError(
                f"reshape: cannot reshape a tensor of shape {shape_str(t.shape)} "
                f"({int(np.prod(known))} elements) into shape {target}"
            )
    return [TensorType(t.dtype, tuple(out))]


def _reshape_impl(op, x):
    return x.reshape(op["shape"])


register_op(
    "reshape",
    infer=_reshape_infer,
    impl=_reshape_impl,
    categories=("shape",),
    n_inputs=1,
    doc="reshape to params['shape'] (C order), one -1 allowed",
)


def reshape(x, shape):
    """``x`` with a new shape of the same size (numpy's reshape, C order)."""
    from aotgraph.tensor.basic import as_tensor

    x = as_tensor(x)
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(int(d) for d in shape)
    except TypeError:
        raise AotgraphTypeError(
            f"reshape: shape must be a tuple of ints, got {shape!r}"
        ) from None
    return apply1("reshape", [x], shape=shape)


# --- shape_i: one run-time length -----------------------------------------


def _shape_i_infer(op, types):
    (t,) = types
    if not 0 <= op["axis"] < t.ndim:
        raise AotgraphTypeError(f"shape_i: axis {op['axis']} out of range for ndim {t.ndim}")
    return [TensorType("int64", ())]


register_op(
    "shape_i",
    infer=_shape_i_infer,
    impl=lambda op, x: np.array(x.shape[op["axis"]], dtype=np.int64),
    nondiff="integer result",
    categories=("shape",),
    n_inputs=1,
    doc="length of axis params['axis'] at run time, as an int64 scalar",
)


def shape_i(x, axis):
    """The length of ``axis`` of ``x``: a constant when static."""
    from aotgraph.tensor.basic import as_tensor

    x = as_tensor(x)
    if axis < 0:
        axis += x.ndim
    d = x.type.shape[axis] if 0 <= axis < x.ndim else None
    if d is not None:
        from aotgraph.graph import Constant

        return Constant(d, dtype="int64")
    return apply1("shape_i", [x], axis=axis)
