"""Gradients of matmul (1-d, 2-d, batched and broadcast operands) and of the
builders over it (dot, tensordot, outer, batched_dot)."""

import numpy as np
import pytest
from _gradtools import check, matmul_shapes, seeds
from _targets import TEST_TARGETS
from hypothesis import given, settings

import aotgraph as ag
import aotgraph.tensor as at


@pytest.mark.parametrize("target", TEST_TARGETS)
@settings(max_examples=40)
@given(shapes=matmul_shapes(), seed=seeds)
def test_matmul_vs_finite_differences(target, shapes, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes
    check(at.matmul, [rng.normal(size=sa), rng.normal(size=sb)], target)


def test_matmul_gradient_matches_the_closed_form():
    a, b = at.dmatrix("a"), at.dmatrix("b")
    ga, gb = ag.grad((at.matmul(a, b) * np.arange(6.0).reshape(2, 3)).sum(), [a, b])
    rng = np.random.default_rng(0)
    av, bv, w = rng.normal(size=(2, 4)), rng.normal(size=(4, 3)), np.arange(6.0).reshape(2, 3)
    assert np.allclose(ga.eval({a: av, b: bv}), w @ bv.T)
    assert np.allclose(gb.eval({a: av, b: bv}), av.T @ w)


TENSORDOT_CASES = [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3, 4), (4, 2), ([0, 2], [1, 0])),
    ((3,), (3,), 1),
    ((2, 3), (4, 5), 0),
    ((2, 3, 4), (4,), ([2], [0])),
]


@pytest.mark.parametrize("target", TEST_TARGETS)
@pytest.mark.parametrize("sa,sb,axes", TENSORDOT_CASES)
def test_tensordot_vs_finite_differences(target, sa, sb, axes):
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    check(
        lambda a, b: at.tensordot(a, b, axes=axes),
        [rng.normal(size=sa), rng.normal(size=sb)],
        target,
    )


@pytest.mark.parametrize("target", TEST_TARGETS)
def test_outer_batched_dot_and_dot_vs_finite_differences(target):
    rng = np.random.default_rng(3)
    check(at.outer, [rng.normal(size=(3,)), rng.normal(size=(2, 2))], target)
    check(at.batched_dot, [rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 2))], target)
    check(at.batched_dot, [rng.normal(size=(2, 3)), rng.normal(size=(2, 3))], target)
    check(at.batched_dot, [rng.normal(size=(2, 3)), rng.normal(size=(2, 3, 4))], target)
    check(at.dot, [rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 2))], target)
    check(lambda a, b: at.dot(a, b.T), [rng.normal(size=(2, 3)), rng.normal(size=(4, 3))], target)


def test_matmul_gradients_keep_float32():
    a, b = at.fmatrix("a"), at.fvector("b")
    ga, gb = ag.grad(at.matmul(a, b).sum(), [a, b])
    assert ga.dtype == gb.dtype == "float32"
    got = gb.eval({a: np.ones((2, 3), "float32"), b: np.ones(3, "float32")})
    assert got.dtype == np.float32 and np.array_equal(got, [2.0, 2.0, 2.0])
