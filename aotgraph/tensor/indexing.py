"""Indexing: ``x[...]``, ``set_subtensor``, ``inc_subtensor`` and ``take``.

``x[index]`` follows numpy: ints (negative ones count from the end), slices
with constant or symbolic bounds, ``None`` (newaxis), ``...``, integer
arrays (advanced indexing, numpy's result layout) and boolean masks.
"""

from __future__ import annotations

import numpy as np

from aotgraph.errors import AotgraphTypeError
from aotgraph.graph import Constant, Variable
from aotgraph.ops.base import apply1
from aotgraph.ops.elemwise import cast
from aotgraph.ops.index import SYMBOLIC, IndexBuildError
from aotgraph.ops.shape import naming_operands
from aotgraph.tensor.basic import as_tensor
from aotgraph.types import INT_DTYPES

_FULL = ("slice", None, None, None)


def _slice_part(c, inputs):
    """A slice bound as a static int, None, or SYMBOLIC plus an input."""
    if c is None:
        return None
    if isinstance(c, (bool, np.bool_)):
        raise AotgraphTypeError(f"getitem: slice bounds must be integers, got {c!r}")
    if isinstance(c, (int, np.integer)):
        return int(c)
    if isinstance(c, Variable) and c.ndim == 0 and c.dtype in INT_DTYPES:
        if isinstance(c, Constant):
            return int(c.data)
        inputs.append(cast(c, "int64"))
        return SYMBOLIC
    raise AotgraphTypeError(
        f"getitem: slice bounds must be ints, None or integer scalars, got {c!r}"
    )


def _entry(item, inputs):
    """One index item as an ``idx`` entry (see :mod:`aotgraph.ops.index`)."""
    if item is None:
        return ("newaxis",)
    if isinstance(item, slice):
        parts = tuple(_slice_part(c, inputs) for c in (item.start, item.stop, item.step))
        if parts[2] == 0:
            raise ValueError("getitem: slice step cannot be zero")
        return ("slice",) + parts
    if isinstance(item, (bool, np.bool_)):
        raise NotImplementedError("getitem: a scalar boolean index (x[True]) is not supported")
    if isinstance(item, (int, np.integer)):
        return ("int", int(item))
    if isinstance(item, (list, tuple, np.ndarray)):
        arr = np.asarray(item)
        empty_list = arr.size == 0 and arr.dtype.kind == "f"  # [] indexes like ints
        item = as_tensor(arr.astype(np.int64) if empty_list else arr)
    if not isinstance(item, Variable):
        raise AotgraphTypeError(
            f"getitem: index items must be ints, slices, None, ..., integer arrays or "
            f"boolean masks, got {type(item).__name__} {item!r}"
        )
    if item.dtype == "bool":
        if item.ndim == 0:
            raise NotImplementedError(
                "getitem: a 0-d boolean index (x[mask] with a scalar mask) is not supported"
            )
        inputs.append(item)
        return ("mask", item.ndim)
    if item.dtype not in INT_DTYPES:
        raise AotgraphTypeError(
            f"getitem: index arrays must be integers or booleans, got {item.type.short()}"
        )
    if item.ndim == 0:
        if isinstance(item, Constant):
            return ("int", int(item.data))
        inputs.append(cast(item, "int64"))
        return ("int", SYMBOLIC)
    inputs.append(item)
    return ("array",)


def _expand_ellipsis(x, items):
    n_ell = sum(1 for it in items if it is Ellipsis)
    if n_ell > 1:
        raise IndexBuildError("getitem: an index can only have a single ellipsis ('...')")
    if not n_ell:
        return items
    used = 0
    for it in items:
        if it is None or it is Ellipsis:
            continue
        is_mask = isinstance(it, (Variable, np.ndarray)) and it.dtype == "bool"
        used += it.ndim if is_mask else 1
    pos = next(i for i, it in enumerate(items) if it is Ellipsis)
    fill = [slice(None)] * max(0, x.ndim - used)
    return items[:pos] + fill + items[pos + 1 :]


def _constant_mask_to_arrays(x, items):
    """A constant boolean mask whose axes match static lengths becomes its
    ``nonzero`` integer arrays, which have static lengths."""
    out, axis = [], 0
    for it in items:
        arr = it.data if isinstance(it, Constant) else it if isinstance(it, np.ndarray) else None
        if arr is not None and arr.dtype == bool and arr.ndim:
            if x.type.shape[axis : axis + arr.ndim] == arr.shape:
                out.extend(as_tensor(a.astype(np.int64)) for a in np.nonzero(arr))
                axis += arr.ndim
                continue
        out.append(it)
        if it is not None:
            axis += arr.ndim if arr is not None and arr.dtype == bool else 1
    return out


def parse_index(x, index):
    """``(idx, inputs, advanced)`` for ``x[index]``."""
    items = list(index) if isinstance(index, tuple) else [index]
    items = _constant_mask_to_arrays(x, _expand_ellipsis(x, items))
    inputs = []
    idx = tuple(_entry(it, inputs) for it in items)
    advanced = any(e[0] in ("array", "mask") for e in idx)
    return idx, inputs, advanced


