"""Matrix products.  ``matmul`` follows ``np.matmul`` exactly (1-d operands
promoted and squeezed, leading batch dimensions broadcast)."""

from __future__ import annotations

import numpy as np

from aotgraph.errors import ShapeError
from aotgraph.ops.base import apply1, register_op
from aotgraph.ops.elemwise import numpy_result_dtype
from aotgraph.types import TensorType, broadcast_static, shape_str


def _matmul_infer(op, types):
    a, b = types
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"matmul: operands must have at least one dimension, got shapes "
            f"{shape_str(a.shape)} and {shape_str(b.shape)} (use * for scalars)"
        )
    ash = (1,) + a.shape if a.ndim == 1 else a.shape
    bsh = b.shape + (1,) if b.ndim == 1 else b.shape
    k1, k2 = ash[-1], bsh[-2]
    if k1 is not None and k2 is not None and k1 != k2:
        raise ShapeError(
            f"matmul: inner dimensions differ: left operand {a.short()} has {k1} "
            f"columns, right operand {b.short()} has {k2} rows"
        )
    batch = broadcast_static(
        [ash[:-2], bsh[:-2]],
        what="matmul batch dimensions",
        names=[f"left operand {a.short()}", f"right operand {b.short()}"],
    )
    shape = batch + (ash[-2], bsh[-1])
    if a.ndim == 1:
        shape = shape[:-2] + shape[-1:]
    if b.ndim == 1:
        shape = shape[:-1]
    dtype = numpy_result_dtype(np.matmul, (a.dtype, b.dtype))
    return [TensorType(dtype, shape)]


def _matmul_impl(op, a, b):
    return np.matmul(a, b)


def _swap_last(x):
    from aotgraph.ops.shape import dimshuffle

    nd = x.ndim
    return dimshuffle(x, *range(nd - 2), nd - 1, nd - 2)


def _matmul_vjp(node, grads):
    """1-d operands are promoted to matrices (as np.matmul does), the
    products transposed, batch axes summed back to each operand's shape."""
    from aotgraph.gradient import unbroadcast
    from aotgraph.ops.shape import dimshuffle
    from aotgraph.types import is_discrete

    (g,), (a, b) = grads, node.inputs
    if g is None:
        return [None, None]
    a2 = dimshuffle(a, "x", 0) if a.ndim == 1 else a
    b2 = dimshuffle(b, 0, "x") if b.ndim == 1 else b
    if a.ndim == 1:  # put back the row axis np.matmul removed
        k = g.ndim - 1 if b.ndim > 1 else g.ndim
        g = dimshuffle(g, *range(k), "x", *range(k, g.ndim))
    if b.ndim == 1:
        g = dimshuffle(g, *range(g.ndim), "x")
    ga = None if is_discrete(a.dtype) else unbroadcast(matmul(g, _swap_last(b2)), a2)
    gb = None if is_discrete(b.dtype) else unbroadcast(matmul(_swap_last(a2), g), b2)
    if ga is not None and a.ndim == 1:
        ga = dimshuffle(ga, 1)
    if gb is not None and b.ndim == 1:
        gb = dimshuffle(gb, 0)
    return [ga, gb]


def _matmul_jvp(node, tangents):
    (ta, tb), (a, b) = tangents, node.inputs
    terms = [matmul(ta, b) if ta is not None else None, matmul(a, tb) if tb is not None else None]
    terms = [t for t in terms if t is not None]
    return [None] if not terms else [terms[0] if len(terms) == 1 else terms[0] + terms[1]]


register_op(
    "matmul",
    infer=_matmul_infer,
    impl=_matmul_impl,
    vjp=_matmul_vjp,
    jvp=_matmul_jvp,
    categories=("linalg",),
    n_inputs=2,
    doc="np.matmul semantics, including batch broadcasting and 1-d operands",
)


def matmul(a, b):
    from aotgraph.tensor.basic import resolve_weak

    return apply1("matmul", resolve_weak("matmul", [a, b]))
