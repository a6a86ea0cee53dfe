"""User-level shape functions (numpy spellings) over the shape ops."""

from __future__ import annotations

from aotgraph.ops.shape import dimshuffle, reshape, shape_i
from aotgraph.tensor.basic import as_tensor


def drop_axes(x, axes):
    """``x`` without the given axes, which must have static length 1."""
    x = as_tensor(x)
    return dimshuffle(x, *[a for a in range(x.ndim) if a not in axes])


def flatten(x, ndim=1):
    """Collapse the trailing dimensions so that the result has ``ndim`` dims."""
    x = as_tensor(x)
    if ndim == 1:
        return reshape(x, (-1,))
    lead = x.type.shape[: ndim - 1]
    if None in lead:
        raise NotImplementedError("flatten: leading dimensions must be static for now")
    return reshape(x, tuple(lead) + (-1,))


def transpose(x, axes=None):
    x = as_tensor(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    return dimshuffle(x, *axes)


def reshape_method(x, *shape, ndim=None):
    """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return reshape(x, shape)


def transpose_method(x, *axes):
    """``x.transpose()``, ``x.transpose(1, 0)`` or ``x.transpose((1, 0))``."""
    if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
        axes = tuple(axes[0])
    return transpose(x, axes or None)


__all__ = ["reshape_method", "transpose_method", "dimshuffle", "reshape", "shape_i", "drop_axes", "flatten", "transpose"]
