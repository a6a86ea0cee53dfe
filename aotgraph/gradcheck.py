"""Numerical gradient checking: Theano's ``verify_grad`` method.

The output of ``fun`` is projected onto random weights in ``[0.5, 1.5)``
(so that every output element takes part and errors cannot cancel), the
gradient of that scalar is computed symbolically and by finite differences,
and the check fails only where *both* the absolute and the relative error
exceed their tolerances.  Also reachable as ``ag.gradient.verify_grad``.
"""

from __future__ import annotations

import numpy as np

from aotgraph.graph import Variable
from aotgraph.types import TensorType, is_float

#: Finite-difference step per dtype and method (central differences err by
#: O(eps**2), so they afford a larger step and lose less to rounding).
STEP = {
    "forward": {"float64": 1e-7, "float32": 3e-4},
    "central": {"float64": 1e-6, "float32": 1e-3},
}
#: Default absolute and relative tolerance per input dtype (Theano's).
TOLERANCE = {"float64": 1e-4, "float32": 1e-2}
_MODES = {None: True, "FAST_RUN": True, "FAST_COMPILE": False}


class GradientCheckError(AssertionError):
    """The symbolic and numerical gradients differ (see the message for the
    worst element: input, index, both values and both errors)."""

    def __init__(self, arg, index, analytic, numeric, abs_err, rel_err, abs_tol, rel_tol):
        self.arg, self.index = arg, index
        self.analytic, self.numeric = analytic, numeric
        self.abs_err, self.rel_err = abs_err, rel_err
        self.abs_tol, self.rel_tol = abs_tol, rel_tol
        super().__init__(
            f"verify_grad: the gradient with respect to input {arg} is wrong at index "
            f"{index}: analytic {analytic!r}, numeric {numeric!r}; absolute error "
            f"{abs_err:.3g} > abs_tol {abs_tol:.3g} and relative error {rel_err:.3g} > "
            f"rel_tol {rel_tol:.3g}"
        )


def _as_rng(rng):
    if rng is None:
        return np.random.default_rng(20091009)
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    if not hasattr(rng, "random"):
        raise TypeError(
            f"verify_grad: rng must be None, a seed or a numpy Generator/RandomState, got {rng!r}"
        )
    return rng


def _check_points(pt):
    if not isinstance(pt, (list, tuple)):
        raise TypeError(f"verify_grad: pt must be a list of arrays (one per input), got {pt!r}")
    arrays = [np.array(p) for p in pt]
    for i, p in enumerate(arrays):
        if not is_float(p.dtype.name):
            raise TypeError(
                f"verify_grad: pt[{i}] has dtype {p.dtype}; expected float32 or float64 "
                "(integer inputs have no gradient: close over them inside fun)"
            )
    return arrays


def numeric_grad(cost_fn, pt, eps=None, method="central"):
    """Finite-difference gradient of scalar ``cost_fn(*pt)`` for each array
    in ``pt``, one element at a time.  The step actually taken (after
    rounding to the input's dtype) divides the difference."""
    if method not in STEP:
        raise ValueError(f"numeric_grad: method must be 'central' or 'forward', got {method!r}")
    args = [p.copy() for p in pt]
    f0 = float(cost_fn(*args)) if method == "forward" else None
    grads = []
    for p in args:
        h = eps if eps is not None else STEP[method][p.dtype.name]
        g = np.zeros(p.shape, dtype=np.float64)
        for idx in np.ndindex(p.shape):
            orig = p[idx].copy()
            p[idx] = orig + p.dtype.type(h)
            hi, f_hi = float(p[idx]), float(cost_fn(*args))
            if method == "central":
                p[idx] = orig - p.dtype.type(h)
                lo, f_lo = float(p[idx]), float(cost_fn(*args))
            else:
                lo, f_lo = float(orig), f0
            p[idx] = orig
            g[idx] = (f_hi - f_lo) / (hi - lo)
        grads.append(g)
    return grads


def _errors(analytic, numeric):
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    with np.errstate(all="ignore"):
        abs_err = np.where(a == n, 0.0, np.abs(a - n))
        abs_err = np.where(np.isnan(abs_err), np.inf, abs_err)
        rel_err = abs_err / np.maximum(np.abs(a) + np.abs(n), 1e-8)
        rel_err = np.where(np.isnan(rel_err), np.inf, rel_err)
    return a, n, abs_err, rel_err


