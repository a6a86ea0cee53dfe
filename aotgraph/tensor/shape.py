"""User-level shape functions and constructors (numpy spellings) over the
shape ops of :mod:`aotgraph.ops.shape`.

Lengths may be static ints or symbolic integer scalars such as
``x.shape[0]``; a whole shape may be a symbolic vector such as ``y.shape``.
"""

from __future__ import annotations

import numbers

import numpy as np

from aotgraph.config import config
from aotgraph.errors import AotgraphError, AotgraphTypeError
from aotgraph.graph import Constant, Variable
from aotgraph.ops import shape as shape_ops
from aotgraph.ops.base import apply1
from aotgraph.ops.elemwise import cast
from aotgraph.ops.reduce import normalize_axis
from aotgraph.ops.shape import (
    arange_dtype,
    dims_of,
    dimshuffle,
    make_vector,
    naming_operands,
    reshape,
    shape_entries,
    shape_i,
    split_dims,
)
from aotgraph.tensor.basic import as_tensor
from aotgraph.types import as_dtype


def shape_vector(x):
    """``x.shape``: an int64 vector whose entries are constants (static
    lengths) or ``shape_i`` nodes, so ``x.shape[i]`` simplifies to them.

    >>> import numpy as np, aotgraph.tensor as at
    >>> x = at.tensor("float64", shape=(None, 3))
    >>> x.shape[1]
    3
    >>> x.shape.eval({x: np.zeros((5, 3))})
    array([5, 3])
    """
    x = as_tensor(x)
    return make_vector(dims_of(x) if x.ndim else [], "int64")


def drop_axes(x, axes):
    """``x`` without the given axes, which must have static length 1."""
    x = as_tensor(x)
    return dimshuffle(x, *[a for a in range(x.ndim) if a not in axes])


def flatten(x, ndim=1):
    """Collapse the trailing dimensions so that the result has ``ndim`` dims
    (Theano's ``flatten``); leading lengths may be dynamic.

    >>> import numpy as np, aotgraph.tensor as at
    >>> x = at.dtensor3("x")
    >>> flatten(x, 2).eval({x: np.zeros((2, 3, 4))}).shape
    (2, 12)
    """
    x = as_tensor(x)
    if (
        isinstance(ndim, bool)
        or not isinstance(ndim, (int, np.integer))
        or not 1 <= ndim <= max(x.ndim, 1)
    ):
        raise AotgraphTypeError(
            f"flatten: ndim must be an int in [1, {max(x.ndim, 1)}], got {ndim!r}"
        )
    dims = dims_of(x)
    rest = 1
    for d in dims[ndim - 1 :]:
        rest = d * rest  # not -1: numpy cannot infer a length when the size is 0
    return reshape(x, dims[: ndim - 1] + [rest])


