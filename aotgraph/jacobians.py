"""Jacobians and Hessians (``ag.jacobian``, ``ag.hessian``) from reverse passes.

Row ``i`` of the Jacobian of a vector ``e`` of length ``n`` is the reverse
pass seeded with the ``i``-th unit vector.  All rows are computed at once by
a *batched* reverse pass: the reverse pass is built for a symbolic seed
``u``, and its ``u``-dependent part is rebuilt with a leading batch axis
(:func:`aotgraph.batching.batch_graph`) for ``u = eye(n)``.  The forward
computation is shared and no loop runs at call time; the rows come out
stacked.  This needs a batching rule for every op on the reverse path; when
one is missing the rows are built one by one instead: unrolled into one
graph for a static length up to :data:`UNROLL_LIMIT`, otherwise, as in
Theano, with a ``scan`` over the rows (a loop at run time).
"""

from __future__ import annotations

import numpy as np

from aotgraph.errors import GradientError
from aotgraph.gradient import _check_wrt, _same_structure, grad
from aotgraph.graph import Constant, Variable, as_list, graph_inputs, trace_str

#: When the batched pass is not possible: up to this many rows a jacobian is
#: unrolled into one graph; beyond that (or for a dynamic length) it is a scan.
UNROLL_LIMIT = 16


def _jacobian_rows_batched(expression, wrt_list, consider_constant, disconnected_inputs):
    from aotgraph.batching import NoBatchRule, batch_graph
    from aotgraph.ops.shape import alloc, dims_of, shape_i
    from aotgraph.tensor.shape import eye

    seed = Variable(expression.type, name="_cotangent")
    grads = grad(
        None,
        wrt_list,
        consider_constant,
        known_grads={expression: seed},
        disconnected_inputs=disconnected_inputs,
    )
    size = shape_i(expression, 0)
    rows = batch_graph(grads, {seed: eye(size, dtype=expression.dtype)}, size)
    # a gradient that does not depend on the (linear) seed is zero
    rows = [
        alloc(g, [size, *dims_of(w)]) if r is None else r for g, r, w in zip(grads, rows, wrt_list)
    ]
    if any(v is seed for v in graph_inputs(rows)):
        raise NoBatchRule("jacobian: the batched reverse pass still reads the seed")
    return rows


def _jacobian_rows_unrolled(expression, wrt_list, consider_constant, disconnected_inputs):
    from aotgraph.tensor.shape import stack

    n = expression.type.shape[0]
    rows = []
    for i in range(n):
        seed = Constant(np.eye(n, dtype=expression.dtype)[i])
        rows.append(
            grad(
                None,
                wrt_list,
                consider_constant,
                known_grads={expression: seed},
                disconnected_inputs=disconnected_inputs,
            )
        )
    return [stack([r[j] for r in rows], axis=0) for j in range(len(wrt_list))]


def _jacobian_rows_by_scan(expression, wrt_list, consider_constant, disconnected_inputs):
    from aotgraph.loops import scan
    from aotgraph.ops.elemwise import cast, elementwise
    from aotgraph.tensor.shape import arange

    rows = arange(expression.shape[0])

    def row(i, expr, *wrt):
        seed = cast(elementwise("eq", rows, i), expr.dtype)
        return grad(
            None,
            list(wrt),
            consider_constant,
            known_grads={expr: seed},
            disconnected_inputs=disconnected_inputs,
        )

    result, _ = scan(row, sequences=rows, non_sequences=[expression, *wrt_list], return_list=True)
    return list(result)


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    """The Jacobian of vector (or scalar) ``expression`` with respect to
    ``wrt``: for each ``w``, a tensor of shape ``expression.shape + w.shape``
    (a batched reverse pass, see the module doc).

    >>> import aotgraph as ag, aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> ag.jacobian(x ** 2, x).eval({x: [1.0, 3.0]})
    array([[2., 0.],
           [0., 6.]])
    """
    from aotgraph.tensor.basic import as_tensor

    expression = as_tensor(expression)
    wrt_list = as_list(wrt)
    _check_wrt("jacobian", wrt_list)
    if expression.ndim == 0:
        return grad(expression, wrt, consider_constant, disconnected_inputs=disconnected_inputs)
    if expression.ndim != 1:
        raise GradientError(
            f"jacobian: expression must be a vector or a scalar, got ndim {expression.ndim} "
            f"({expression.type.short()}, created at {trace_str(expression)}); flatten it first"
        )
    args = (expression, wrt_list, consider_constant, disconnected_inputs)
    from aotgraph.batching import NoBatchRule

    try:
        return _same_structure(wrt, _jacobian_rows_batched(*args))
    except NoBatchRule:
        pass
    n = expression.type.shape[0]
    if n is not None and 0 < n <= UNROLL_LIMIT:
        return _same_structure(wrt, _jacobian_rows_unrolled(*args))
    return _same_structure(wrt, _jacobian_rows_by_scan(*args))


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """The Hessian of scalar ``cost`` with respect to each vector in ``wrt``
    (``jacobian(grad(cost, w), w)``).

    >>> import aotgraph as ag, aotgraph.tensor as at
    >>> x = at.dvector("x", shape=(2,))
    >>> ag.hessian((x ** 3).sum(), x).eval({x: [1.0, 2.0]})
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    from aotgraph.tensor.basic import as_tensor

    cost = as_tensor(cost)
    wrt_list = as_list(wrt)
    _check_wrt("hessian", wrt_list)
    result = []
    for w in wrt_list:
        if w.ndim != 1:
            raise GradientError(
                f"hessian: wrt must be vectors, got {w!r} of ndim {w.ndim}; flatten it first"
            )
        g = grad(cost, w, consider_constant, disconnected_inputs=disconnected_inputs)
        result.append(jacobian(g, w, consider_constant, disconnected_inputs="ignore"))
    return _same_structure(wrt, result)
