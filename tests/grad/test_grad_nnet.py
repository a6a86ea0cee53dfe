"""Gradients of the nnet functions: softmax, log_softmax, the
crossentropies and the activations, against finite differences and
closed forms."""

import numpy as np
import pytest
from _gradtools import check, seeds
from _targets import TEST_TARGETS
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aotgraph as ag
import aotgraph.tensor as at

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


@pytest.mark.parametrize("target", TEST_TARGETS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@settings(max_examples=15)
@given(shape=shapes, seed=seeds, data=st.data())
def test_softmax_family_vs_finite_differences(name, target, shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(seed).normal(scale=2, size=shape)
    check(lambda v: getattr(at.nnet, name)(v, axis=axis), [x], target)


@pytest.mark.parametrize("target", TEST_TARGETS)
@settings(max_examples=15)
@given(seed=seeds, n=st.integers(1, 4), k=st.integers(1, 4))
def test_crossentropy_with_class_indices_vs_finite_differences(target, seed, n, k):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    p = rng.uniform(0.2, 1.0, size=(n, k))
    check(lambda v: at.nnet.categorical_crossentropy(v, y), [p], target)
    # through a softmax, as a classifier uses it
    check(
        lambda v: at.nnet.categorical_crossentropy(at.nnet.softmax(v), y),
        [rng.normal(size=(n, k))],
        target,
    )


@pytest.mark.parametrize("target", TEST_TARGETS)
def test_crossentropy_with_a_distribution_and_binary_vs_finite_differences(target):
    rng = np.random.default_rng(5)
    p, t = rng.uniform(0.2, 1.0, size=(3, 4)), rng.uniform(0, 1, size=(3, 4))
    check(at.nnet.categorical_crossentropy, [p, t], target)
    o, u = rng.uniform(0.1, 0.9, size=(2, 3)), rng.uniform(0, 1, size=(2, 3))
    check(at.nnet.binary_crossentropy, [o, u], target)


def test_softmax_crossentropy_gradient_is_p_minus_onehot():
    x, y = at.dmatrix("x"), at.lvector("y")
    g = ag.grad(at.nnet.categorical_crossentropy(at.nnet.softmax(x), y).sum(), x)
    xv = np.random.default_rng(1).normal(size=(3, 4))
    yv = np.array([0, 3, 1])
    e = np.exp(xv - xv.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    assert np.allclose(g.eval({x: xv, y: yv}), p - np.eye(4)[yv])


def test_crossentropy_hessian_through_its_gradient_op():
    # second derivative of -log p[y]: 1/p**2 at the label, 0 elsewhere
    p = at.dmatrix("p")
    y = np.array([1, 0])
    g = ag.grad(at.nnet.categorical_crossentropy(p, y).sum(), p)
    gg = ag.grad((g * np.array([[1.0, 2.0], [3.0, 4.0]])).sum(), p)
    pv = np.array([[0.5, 0.25], [0.2, 0.8]])
    expected = np.zeros((2, 2))
    expected[0, 1] = 2.0 / 0.25**2
    expected[1, 0] = 3.0 / 0.2**2
    assert np.allclose(gg.eval({p: pv}), expected)
    check(lambda v: ag.grad(at.nnet.categorical_crossentropy(v, y).sum(), v), [pv])


@pytest.mark.parametrize("target", TEST_TARGETS)
def test_activations_vs_finite_differences(target):
    x = np.array([-2.5, -0.7, -0.2, 0.3, 1.1, 4.0])
    for fn in (
        at.nnet.sigmoid,
        at.nnet.softplus,
        at.nnet.relu,
        at.nnet.elu,
        at.nnet.gelu,
        lambda v: at.nnet.relu(v, 0.2),
        lambda v: at.nnet.elu(v, 0.3),
    ):
        check(fn, [x], target)


def test_relu_and_elu_derivatives_at_zero_and_far_out():
    x = at.dvector("x")
    assert np.array_equal(ag.grad(at.nnet.relu(x).sum(), x).eval({x: [0.0, 2.0]}), [0.0, 1.0])
    assert np.allclose(ag.grad(at.nnet.relu(x, 0.1).sum(), x).eval({x: [0.0, -2.0]}), [0.1, 0.1])
    # the branch elu does not take must not turn the gradient into NaN
    got = ag.grad(at.nnet.elu(x).sum(), x).eval({x: [1000.0, -1000.0]})
    assert np.array_equal(got, [1.0, 0.0])


def test_log_softmax_gradient_is_finite_for_extreme_inputs():
    x = at.dvector("x")
    g = ag.grad((at.nnet.log_softmax(x) * np.array([1.0, 0.0, 0.0])).sum(), x)
    got = g.eval({x: [-1000.0, 1000.0, 0.0]})
    assert np.allclose(got, [1.0, -1.0, 0.0])
