"""Every JVP rule: ``Rop(f, x, v)`` equals the central finite difference of
``f`` along ``v``, and ``<Rop(f, x, v), u> == <v, Lop(f, x, u)>``."""

import numpy as np
import pytest
from _gradtools import BINARY_DOMAINS, UNARY_DOMAINS, elementwise_fn, matmul_shapes, sample, seeds
from hypothesis import given, settings

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.ops.reduce import sum_to_like


def check_rop(fun, arrays, eps=1e-6):
    """Rop along random directions for all inputs at once vs finite
    differences, and its adjoint relation with Lop."""
    rng = np.random.default_rng(11)
    xs = [at.tensor(a.dtype, shape=(None,) * a.ndim) for a in arrays]
    vs = [at.tensor(a.dtype, shape=(None,) * a.ndim) for a in arrays]
    out = fun(*xs)
    u = at.tensor(out.dtype, shape=(None,) * out.ndim)
    rop = ag.Rop(out, xs, vs)
    lops = ag.Lop(out, xs, u, disconnected_inputs="ignore")
    f = ag.function(xs, out, target="py", on_unused_input="ignore")
    g = ag.function(xs + vs + [u], [rop] + lops, target="py", on_unused_input="ignore")
    directions = [rng.normal(size=a.shape) for a in arrays]
    plus = f(*[a + eps * d for a, d in zip(arrays, directions)])
    minus = f(*[a - eps * d for a, d in zip(arrays, directions)])
    weights = rng.normal(size=np.shape(plus))
    got_rop, *got_lops = g(*arrays, *directions, weights)
    assert np.allclose(got_rop, (plus - minus) / (2 * eps), rtol=1e-5, atol=1e-6)
    lhs = np.sum(got_rop * weights)
    rhs = sum(np.sum(d * lop) for d, lop in zip(directions, got_lops))
    assert np.isclose(lhs, rhs, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", sorted(UNARY_DOMAINS))
def test_unary_rop(name):
    check_rop(elementwise_fn(name), [sample(UNARY_DOMAINS[name], np.random.default_rng(1), (2, 3))])


@pytest.mark.parametrize("name", sorted(BINARY_DOMAINS))
def test_binary_rop_with_broadcasting(name):
    rng = np.random.default_rng(2)
    da, db = BINARY_DOMAINS[name]
    check_rop(elementwise_fn(name), [sample(da, rng, (2, 1, 3)), sample(db, rng, (4, 1))])


REDUCTIONS_AND_FRIENDS = {
    "sum": lambda v: at.sum(v, axis=(0, 2)),
    "prod": lambda v: at.prod(v, axis=1, keepdims=True),
    "max": lambda v: at.max(v, axis=(1, 2)),
    "min": lambda v: at.min(v),
    "softmax": lambda v: at.nnet.softmax(v, axis=1),
    "log_softmax": lambda v: at.nnet.log_softmax(v),
    "crossentropy": lambda v: at.nnet.categorical_crossentropy(
        at.nnet.softmax(v.reshape((6, 4))), np.array([0, 3, 1, 2, 2, 0])
    ),
    "switch_cast": lambda v: at.switch(v > 0, v * 2.0, v**2) + at.cast(v > 0.5, "float64") * v,
    "sum_to_like": lambda v: sum_to_like(v * v, v[0:1, :, 0:1]),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS_AND_FRIENDS))
def test_reductions_nnet_and_helpers_rop(name):
    rng = np.random.default_rng(3)
    x = rng.permutation(24).reshape(2, 3, 4) * 0.1 - 1.15  # distinct, nonzero
    check_rop(REDUCTIONS_AND_FRIENDS[name], [x])


@settings(max_examples=15)
@given(shapes=matmul_shapes(), seed=seeds)
def test_matmul_rop(shapes, seed):
    rng = np.random.default_rng(seed)
    check_rop(at.matmul, [rng.normal(size=s) for s in shapes])


def test_crossentropy_gradient_rop_uses_the_transposed_vjp():
    y = np.array([1, 0, 2])
    check_rop(
        lambda p: ag.grad(at.nnet.categorical_crossentropy(p, y).sum(), p),
        [np.random.default_rng(4).uniform(0.2, 1.0, size=(3, 3))],
    )
