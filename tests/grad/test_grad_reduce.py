"""Gradients of reductions over several axes, with and without keepdims,
and of the decompositions built on them (mean, var, std, logsumexp)."""

import numpy as np
import pytest
from _gradtools import check, pairs_of_shapes, sample, seeds
from _targets import TEST_TARGETS
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aotgraph as ag
import aotgraph.tensor as at


@st.composite
def shape_and_axes(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    axis = None if not axes else tuple(axes) if len(axes) > 1 else axes[0]
    return shape, axis, draw(st.booleans())


REDUCTIONS = {
    "sum": lambda x, axis, keepdims: at.sum(x, axis=axis, keepdims=keepdims),
    "prod": lambda x, axis, keepdims: at.prod(x, axis=axis, keepdims=keepdims),
    "max": lambda x, axis, keepdims: at.max(x, axis=axis, keepdims=keepdims),
    "min": lambda x, axis, keepdims: at.min(x, axis=axis, keepdims=keepdims),
    "mean": lambda x, axis, keepdims: at.mean(x, axis=axis, keepdims=keepdims),
    "var": lambda x, axis, keepdims: at.var(x, axis=axis, keepdims=keepdims),
    "std": lambda x, axis, keepdims: at.std(x, axis=axis, keepdims=keepdims),
    "logsumexp": lambda x, axis, keepdims: at.logsumexp(x, axis=axis, keepdims=keepdims),
}


def _distinct(rng, shape):
    """Values at least 0.1 apart (no ties for max/min), away from 0 (prod)."""
    n = int(np.prod(shape))
    values = (rng.permutation(n) - n / 2 + 0.5) * 0.3
    return np.where(np.abs(values) < 0.1, 0.25, values).reshape(shape)


@pytest.mark.parametrize("target", TEST_TARGETS)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@settings(max_examples=10)
@given(case=shape_and_axes(), seed=seeds)
def test_reduction_vs_finite_differences(name, target, case, seed):
    shape, axis, keepdims = case
    rng = np.random.default_rng(seed)
    x = _distinct(rng, shape) if name in ("max", "min", "prod") else sample("real", rng, shape)
    if name == "std":  # not differentiable where the variance is 0
        reduced = shape if axis is None else [shape[a] for a in np.atleast_1d(axis)]
        assume(np.prod(reduced) > 1)
        x = _distinct(rng, shape)
    check(lambda v: REDUCTIONS[name](v, axis, keepdims) * 1.5, [x], target)


def test_sum_gradient_broadcasts_back_over_several_axes():
    x = at.dtensor3("x")
    g = ag.grad((at.sum(x, axis=(0, 2)) * np.array([1.0, 2.0])).sum(), x)
    got = g.eval({x: np.zeros((3, 2, 4))})
    assert np.array_equal(got, np.broadcast_to(np.array([1.0, 2.0])[None, :, None], (3, 2, 4)))


def test_prod_gradient_with_zeros_is_the_product_of_the_others():
    x = at.dmatrix("x")
    g = ag.grad(at.prod(x, axis=1).sum(), x)
    v = np.array([[2.0, 3.0, 4.0], [0.0, 3.0, 4.0], [0.0, 0.0, 5.0]])
    expected = np.array([[np.prod(np.delete(row, j)) for j in range(3)] for row in v])
    assert np.array_equal(g.eval({x: v}), expected)


def test_max_gradient_is_split_equally_among_ties():
    x = at.dmatrix("x")
    g = ag.grad(at.max(x, axis=1).sum(), x)
    v = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, 1.0, 0.0]])
    expected = np.array([[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3], [1.0, 0, 0]])
    assert np.allclose(g.eval({x: v}), expected)
    gmin = ag.grad(at.min(x).sum(), x)
    assert np.allclose(gmin.eval({x: v}), np.where(v == 0.0, 1.0, 0.0))


def test_reduction_gradients_keep_float32():
    x = at.fmatrix("x")
    for f in (at.sum, at.prod, at.max, at.mean, at.var, at.logsumexp):
        g = ag.grad(f(x, axis=0).sum(), x)
        assert g.dtype == "float32"
        assert g.eval({x: np.ones((2, 3), "float32")}).dtype == np.float32


def test_argmax_and_boolean_reductions_carry_no_gradient():
    x = at.dvector("x")
    cost = at.cast(at.argmax(x), "float64") + at.cast(at.any(x > 0), "float64") + x.sum()
    assert np.array_equal(ag.grad(cost, x).eval({x: [1.0, -2.0]}), [1.0, 1.0])


@settings(max_examples=15)
@given(shapes=pairs_of_shapes, seed=seeds)
def test_sum_to_like_vs_finite_differences(shapes, seed):
    """The adjoint of broadcasting, used by every broadcasting VJP; its own
    gradient (second order) broadcasts back."""
    from aotgraph.ops.reduce import sum_to_like

    (sa, sb), result = shapes
    rng = np.random.default_rng(seed)
    like = rng.normal(size=sa)
    check(lambda g, x: sum_to_like(g, x) * x, [rng.normal(size=result), like])
