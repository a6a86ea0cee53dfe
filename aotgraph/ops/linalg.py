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
    batch = broadcast_static([ash[:-2], bsh[:-2]], what="matmul batch dimensions")
    shape = batch + (ash[-2], bsh[-1])
    if a.ndim == 1:
        shape = shape[:-2] + shape[-1:]
    if b.ndim == 1:
        shape = shape[:-1]
    dtype = numpy_result_dtype(np.matmul, (a.dtype, b.dtype))
    return [TensorType(dtype, shape)]


def _matmul_impl(op, a, b):
    return np.matmul(a, b)


register_op(
    "matmul",
    infer=_matmul_infer,
    impl=_matmul_impl,
    categories=("linalg",),
    n_inputs=2,
    doc="np.matmul semantics, including batch broadcasting and 1-d operands",
)


def matmul(a, b):
    from aotgraph.tensor.basic import resolve_weak

    return apply1("matmul", resolve_weak("matmul", [a, b]))
