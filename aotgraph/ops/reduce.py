"""Reductions over axes, with numpy's dtype rules and ``keepdims``.

``params["axis"]`` is a sorted tuple of non-negative axes (all axes when the
user gave ``None``), ``params["keepdims"]`` a bool.  ``argmax``/``argmin``
take a single axis or ``None`` (the flattened index), as numpy does.
"""

from __future__ import annotations

import numpy as np

from aotgraph.errors import AotgraphTypeError, ShapeError
from aotgraph.ops.base import apply1, register_op
from aotgraph.types import TensorType, shape_str


def normalize_axis(axis, ndim, where):
    """``axis`` (None, int or sequence) as a sorted tuple of axes in range."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        axes = [int(axis)]
    else:
        try:
            axes = [int(a) for a in axis]
        except TypeError:
            raise AotgraphTypeError(
                f"{where}: axis must be None, an int or a tuple of ints, got {axis!r}"
            ) from None
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise AotgraphTypeError(
                f"{where}: axis {a} is out of bounds for a tensor of ndim {ndim}"
            )
        a = a % ndim if ndim else 0
        if a in out:
            raise AotgraphTypeError(f"{where}: axis {a} is repeated in {axis!r}")
        out.append(a)
    if ndim == 0:
        return ()
    return tuple(sorted(out))


def reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


# name: (numpy function, has identity (empty reductions allowed))
REDUCTION_TABLE = {
    "sum": (np.sum, True),
    "prod": (np.prod, True),
    "max": (np.max, False),
    "min": (np.min, False),
    "all": (np.all, True),
    "any": (np.any, True),
}


def reduction_dtype(name, dtype) -> str:
    func = REDUCTION_TABLE[name][0]
    return np.asarray(func(np.zeros((1,), dtype))).dtype.name


def _make_infer(name):
    has_identity = REDUCTION_TABLE[name][1]

    def infer(op, types):
        (t,) = types
        axes = op["axis"]
        if any(a >= t.ndim for a in axes):
            raise AotgraphTypeError(f"{name}: axis {axes} out of range for ndim {t.ndim}")
        if not has_identity and any(t.shape[a] == 0 for a in axes):
            raise ShapeError(
                f"{name}: cannot reduce over a zero-length axis of shape "
                f"{shape_str(t.shape)} ({name} has no identity)"
            )
        return [TensorType(reduction_dtype(name, t.dtype), reduced_shape(t.shape, axes, op["keepdims"]))]

    return infer


def _make_impl(name):
    func = REDUCTION_TABLE[name][0]

    def impl(op, x):
        out = func(x, axis=op["axis"], keepdims=op["keepdims"])
        return np.asarray(out).astype(reduction_dtype(name, x.dtype.name), copy=False)

    return impl


for _name in REDUCTION_TABLE:
    register_op(
        _name,
        infer=_make_infer(_name),
        impl=_make_impl(_name),
        categories=("reduction",),
        n_inputs=1,
        doc=f"{_name} over params['axis'], as numpy's {_name}",
    )


def _arg_infer(op, types):
    (t,) = types
    axis = op["axis"]
    if axis is None:
        if 0 in t.shape:
            raise ShapeError(f"{op.name}: attempt to get {op.name} of an empty sequence")
        shape = (1,) * t.ndim if op["keepdims"] else ()
    else:
        if t.shape[axis] == 0:
            raise ShapeError(f"{op.name}: cannot reduce over a zero-length axis")
        shape = reduced_shape(t.shape, (axis,), op["keepdims"])
    return [TensorType("int64", shape)]


def _make_arg_impl(func):
    def impl(op, x):
        return np.asarray(func(x, axis=op["axis"], keepdims=op["keepdims"])).astype("int64")

    return impl


for _name, _func in (("argmax", np.argmax), ("argmin", np.argmin)):
    register_op(
        _name,
        infer=_arg_infer,
        impl=_make_arg_impl(_func),
        nondiff="returns integer indices",
        categories=("reduction",),
        n_inputs=1,
        doc=f"{_name} along one axis (or flattened), first occurrence wins on ties",
    )


def reduce(name, x, axis=None, keepdims=False):
    """Apply reduction ``name`` (sum, prod, max, min, all, any)."""
    from aotgraph.tensor.basic import as_tensor

    x = as_tensor(x)
    axes = normalize_axis(axis, x.ndim, name)
    return apply1(name, [x], axis=axes, keepdims=bool(keepdims))


def arg_reduce(name, x, axis=None, keepdims=False):
    from aotgraph.tensor.basic import as_tensor

    x = as_tensor(x)
    if axis is not None:
        (axis,) = normalize_axis(axis, x.ndim, name) or (0,)
    return apply1(name, [x], axis=axis, keepdims=bool(keepdims))


# --- sum_to_like: the gradient of broadcasting ---------------------------


def _sum_to_like_infer(op, types):
    g, like = types
    if g.ndim < like.ndim:
        raise ShapeError(
            f"sum_to_like: gradient of ndim {g.ndim} cannot be summed to ndim {like.ndim}"
        )
    return [TensorType(g.dtype, like.shape)]


def _sum_to_like_impl(op, g, like):
    lead = g.ndim - like.ndim
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, (a, b) in enumerate(zip(like.shape, g.shape)) if a == 1 and b != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return np.ascontiguousarray(np.broadcast_to(g, like.shape)).astype(g.dtype, copy=False)


register_op(
    "sum_to_like",
    infer=_sum_to_like_infer,
    impl=_sum_to_like_impl,
    categories=("reduction",),
    n_inputs=2,
    doc=(
        "sum_to_like(g, x): g summed over its leading extra axes and over the axes "
        "where x has length 1 at run time, giving x's shape (the adjoint of broadcasting)"
    ),
)


def sum_to_like(g, like):
    """``g`` summed down to the (run-time) shape of ``like``; returns ``g``
    unchanged when the static shapes prove no summing is needed."""
    if g.ndim == like.ndim and all(
        a is not None and a == b for a, b in zip(like.type.shape, g.type.shape)
    ):
        return g
    return apply1("sum_to_like", [g, like])