def transpose(x, axes=None):
    """Permute the axes (reverse them when ``axes`` is None), as numpy."""
    x = as_tensor(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    axes = [_one_axis(a, x.ndim, "transpose") for a in axes]
    if sorted(axes) != list(range(x.ndim)):
        raise AotgraphTypeError(
            f"transpose: axes {tuple(axes)} are not a permutation of {x.ndim} axes"
        )
    return dimshuffle(x, *axes)


def reshape_method(x, *shape, ndim=None):
    """``x.reshape(2, 3)`` or ``x.reshape((2, 3))`` or ``x.reshape(y.shape)``."""
    if len(shape) == 1 and isinstance(shape[0], (list, tuple, np.ndarray, Variable)):
        shape = shape[0]
    return reshape(x, shape)


def transpose_method(x, *axes):
    """``x.transpose()``, ``x.transpose(1, 0)`` or ``x.transpose((1, 0))``."""
    if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
        axes = tuple(axes[0])
    return transpose(x, axes or None)


def _one_axis(axis, ndim, where):
    if (
        isinstance(axis, bool)
        or not isinstance(axis, (int, np.integer))
        or not -ndim <= axis < ndim
    ):
        raise AotgraphTypeError(f"{where}: axis {axis!r} is out of bounds for ndim {ndim}")
    return int(axis) % ndim


def squeeze(x, axis=None):
    """Remove length-1 axes.  With ``axis=None`` only the axes of static
    length 1 go; explicit axes of unknown length are checked at run time.

    >>> import numpy as np, aotgraph.tensor as at
    >>> x = at.tensor("float64", shape=(None, 1, 3))
    >>> squeeze(x).type.shape, squeeze(x, 0).eval({x: np.zeros((1, 1, 3))}).shape
    ((None, 3), (1, 3))
    """
    x = as_tensor(x)
    if axis is None:
        return drop_axes(x, [a for a, d in enumerate(x.type.shape) if d == 1])
    axes = normalize_axis(axis, x.ndim, "squeeze")
    if all(x.type.shape[a] == 1 for a in axes):
        return drop_axes(x, axes)
    with naming_operands(x):
        return apply1("squeeze", [x], axis=axes)


def expand_dims(x, axis):
    """Insert length-1 axes at positions ``axis`` of the result (numpy)."""
    x = as_tensor(x)
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    out_ndim = x.ndim + len(axes)
    axes = [_one_axis(a, out_ndim, "expand_dims") for a in axes]
    if len(set(axes)) != len(axes):
        raise AotgraphTypeError(f"expand_dims: repeated axis in {axis!r}")
    old = iter(range(x.ndim))
    return dimshuffle(x, *["x" if a in axes else next(old) for a in range(out_ndim)])


def swapaxes(x, axis1, axis2):
    """``x`` with two axes interchanged."""
    x = as_tensor(x)
    a, b = _one_axis(axis1, x.ndim, "swapaxes"), _one_axis(axis2, x.ndim, "swapaxes")
    order = list(range(x.ndim))
    order[a], order[b] = b, a
    return dimshuffle(x, *order)


def moveaxis(x, source, destination):
    """Move axes to new positions, the others keeping their order (numpy)."""
    x = as_tensor(x)
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    if len(src) != len(dst):
        raise AotgraphTypeError(
            "moveaxis: source and destination must have the same number of axes"
        )
    src = [_one_axis(a, x.ndim, "moveaxis") for a in src]
    dst = [_one_axis(a, x.ndim, "moveaxis") for a in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise AotgraphTypeError("moveaxis: repeated axis in source or destination")
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return dimshuffle(x, *order)


# --- joining ----------------------------------------------------------------


def _common_dtype(tensors, where):
    if not tensors:
        raise AotgraphTypeError(f"{where}: need at least one tensor")
    dtype = np.result_type(*[t.dtype for t in tensors]).name
    return [cast(t, dtype) for t in tensors]


def concatenate(tensors, axis=0):
    """numpy's ``concatenate`` (dtypes promote as numpy; ``axis=None``
    flattens first).

    >>> import numpy as np, aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> concatenate([x, [7.0]]).eval({x: [1.0, 2.0]})
    array([1., 2., 7.])
    """
    if isinstance(tensors, Variable):
        raise AotgraphTypeError("concatenate: expected a sequence of tensors, got one tensor")
    tensors = _common_dtype([as_tensor(t) for t in tensors], "concatenate")
    if axis is None:
        tensors, axis = [flatten(t, 1) for t in tensors], 0
    ndim = tensors[0].ndim
    if ndim == 0:
        raise AotgraphTypeError("concatenate: zero-dimensional tensors cannot be concatenated")
    for i, t in enumerate(tensors):
        if t.ndim != ndim:
            raise AotgraphTypeError(
                f"concatenate: tensor {i} has ndim {t.ndim} ({t.type.short()}), "
                f"tensor 0 has ndim {ndim}"
            )
    axis = _one_axis(axis, ndim, "concatenate")
    if len(tensors) == 1:
        return tensors[0]
    with naming_operands(*tensors):
        return apply1("join", tensors, axis=axis)


def stack(tensors, axis=0):
    """numpy's ``stack``: join tensors of the same shape along a new axis."""
    if isinstance(tensors, Variable):
        raise AotgraphTypeError("stack: expected a sequence of tensors, got one tensor")
    tensors = _common_dtype([as_tensor(t) for t in tensors], "stack")
    ndim = tensors[0].ndim
    for i, t in enumerate(tensors):
        if t.ndim != ndim:
            raise AotgraphTypeError(
                f"stack: all tensors must have the same shape; tensor {i} has ndim "
                f"{t.ndim}, tensor 0 has ndim {ndim}"
            )
    axis = _one_axis(axis, ndim + 1, "stack")
    parts = [expand_dims(t, axis) for t in tensors]
    if len(parts) == 1:
        return parts[0]
    with naming_operands(*tensors):
        return apply1("join", parts, axis=axis)


# --- constructors -------------------------------------------------------


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape`` (numpy rules), as a new tensor."""
    x = as_tensor(x)
    entries = shape_entries(shape, "broadcast_to")
    if tuple(entries) == x.type.shape:
        return x
    try:
        return shape_ops.alloc(x, entries)
    except AotgraphError as exc:
        exc.args = (str(exc).replace("alloc:", "broadcast_to:", 1),) + exc.args[1:]
        raise


def alloc(value, *shape):
    """Theano's ``alloc(value, *shape)``: ``value`` broadcast into a new
    tensor of ``shape`` (the lengths may be symbolic)."""
    if (
        len(shape) == 1
        and isinstance(shape[0], (list, tuple, np.ndarray, Variable))
        and (not isinstance(shape[0], Variable) or shape[0].ndim == 1)
    ):
        shape = shape[0]
    return shape_ops.alloc(as_tensor(value), shape)


def _fill_value(value, dtype, where):
    if isinstance(value, Variable):
        if value.ndim != 0:
            raise AotgraphTypeError(
                f"{where}: fill_value must be a scalar, got {value.type.short()}"
            )
        return value if dtype is None else cast(value, dtype)
    if dtype is None:
        if isinstance(value, (bool, np.bool_)):
            dtype = "bool"
        elif isinstance(value, numbers.Integral):
            dtype = np.asarray(value).dtype.name if isinstance(value, np.generic) else "int64"
        else:
            dtype = np.asarray(value).dtype.name if isinstance(value, np.generic) else config.floatX
    return Constant(np.asarray(value).astype(as_dtype(dtype, where)))


def full(shape, fill_value, dtype=None):
    """A tensor of ``shape`` filled with ``fill_value`` (a Python int gives
    int64, a Python float ``floatX``, a symbolic scalar its own dtype)."""
    return _filled(shape, fill_value, dtype, "full")


def _filled(shape, fill_value, dtype, where):
    return shape_ops.alloc(_fill_value(fill_value, dtype, where), shape_entries(shape, where))


def zeros(shape, dtype=None):
    """Zeros of ``shape`` and ``dtype`` (default ``floatX``, as in Theano).

    >>> import aotgraph.tensor as at
    >>> zeros((2, 3), "int32").eval()
    array([[0, 0, 0],
           [0, 0, 0]], dtype=int32)
    """
    return _filled(shape, 0, dtype or config.floatX, "zeros")


def ones(shape, dtype=None):
    """Ones of ``shape`` and ``dtype`` (default ``floatX``)."""
    return _filled(shape, 1, dtype or config.floatX, "ones")


def full_like(x, fill_value, dtype=None):
    """A tensor like ``x`` (its run-time shape) filled with ``fill_value``;
    the dtype is ``x``'s unless given.  Never reads ``x``'s values, so an
    ``inf`` or ``nan`` in ``x`` cannot leak in."""
    x = as_tensor(x)
    value = _fill_value(fill_value, dtype or x.dtype, "full_like")
    return shape_ops.alloc(value, dims_of(x))


def zeros_like(x, dtype=None):
    """Zeros with the shape and dtype of ``x`` (any variable).

    >>> import numpy as np, aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> zeros_like(x).eval({x: [np.inf, 1.0]})
    array([0., 0.])
    """
    return full_like(x, 0, dtype)


def ones_like(x, dtype=None):
    """Ones with the shape and dtype of ``x``."""
    return full_like(x, 1, dtype)


def _bound(value, where):
    """A static number, or a symbolic scalar."""
    if isinstance(value, Constant) and value.ndim == 0:
        return value.data.item(), value.dtype
    if isinstance(value, Variable):
        if value.ndim != 0:
            raise AotgraphTypeError(f"{where}: bounds must be scalars, got {value.type.short()}")
        return value, value.dtype
    if isinstance(value, (bool, np.bool_, numbers.Integral)):
        return int(value), "int64"
    if isinstance(value, numbers.Real):
        return float(value), "float64"
    raise AotgraphTypeError(f"{where}: bounds must be numbers or scalars, got {value!r}")


def arange(start, stop=None, step=1, dtype=None):
    """numpy's ``arange``; bounds may be symbolic scalars (the length is then
    dynamic).  Integers give int64, floats float64, as numpy.

    >>> import aotgraph.tensor as at
    >>> n = at.lscalar("n")
    >>> arange(1, n, 2).eval({n: 8})
    array([1, 3, 5, 7])
    """
    if stop is None:
        start, stop = 0, start
    bounds = [_bound(v, "arange") for v in (start, stop, step)]
    dtype = as_dtype(dtype, "arange") if dtype is not None else arange_dtype([d for _, d in bounds])
    params = {
        k: (None if isinstance(v, Variable) else v)
        for k, (v, _) in zip(("start", "stop", "step"), bounds)
    }
    inputs = [v for v, _ in bounds if isinstance(v, Variable)]
    return apply1("arange", inputs, dtype=dtype, **params)


def eye(n, m=None, k=0, dtype=None):
    """numpy's ``eye`` (``dtype`` defaults to ``floatX``); ``n``, ``m``, ``k``
    may be symbolic integer scalars.

    >>> eye(2, 3, 1, "int64").eval()
    array([[0, 1, 0],
           [0, 0, 1]])
    """
    pattern, inputs = split_dims(shape_entries([n, n if m is None else m], "eye"))
    k_pat, k_in = split_dims(shape_entries([k], "eye"))
    dtype = as_dtype(dtype or config.floatX, "eye")
    return apply1("eye", inputs + k_in, n=pattern[0], m=pattern[1], k=k_pat[0], dtype=dtype)


def repeat(x, repeats, axis=None):
    """numpy's ``repeat`` with an int ``repeats`` (each element repeated)."""
    x = as_tensor(x)
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)):
        raise NotImplementedError(
            f"repeat: only a static int repeats is supported, got {repeats!r}"
        )
    if repeats < 0:
        raise ValueError(f"repeat: repeats must be >= 0, got {repeats}")
    if axis is None:
        x, axis = flatten(x, 1), 0
    axis = _one_axis(axis, x.ndim, "repeat")
    dims = dims_of(x)
    wide = broadcast_to(
        expand_dims(x, axis + 1), dims[: axis + 1] + [int(repeats)] + dims[axis + 1 :]
    )
    n = dims[axis] * int(repeats)
    return reshape(wide, dims[:axis] + [n] + dims[axis + 1 :])