def _fold_make_vector(x, idx, inputs):
    """``x.shape[i]`` and ``x.shape[a:b]`` simplify to the shape entries."""
    if inputs or len(idx) != 1 or x.owner is None or x.owner.op.name != "make_vector":
        return None
    parts, entry = x.owner.inputs, idx[0]
    if entry[0] == "int":
        i = entry[1]
        if not -len(parts) <= i < len(parts):
            raise IndexBuildError(
                f"getitem: index {i} is out of bounds for axis 0 with length {len(parts)}"
            )
        return parts[i]
    if entry[0] == "slice":
        from aotgraph.ops.shape import make_vector

        return make_vector(parts[slice(*entry[1:])], x.owner.op["dtype"])
    return None


def getitem(x, index):
    """``x[index]`` with numpy semantics (what ``Variable.__getitem__`` calls).

    >>> import numpy as np, aotgraph.tensor as at
    >>> x = at.dmatrix("x")
    >>> x[::-1, [0, 2]].eval({x: np.arange(6.0).reshape(2, 3)})
    array([[3., 5.],
           [0., 2.]])
    """
    x = as_tensor(x)
    idx, inputs, advanced = parse_index(x, index)
    folded = _fold_make_vector(x, idx, inputs)
    if folded is not None:
        return folded
    with naming_operands(x):
        return apply1("adv_subtensor" if advanced else "subtensor", [x, *inputs], idx=idx)


def _update(x_indexed, y, set_, where):
    if (
        not isinstance(x_indexed, Variable)
        or x_indexed.owner is None
        or (x_indexed.owner.op.name not in ("subtensor", "adv_subtensor"))
    ):
        raise AotgraphTypeError(
            f"{where}: the first argument must be an indexed expression such as x[idx], "
            f"got {x_indexed!r}"
        )
    node = x_indexed.owner
    x, index_inputs = node.inputs[0], node.inputs[1:]
    y = as_tensor(y)
    if isinstance(y, Constant) and y.weak:
        y = as_tensor(y.data.item(), dtype=x.dtype)
    if y.dtype != x.dtype:
        if not np.can_cast(y.dtype, x.dtype, "same_kind"):
            raise AotgraphTypeError(
                f"{where}: cannot store values of dtype {y.dtype} into a tensor of dtype "
                f"{x.dtype}; cast the value with .astype"
            )
        y = y.astype(x.dtype)
    name = "adv_inc_subtensor" if node.op.name == "adv_subtensor" else "inc_subtensor"
    with naming_operands(x, y):
        return apply1(name, [x, y, *index_inputs], idx=node.op["idx"], set=set_)


def set_subtensor(x_indexed, y, inplace=False, tolerate_inplace_aliasing=False):
    """A copy of ``x`` with ``x[idx]`` replaced by ``y`` (Theano's API: the
    first argument is the indexed expression ``x[idx]``).

    >>> import numpy as np, aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> set_subtensor(x[1:], 5.0).eval({x: np.zeros(3)})
    array([0., 5., 5.])
    """
    return _update(x_indexed, y, True, "set_subtensor")


def inc_subtensor(
    x_indexed, y, inplace=False, set_instead_of_inc=False, tolerate_inplace_aliasing=False
):
    """A copy of ``x`` with ``y`` added to ``x[idx]``; repeated integer
    indices accumulate (``np.add.at``).

    >>> import numpy as np, aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> inc_subtensor(x[[0, 0, 2]], 1.0).eval({x: np.zeros(3)})
    array([2., 0., 1.])
    """
    if set_instead_of_inc:
        return _update(x_indexed, y, True, "set_subtensor")
    return _update(x_indexed, y, False, "inc_subtensor")


def take(x, indices, axis=None):
    """numpy's ``take``: ``x[..., indices, ...]`` along ``axis`` (the
    flattened ``x`` when ``axis`` is None).

    >>> import numpy as np, aotgraph.tensor as at
    >>> x = at.dmatrix("x")
    >>> take(x, [2, 0], axis=1).eval({x: np.arange(6.0).reshape(2, 3)})
    array([[2., 0.],
           [5., 3.]])
    """
    x = as_tensor(x)
    if axis is None:
        from aotgraph.tensor.shape import flatten

        return getitem(flatten(x, 1), indices)
    if (
        isinstance(axis, bool)
        or not isinstance(axis, (int, np.integer))
        or not -x.ndim <= axis < x.ndim
    ):
        raise AotgraphTypeError(f"take: axis must be an int in [-{x.ndim}, {x.ndim}), got {axis!r}")
    if not isinstance(indices, Variable) and np.asarray(indices).size == 0:
        indices = np.zeros(np.shape(indices), np.int64)
    indices = as_tensor(indices)
    if indices.dtype not in INT_DTYPES:
        raise AotgraphTypeError(f"take: indices must be integers, got {indices.type.short()}")
    return getitem(x, (slice(None),) * (int(axis) % x.ndim) + (indices,))


__all__ = ["getitem", "set_subtensor", "inc_subtensor", "take"]