def worst_error(analytic_grads, numeric_grads, abs_tol, rel_tol):
    """``(arg, index, analytic, numeric, abs_err, rel_err)`` of the element
    closest to failing: the largest ``min(abs_err/abs_tol, rel_err/rel_tol)``."""
    worst, worst_score = None, -1.0
    for arg, (ga, gn) in enumerate(zip(analytic_grads, numeric_grads)):
        a, n, abs_err, rel_err = _errors(ga, gn)
        if a.shape != n.shape:
            raise AssertionError(
                f"verify_grad: the gradient with respect to input {arg} has shape {a.shape}, "
                f"the input has shape {n.shape}"
            )
        if a.size == 0:
            continue
        score = np.minimum(abs_err / abs_tol, rel_err / rel_tol)
        flat = int(np.argmax(score))
        if score.flat[flat] > worst_score:
            idx = np.unravel_index(flat, a.shape)
            worst_score = float(score.flat[flat])
            worst = (
                arg,
                tuple(int(i) for i in idx),
                float(a[idx]),
                float(n[idx]),
                float(abs_err[idx]),
                float(rel_err[idx]),
            )
    return worst


def _build(fun, arrays, proj_dtype_of, target, optimize):
    from aotgraph.function import function
    from aotgraph.gradient import grad
    from aotgraph.tensor.basic import as_tensor

    inputs = [
        Variable(TensorType(p.dtype.name, (None,) * p.ndim), name=f"input{i}")
        for i, p in enumerate(arrays)
    ]
    out = fun(*inputs)
    if isinstance(out, (list, tuple)):
        raise TypeError("verify_grad: fun must return one symbolic variable, got a sequence")
    out = as_tensor(out)
    if not is_float(out.dtype):
        raise TypeError(f"verify_grad: fun returned dtype {out.dtype}; expected a float output")
    proj = Variable(TensorType(proj_dtype_of(out), (None,) * out.ndim), name="projection")
    cost = (proj * out).sum()
    opts = dict(on_unused_input="ignore", target=target, optimize=optimize)
    out_fn = function(inputs, out, **opts)
    cost_fn = function(inputs + [proj], cost, **opts)
    grad_fn = function(inputs + [proj], grad(cost, inputs, disconnected_inputs="ignore"), **opts)
    return out_fn, cost_fn, grad_fn


def verify_grad(
    fun,
    pt,
    n_tests=2,
    rng=None,
    eps=None,
    out_type=None,
    abs_tol=None,
    rel_tol=None,
    mode=None,
    cast_to_output_type=False,
    method="central",
    target="py",
):
    """Check the symbolic gradient of ``fun`` at the point ``pt`` against
    finite differences; raise :class:`GradientCheckError` (an
    ``AssertionError``) naming the worst element when they disagree.

    ``fun`` takes one symbolic input per array of ``pt`` and returns one
    symbolic output.  ``rng`` (a seed or numpy generator; ``None`` is a fixed
    seed) draws the projection weights; ``eps`` overrides the dtype-dependent
    step; ``method`` is ``"central"`` or ``"forward"`` (Theano's one-sided
    differences); ``abs_tol``/``rel_tol`` default to 1e-4 for float64 inputs
    and 1e-2 for float32.  ``mode`` is ``None``/``"FAST_RUN"`` (optimized)
    or ``"FAST_COMPILE"`` (unoptimized graph); ``target`` picks the backend
    of ``ag.function``.  ``out_type`` is accepted for Theano compatibility
    (outputs are real).

    >>> import numpy as np, aotgraph.tensor as at
    >>> verify_grad(lambda x: at.exp(x).sum(), [np.array([0.5, 1.0])])
    >>> from aotgraph.gradient import disconnected_grad
    >>> verify_grad(lambda x: x * disconnected_grad(x), [np.array([0.5, 1.5])])
    Traceback (most recent call last):
    ...
    aotgraph.gradcheck.GradientCheckError: verify_grad: the gradient ...
    """
    if mode not in _MODES:
        raise ValueError(
            f"verify_grad: mode must be None, 'FAST_RUN' or 'FAST_COMPILE', got {mode!r}"
        )
    if method not in STEP:
        raise ValueError(f"verify_grad: method must be 'central' or 'forward', got {method!r}")
    arrays = _check_points(pt)
    rng = _as_rng(rng)
    tol = max((TOLERANCE[p.dtype.name] for p in arrays), default=1e-4)
    abs_tol = tol if abs_tol is None else abs_tol
    rel_tol = tol if rel_tol is None else rel_tol

    def proj_dtype_of(out):
        return str(out.dtype) if cast_to_output_type else "float64"

    out_fn, cost_fn, grad_fn = _build(fun, arrays, proj_dtype_of, target, _MODES[mode])
    out_value = out_fn(*[p.copy() for p in arrays])
    proj_dtype = proj_dtype_of(out_value)
    for _ in range(n_tests):
        proj = np.asarray(rng.random(np.shape(out_value)) + 0.5, dtype=proj_dtype)
        analytic = grad_fn(*[p.copy() for p in arrays], proj)
        numeric = numeric_grad(lambda *a, w=proj: cost_fn(*a, w), arrays, eps, method)
        worst = worst_error(analytic, numeric, abs_tol, rel_tol)
        if worst is not None and worst[4] > abs_tol and worst[5] > rel_tol:
            raise GradientCheckError(*worst, abs_tol, rel_tol)


verify_grad.E_grad = GradientCheckError
