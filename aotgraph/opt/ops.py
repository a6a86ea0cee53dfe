"""Ops created by the optimizer (after differentiation, so no gradients).

``gemm``: ``alpha * op(a) @ op(b) + beta * c`` (BLAS), with ``op`` a
transpose when ``trans_a`` / ``trans_b``.  ``a`` and ``b`` are 2-d; ``c``
is absent when ``beta == 0`` and otherwise broadcasts to the product.

``fused_elementwise``: a chain of elementwise ops evaluated in one loop
(``steps``, see CONTRIBUTING.md), optionally followed by one reduction of
the last step (``reduce = (op_name, axes, keepdims)`` or None).

>>> import numpy as np
>>> from aotgraph.graph import Constant
>>> from aotgraph.ops.base import apply1
>>> a = Constant(np.eye(2)); b = Constant(np.ones((2, 2)))
>>> y = apply1("gemm", [a, b], alpha=2.0, beta=0.0, trans_a=False, trans_b=True)
>>> y.eval()
array([[2., 2.],
       [2., 2.]])
"""

from __future__ import annotations

import numpy as np

from aotgraph.errors import AotgraphTypeError, ShapeError
from aotgraph.ops.base import OPS, Op, register_op
from aotgraph.types import TensorType, broadcast_static, is_float, shape_str

_CREATED = "created by the optimizer after differentiation"


def _gemm_infer(op, types):
    if len(types) not in (2, 3):
        raise AotgraphTypeError(f"gemm: expected 2 or 3 inputs (a, b[, c]), got {len(types)}")
    if (len(types) == 3) == (op["beta"] == 0):
        raise AotgraphTypeError("gemm: input c must be given exactly when beta != 0")
    a, b = types[:2]
    if a.ndim != 2 or b.ndim != 2:
        raise AotgraphTypeError(f"gemm: a and b must be 2-d, got {a.short()} and {b.short()}")
    if len({t.dtype for t in types}) != 1 or not is_float(a.dtype):
        raise AotgraphTypeError(
            "gemm: a, b and c must share one float dtype, got "
            + ", ".join(t.short() for t in types)
        )
    m, k1 = a.shape[::-1] if op["trans_a"] else a.shape
    k2, n = b.shape[::-1] if op["trans_b"] else b.shape
    if k1 is not None and k2 is not None and k1 != k2:
        raise ShapeError(f"gemm: inner dimensions differ ({k1} and {k2})")
    shape = (m, n)
    if len(types) == 3:
        c = types[2]
        if c.ndim > 2:
            raise ShapeError(f"gemm: c of shape {shape_str(c.shape)} has more than 2 dims")
        shape = broadcast_static([shape, c.shape], what="gemm")
    return [TensorType(a.dtype, shape)]


def _gemm_impl(op, a, b, c=None):
    dtype = a.dtype
    a = a.T if op["trans_a"] else a
    b = b.T if op["trans_b"] else b
    out = np.matmul(a, b)
    if op["alpha"] != 1:
        out = out * dtype.type(op["alpha"])
    if c is not None:
        term = c if op["beta"] == 1 else c * dtype.type(op["beta"])
        out = out + term
    return np.asarray(out, dtype=dtype)


register_op(
    "gemm",
    infer=_gemm_infer,
    impl=_gemm_impl,
    nondiff=_CREATED,
    categories=("linalg",),
    n_inputs=None,
    doc="alpha * op(a) @ op(b) + beta * c with op a transpose per trans_a / trans_b",
)


# --- fused_elementwise ----------------------------------------------------


def _step_op(name, dtype):
    return Op("cast", dtype=dtype) if name == "cast" else Op(name)


def _fused_infer(op, types):
    steps = op["steps"]
    if not steps:
        raise AotgraphTypeError("fused_elementwise: steps must not be empty")
    known = list(types)
    n_in = len(types)
    for i, (name, dtype, args) in enumerate(steps):
        if any(not 0 <= a < n_in + i for a in args):
            raise AotgraphTypeError(f"fused_elementwise: step {i} reads a later value {args}")
        (out,) = OPS[name].infer(_step_op(name, dtype), [known[a] for a in args])
        if out.dtype != dtype:
            raise AotgraphTypeError(
                f"fused_elementwise: step {i} ({name}) gives {out.dtype}, steps say {dtype}"
            )
        known.append(out)
    result = known[-1]
    reduction = op.get("reduce")
    if reduction is not None:
        name, axes, keepdims = reduction
        (result,) = OPS[name].infer(Op(name, axis=axes, keepdims=keepdims), [result])
    return [result]


def _fused_impl(op, *arrays):
    values = list(arrays)
    for name, dtype, args in op["steps"]:
        values.append(OPS[name].impl(_step_op(name, dtype), *[values[a] for a in args]))
    result = values[-1]
    reduction = op.get("reduce")
    if reduction is not None:
        name, axes, keepdims = reduction
        result = OPS[name].impl(Op(name, axis=axes, keepdims=keepdims), result)
    return result


register_op(
    "fused_elementwise",
    infer=_fused_infer,
    impl=_fused_impl,
    nondiff=_CREATED,
    categories=(),
    n_inputs=None,
    doc="a chain of elementwise steps in one loop, optionally reduced at the end",
)
