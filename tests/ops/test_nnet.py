"""Forward values of at.nnet against numpy formulas (and scipy-free
closed forms), with hypothesis-chosen shapes and values."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.errors import AotgraphTypeError

seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def run(fn, *arrays, target="py"):
    xs = [at.tensor(a.dtype, shape=(None,) * a.ndim) for a in arrays]
    return ag.function(xs, fn(*xs), target=target)(*arrays)


@given(shape=shapes, seed=seeds, data=st.data())
def test_softmax_and_log_softmax_match_numpy(shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(seed).normal(scale=5, size=shape)
    expected = np_softmax(x, axis)
    assert np.allclose(run(lambda v: at.nnet.softmax(v, axis=axis), x), expected)
    log_expected = x - x.max(axis=axis, keepdims=True)
    log_expected -= np.log(np.exp(log_expected).sum(axis=axis, keepdims=True))
    assert np.allclose(run(lambda v: at.nnet.log_softmax(v, axis=axis), x), log_expected)


def test_softmax_is_stable_for_large_inputs():
    x = np.array([[1000.0, 1000.0, -1000.0], [-1e4, 0.0, 1e4]])
    assert np.allclose(run(at.nnet.softmax, x), [[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    got = run(at.nnet.log_softmax, x)
    assert np.allclose(got[0], [-math.log(2), -math.log(2), -2000 - math.log(2)])
    assert np.isfinite(got).all()


def test_softmax_keeps_float32_and_casts_integers():
    x32 = np.array([[1.0, 2.0]], "float32")
    assert run(at.nnet.softmax, x32).dtype == np.float32
    xi = np.array([[0, 1]], "int32")
    got = run(at.nnet.log_softmax, xi)
    assert got.dtype == np.float64 and np.allclose(got, np.log(np_softmax(xi * 1.0, -1)))


@given(seed=seeds, n=st.integers(1, 5), k=st.integers(1, 5))
def test_categorical_crossentropy_with_class_indices(seed, n, k):
    rng = np.random.default_rng(seed)
    p = np_softmax(rng.normal(size=(n, k)), -1)
    y = rng.integers(0, k, size=n)
    got = run(at.nnet.categorical_crossentropy, p, y)
    assert np.allclose(got, -np.log(p[np.arange(n), y]))


@given(seed=seeds, n=st.integers(1, 5), k=st.integers(1, 5))
def test_categorical_crossentropy_with_a_distribution(seed, n, k):
    rng = np.random.default_rng(seed)
    p = np_softmax(rng.normal(size=(n, k)), -1)
    t = np_softmax(rng.normal(size=(n, k)), -1)
    got = run(at.nnet.categorical_crossentropy, p, t)
    assert np.allclose(got, -(t * np.log(p)).sum(axis=-1))
    onehot = np.eye(k, dtype="int64")[rng.integers(0, k, size=n)]
    assert np.allclose(
        run(at.nnet.categorical_crossentropy, p, onehot), -np.log((p * onehot).sum(axis=-1))
    )


def test_categorical_crossentropy_errors_name_the_problem():
    p, y = at.dmatrix("p"), at.lvector("y")
    f = ag.function([p, y], at.nnet.categorical_crossentropy(p, y), target="py")
    with pytest.raises(IndexError, match="label 3 is out of range for 2 classes"):
        f(np.full((2, 2), 0.5), [0, 3])
    with pytest.raises(AotgraphTypeError, match="true_dist must be integer class indices"):
        at.nnet.categorical_crossentropy(p, at.dvector("t"))


@given(shape=shapes, seed=seeds)
def test_binary_crossentropy_matches_numpy(shape, seed):
    rng = np.random.default_rng(seed)
    o, t = rng.uniform(0.05, 0.95, size=shape), rng.uniform(0, 1, size=shape)
    got = run(at.nnet.binary_crossentropy, o, t)
    assert np.allclose(got, -(t * np.log(o) + (1 - t) * np.log(1 - o)))


@given(shape=shapes, seed=seeds)
def test_activations_match_numpy(shape, seed):
    x = np.random.default_rng(seed).normal(scale=3, size=shape)
    erf = np.vectorize(math.erf)
    cases = {
        at.nnet.sigmoid: 1 / (1 + np.exp(-x)),
        at.nnet.softplus: np.log1p(np.exp(x)),
        at.nnet.relu: np.maximum(x, 0),
        (lambda v: at.nnet.relu(v, 0.1)): np.where(x > 0, x, 0.1 * x),
        at.nnet.elu: np.where(x > 0, x, np.expm1(x)),
        (lambda v: at.nnet.elu(v, 0.5)): np.where(x > 0, x, 0.5 * np.expm1(x)),
        at.nnet.gelu: 0.5 * x * (1 + erf(x / np.sqrt(2))),
    }
    for fn, expected in cases.items():
        assert np.allclose(run(fn, x), expected)


def test_relu_keeps_nan_and_dtype():
    x = np.array([np.nan, -1.0, 2.0], "float32")
    got = run(at.nnet.relu, x)
    assert got.dtype == np.float32 and np.isnan(got[0]) and list(got[1:]) == [0.0, 2.0]


def test_nnet_exports():
    assert set(at.nnet.__all__) >= {
        "sigmoid",
        "softplus",
        "relu",
        "softmax",
        "log_softmax",
        "categorical_crossentropy",
        "binary_crossentropy",
    }


def test_softmax_argument_errors():
    m = at.dmatrix("m")
    with pytest.raises(AotgraphTypeError, match="softmax: axis must be an int, got None"):
        at.nnet.softmax(m, axis=None)
    with pytest.raises(AotgraphTypeError, match="log_softmax: axis 5 is out of bounds"):
        at.nnet.log_softmax(m, axis=5)
    with pytest.raises(AotgraphTypeError, match="at least one axis"):
        at.nnet.softmax(at.dscalar("s"))
