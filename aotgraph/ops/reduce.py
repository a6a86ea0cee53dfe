"""Reductions over axes, with numpy's dtype rules and ``keepdims``.

``params["axis"]`` is a sorted tuple of non-negative axes (all axes when the
user gave ``None``), ``params["keepdims"]`` a bool.  ``argmax``/``argmin``
take a single axis or ``None`` (the flattened index), as numpy does.
"""

from __future__ import annotations

import numpy as np

from aotgraph.errors import AotgraphTypeError, ShapeError
from aotgraph.ops.base import apply1, register_op
from aotgraph.types import TensorType, is_discrete, shape_str


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
        # numpy lets a 0-d tensor be reduced over axis 0 (or -1), a no-op
        if not (-ndim <= a < ndim or (ndim == 0 and a in (0, -1))):
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
        return [
            TensorType(reduction_dtype(name, t.dtype), reduced_shape(t.shape, axes, op["keepdims"]))
        ]

    return infer


def _make_impl(name):
    func = REDUCTION_TABLE[name][0]

    def impl(op, x):
        out = func(x, axis=op["axis"], keepdims=op["keepdims"])
        return np.asarray(out).astype(reduction_dtype(name, x.dtype.name), copy=False)

    return impl


# --- derivatives ----------------------------------------------------------
# max/min: the gradient is split equally among the elements equal to the
# result (a subgradient; a unique extremum gets all of it).  prod: the
# gradient for x_i is the product of the other elements, exact with zeros.


def _expand_reduced(g, node):
    """A reduction's output (gradient) with the reduced axes back, length 1."""
    if node.op["keepdims"]:
        return g
    from aotgraph.ops.shape import dimshuffle

    axes, kept = node.op["axis"], iter(range(g.ndim))
    return dimshuffle(g, *["x" if a in axes else next(kept) for a in range(node.inputs[0].ndim)])


def _extremum_weights(node):
    """Each element's share of a max/min gradient: 1/count where it equals the result."""
    from aotgraph.ops.elemwise import cast, elementwise

    x = node.inputs[0]
    hit = cast(elementwise("eq", x, _expand_reduced(node.outputs[0], node)), x.dtype)
    return hit / reduce("sum", hit, node.op["axis"], True)


def _prod_partials(node):
    """d prod / d x_i, the product of the other elements (no division by 0)."""
    from aotgraph.ops.elemwise import cast
    from aotgraph.ops.elemwise import elementwise as e

    x, axes = node.inputs[0], node.op["axis"]
    zero = e("eq", x, 0)
    nonzero_x = e("switch", zero, 1, x)
    zero_here = cast(zero, x.dtype)
    n_zero = reduce("sum", zero_here, axes, True)
    prod_nonzero = reduce("prod", nonzero_x, axes, True)
    # no zeros: prod / x_i; one zero: the others' product at the zero, 0 elsewhere
    return e("switch", e("eq", n_zero, zero_here), prod_nonzero / nonzero_x, 0)


def _reduction_vjp(weights):
    def vjp(node, grads):
        (g,), x = grads, node.inputs[0]
        if g is None or is_discrete(x.dtype):
            return [None]
        from aotgraph.gradient import broadcast_like

        g = _expand_reduced(g, node)
        return [broadcast_like(g, x) if weights is None else g * weights(node)]

    return vjp


def _reduction_jvp(weights):
    def jvp(node, tangents):
        (t,) = tangents
        if t is None or is_discrete(node.outputs[0].dtype):
            return [None]
        if weights is not None:
            t = t * weights(node)
        return [reduce("sum", t, node.op["axis"], node.op["keepdims"])]

    return jvp


_REDUCTION_GRADS = {
    "sum": {"vjp": _reduction_vjp(None), "jvp": _reduction_jvp(None)},
    "prod": {"vjp": _reduction_vjp(_prod_partials), "jvp": _reduction_jvp(_prod_partials)},
    "max": {"vjp": _reduction_vjp(_extremum_weights), "jvp": _reduction_jvp(_extremum_weights)},
    "min": {"vjp": _reduction_vjp(_extremum_weights), "jvp": _reduction_jvp(_extremum_weights)},
    "all": {"nondiff": "boolean result"},
    "any": {"nondiff": "boolean result"},
}
_GRAD_NOTES = {
    "max": "; gradient split equally among tied maxima",
    "min": "; gradient split equally among tied minima",
    "prod": "; gradient exact with zeros (product of the other elements)",
}


for _name in REDUCTION_TABLE:
    register_op(
        _name,
        infer=_make_infer(_name),
        impl=_make_impl(_name),
        **_REDUCTION_GRADS[_name],
        categories=("reduction",),
        n_inputs=1,
        doc=f"{_name} over params['axis'], as numpy's {_name}" + _GRAD_NOTES.get(_name, ""),
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
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise AotgraphTypeError(f"{name}: axis must be None or an int, got {axis!r}")
        axes = normalize_axis(axis, x.ndim, name)
        axis = axes[0] if axes else None  # 0-d: the flattened index, 0
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
    # np.array, not ascontiguousarray: the latter turns a 0-d result into 1-d
    return np.array(np.broadcast_to(g, like.shape), dtype=g.dtype)


def _sum_to_like_vjp(node, grads):
    from aotgraph.gradient import broadcast_like

    (g,) = grads
    return [None if g is None else broadcast_like(g, node.inputs[0]), None]


register_op(
    "sum_to_like",
    infer=_sum_to_like_infer,
    impl=_sum_to_like_impl,
    vjp=_sum_to_like_vjp,
    jvp=lambda node, ts: [None if ts[0] is None else sum_to_like(ts[0], node.inputs[1])],
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
