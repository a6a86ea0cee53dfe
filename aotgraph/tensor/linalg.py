"""Linear-algebra builders over ``matmul`` (tensordot, outer, batched products).

They are decompositions into ``dimshuffle``, ``reshape`` and ``matmul``, so
their gradients and emitters come from those ops.
"""

from __future__ import annotations

import numpy as np

from aotgraph.errors import AotgraphTypeError, ShapeError
from aotgraph.ops.linalg import matmul
from aotgraph.ops.shape import dims_of, dimshuffle, reshape
from aotgraph.tensor.basic import as_tensor


def _tensordot_axes(a, b, axes):
    """``axes`` as two equal-length lists of non-negative axes."""
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        n = int(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise AotgraphTypeError(
                f"tensordot: axes={n} needs 0 <= axes <= ndim of both operands "
                f"(got ndims {a.ndim} and {b.ndim})"
            )
        return list(range(a.ndim - n, a.ndim)), list(range(n))
    try:
        axes_a, axes_b = axes
    except (TypeError, ValueError):
        raise AotgraphTypeError(
            f"tensordot: axes must be an int or a pair of axis sequences, got {axes!r}"
        ) from None
    axes_a = [axes_a] if isinstance(axes_a, (int, np.integer)) else list(axes_a)
    axes_b = [axes_b] if isinstance(axes_b, (int, np.integer)) else list(axes_b)
    if len(axes_a) != len(axes_b):
        raise AotgraphTypeError(
            f"tensordot: axes {axes!r} name {len(axes_a)} axes of a but {len(axes_b)} of b"
        )
    return _normalize(axes_a, a.ndim, "a"), _normalize(axes_b, b.ndim, "b")


def _normalize(axes, ndim, which):
    out = []
    for ax in axes:
        if not -ndim <= int(ax) < ndim:
            raise AotgraphTypeError(
                f"tensordot: axis {ax} is out of range for operand {which} of ndim {ndim}"
            )
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise AotgraphTypeError(f"tensordot: axis repeated in {axes!r} of operand {which}")
    return out


def _product(dims):
    total = 1
    for d in dims:
        total = total * d
    return total


def tensordot(a, b, axes=2):
    """numpy's ``tensordot``: sum products over ``axes`` of ``a`` and ``b``
    (an int ``n`` for the last ``n`` axes of ``a`` and the first ``n`` of
    ``b``, or a pair of axis lists).  The result's axes are the remaining
    axes of ``a`` then of ``b``.

    >>> import numpy as np, aotgraph.tensor as at
    >>> a, b = at.dtensor3("a"), at.dmatrix("b")
    >>> va, vb = np.ones((2, 3, 4)), np.ones((3, 4))
    >>> tensordot(a, b, axes=2).eval({a: va, b: vb})
    array([12., 12.])
    """
    a, b = as_tensor(a), as_tensor(b)
    axes_a, axes_b = _tensordot_axes(a, b, axes)
    for i, j in zip(axes_a, axes_b):
        da, db = a.type.shape[i], b.type.shape[j]
        if da is not None and db is not None and da != db:
            raise ShapeError(
                f"tensordot: axis {i} of a ({a.type.short()}) has length {da} but axis {j} "
                f"of b ({b.type.short()}) has length {db}"
            )
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    dims_a, dims_b = dims_of(a), dims_of(b)
    k = _product(dims_a[i] for i in axes_a)
    m = _product(dims_a[i] for i in free_a)
    n = _product(dims_b[j] for j in free_b)
    a2 = reshape(dimshuffle(a, *free_a, *axes_a), (m, k))
    b2 = reshape(dimshuffle(b, *axes_b, *free_b), (k, n))
    out_dims = [dims_a[i] for i in free_a] + [dims_b[j] for j in free_b]
    return reshape(matmul(a2, b2), out_dims)


def outer(a, b):
    """numpy's ``outer``: both operands flattened, ``a[:, None] * b[None, :]``.

    >>> import aotgraph.tensor as at
    >>> a, b = at.dvector("a"), at.dvector("b")
    >>> outer(a, b).eval({a: [1.0, 2.0], b: [3.0, 4.0, 5.0]})
    array([[ 3.,  4.,  5.],
           [ 6.,  8., 10.]])
    """
    a, b = as_tensor(a), as_tensor(b)
    a1 = a if a.ndim == 1 else reshape(a, (-1,))
    b1 = b if b.ndim == 1 else reshape(b, (-1,))
    return dimshuffle(a1, 0, "x") * dimshuffle(b1, "x", 0)


def batched_dot(a, b):
    """Theano's ``batched_dot``: ``dot(a[i], b[i])`` for each ``i`` of the
    leading (batch) axis; operands are 2-d (a batch of vectors) or 3-d (a
    batch of matrices).

    >>> import numpy as np, aotgraph.tensor as at
    >>> a, b = at.dmatrix("a"), at.dmatrix("b")
    >>> batched_dot(a, b).eval({a: [[1.0, 2.0], [3.0, 4.0]], b: [[1.0, 1.0], [2.0, 0.0]]})
    array([3., 6.])
    """
    a, b = as_tensor(a), as_tensor(b)
    for which, x in (("a", a), ("b", b)):
        if x.ndim not in (2, 3):
            raise AotgraphTypeError(
                f"batched_dot: operand {which} must be 2-d or 3-d (batch axis first), "
                f"got {x.type.short()}"
            )
    a3 = dimshuffle(a, 0, "x", 1) if a.ndim == 2 else a
    b3 = dimshuffle(b, 0, 1, "x") if b.ndim == 2 else b
    out = matmul(a3, b3)
    keep = [0] + ([1] if a.ndim == 3 else []) + ([2] if b.ndim == 3 else [])
    return dimshuffle(out, *keep)


__all__ = ["batched_dot", "matmul", "outer", "tensordot"]