def tile(x, reps):
    """numpy's ``tile`` with static int ``reps``."""
    x = as_tensor(x)
    reps = [reps] if isinstance(reps, (int, np.integer)) else list(reps)
    if any(isinstance(r, bool) or not isinstance(r, (int, np.integer)) for r in reps):
        raise NotImplementedError(f"tile: only static int reps are supported, got {reps!r}")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be >= 0, got {reps!r}")
    reps = [1] * (x.ndim - len(reps)) + [int(r) for r in reps]
    x = dimshuffle(x, *(["x"] * (len(reps) - x.ndim) + list(range(x.ndim))))
    dims = dims_of(x)
    wide = []
    for r, d in zip(reps, dims):
        wide += [r, d]
    y = broadcast_to(dimshuffle(x, *[p for a in range(x.ndim) for p in ("x", a)]), wide)
    return reshape(y, [r * d for r, d in zip(reps, dims)])


__all__ = [
    "alloc",
    "arange",
    "broadcast_to",
    "concatenate",
    "dimshuffle",
    "drop_axes",
    "expand_dims",
    "eye",
    "flatten",
    "full",
    "full_like",
    "make_vector",
    "moveaxis",
    "ones",
    "ones_like",
    "repeat",
    "reshape",
    "reshape_method",
    "shape_i",
    "shape_vector",
    "squeeze",
    "stack",
    "swapaxes",
    "tile",
    "transpose",
    "transpose_method",
    "zeros",
    "zeros_like",
]
