"""The vectorized jacobian: one reverse pass with a leading batch axis
(aotgraph.batching), checked against finite differences, plus the
fallbacks when an op on the reverse path has no batching rule."""

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph import batching, jacobians
from aotgraph.batching import batch_graph

x, w = at.dvector("x"), at.dmatrix("w")
LABELS = np.array([0, 2])
EXPRESSIONS = {
    "tanh_dot": lambda: at.tanh(at.dot(w, x)),
    "softmax": lambda: at.nnet.softmax(at.dot(w, x)) * x[:2],
    "log_softmax_axis0": lambda: at.nnet.log_softmax(w * x, axis=0).sum(axis=1),
    "crossentropy": lambda: at.nnet.categorical_crossentropy(at.nnet.softmax(w * x), LABELS),
    "prod_max": lambda: at.prod(w * x, axis=1) + at.max(w * x**2, axis=1),
    "var_logsumexp": lambda: at.var(w * x, axis=1) + at.logsumexp(w * x, axis=1),
    "broadcast": lambda: (w + x).sum(axis=1) * x[1:],
    "matvec_left": lambda: at.dot(x, w.T) + at.matmul(x, at.outer(x, x))[:2],
    "reshape_flatten": lambda: at.dot(w.T, w).flatten() * x.sum(),
    "indexing": lambda: at.set_subtensor(x[1:], w[0, 1:] * x[:2]) * x,
    "advanced_indexing": lambda: x[np.array([0, 2, 2])] * w[1, np.array([1, 1, 0])],
    "concatenate": lambda: at.concatenate([x, w[0] * x, at.stack([x[0] * x[1]])]),
    "gradient": lambda: ag.grad((at.tanh(at.dot(w, x)) ** 2).sum() + at.nnet.softplus(x).sum(), x),
    "gradient_of_crossentropy": lambda: ag.grad(
        at.nnet.categorical_crossentropy(at.nnet.softmax(w * x), LABELS).sum(), x
    ),
}


def finite_difference_jacobian(f, args, which, eps=1e-6):
    base = [a.copy() for a in args]
    out_shape = np.shape(f(*base))
    jac = np.zeros(out_shape + base[which].shape)
    for idx in np.ndindex(base[which].shape):
        plus, minus = [a.copy() for a in base], [a.copy() for a in base]
        plus[which][idx] += eps
        minus[which][idx] -= eps
        jac[(Ellipsis,) + idx] = (f(*plus) - f(*minus)) / (2 * eps)
    return jac


@pytest.fixture
def batched_only(monkeypatch):
    """Fail if jacobian falls back to building rows one by one."""

    def refuse(*args):
        raise AssertionError("jacobian fell back to row-by-row construction")

    monkeypatch.setattr(jacobians, "_jacobian_rows_unrolled", refuse)
    monkeypatch.setattr(jacobians, "_jacobian_rows_by_scan", refuse)


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_batched_jacobian_vs_finite_differences(name, batched_only):
    expr = EXPRESSIONS[name]()
    jx, jw = ag.jacobian(expr, [x, w], disconnected_inputs="ignore")
    rng = np.random.default_rng(len(name))
    xv, wv = rng.normal(size=3), rng.normal(size=(2, 3))
    got_x, got_w = ag.function([x, w], [jx, jw], target="py", on_unused_input="ignore")(xv, wv)
    f = ag.function([x, w], expr, target="py", on_unused_input="ignore")
    assert np.allclose(got_x, finite_difference_jacobian(f, [xv, wv], 0), atol=1e-6)
    assert np.allclose(got_w, finite_difference_jacobian(f, [xv, wv], 1), atol=1e-6)


def test_hessian_of_a_small_network_is_batched(batched_only):
    cost = (at.nnet.softplus(at.dot(w, at.tanh(x))) ** 2).sum()
    h = ag.hessian(cost, x)
    rng = np.random.default_rng(9)
    xv, wv = rng.normal(size=3), rng.normal(size=(2, 3))
    got = ag.function([x, w], h, target="py")(xv, wv)
    g = ag.function([x, w], ag.grad(cost, x), target="py")
    assert np.allclose(got, finite_difference_jacobian(g, [xv, wv], 0), atol=1e-6)
    assert np.allclose(got, got.T)


@pytest.mark.parametrize("static", [True, False])
def test_without_a_batching_rule_the_rows_are_built_one_by_one(monkeypatch, static):
    monkeypatch.delitem(batching.BATCH_RULES, "matmul")
    xs = at.dvector("xs", shape=(3,)) if static else x
    expr = at.tanh(at.dot(w, xs))
    jx = ag.jacobian(expr, xs)
    rng = np.random.default_rng(3)
    xv, wv = rng.normal(size=3), rng.normal(size=(2, 3))
    t = np.tanh(wv @ xv)
    assert np.allclose(jx.eval({xs: xv, w: wv}), (1 - t**2)[:, None] * wv)


def test_batch_graph_computes_every_batch_element():
    y = at.nnet.softmax(at.dot(w, x)) + x.sum() * at.matmul(x, w.T)
    xb = at.dmatrix("xb")
    (yb,) = batch_graph([y], {x: xb}, at.shape_i(xb, 0))
    rng = np.random.default_rng(4)
    xv, wv = rng.normal(size=(4, 3)), rng.normal(size=(2, 3))
    z = xv @ wv.T
    e = np.exp(z - z.max(axis=1, keepdims=True))
    expected = e / e.sum(axis=1, keepdims=True) + xv.sum(axis=1, keepdims=True) * z
    assert np.allclose(yb.eval({xb: xv, w: wv}), expected)
