"""Numerical stability after optimization, checked against exact values."""

import numpy as np
import pytest
from opt_helpers import op_names, optimized

import aotgraph as ag
import aotgraph.tensor as at


def test_log_softmax_extreme_logits_exact():
    x = at.dmatrix("x")
    f = ag.function([x], at.log(at.nnet.softmax(x)), target="py")
    got = f([[1000.0, 0.0, -1000.0]])
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, [[0.0, -1000.0, -2000.0]], rtol=0, atol=1e-12)


def test_log_of_decomposed_softmax_extreme_logits():
    x = at.dmatrix("x")
    e = at.exp(x - x.max(axis=1, keepdims=True))
    f = ag.function([x], at.log(e / e.sum(axis=1, keepdims=True)), target="py")
    np.testing.assert_allclose(f([[1000.0, 0.0, -1000.0]]), [[0.0, -1000.0, -2000.0]], atol=1e-12)


def test_log_one_plus_exp_large():
    x = at.dscalar("x")
    f = ag.function([x], at.log(1 + at.exp(x)), target="py")
    assert float(f(100.0)) == 100.0
    assert float(f(1000.0)) == 1000.0
    np.testing.assert_allclose(float(f(-50.0)), np.exp(-50.0), rtol=1e-12)
    xf = at.fscalar("xf")
    g = ag.function([xf], at.log(1 + at.exp(xf)), target="py")
    assert float(g(100.0)) == 100.0


def test_log_sigmoid_very_negative():
    x = at.dscalar("x")
    f = ag.function([x], at.log(at.nnet.sigmoid(x)), target="py")
    assert float(f(-200.0)) == -200.0
    one_minus = ag.function([x], at.log(1 - at.nnet.sigmoid(x)), target="py")
    assert float(one_minus(200.0)) == -200.0


def test_expm1_and_log1p_small_arguments():
    x = at.dvector("x")
    v = np.array([1e-20, -1e-18, 3e-10])
    np.testing.assert_allclose(
        ag.function([x], at.exp(x) - 1, target="py")(v), np.expm1(v), rtol=1e-14
    )
    np.testing.assert_allclose(
        ag.function([x], at.log(1 + x), target="py")(v), np.log1p(v), rtol=1e-14
    )


def test_logsumexp_of_large_values():
    x = at.tensor("float64", shape=(2,), name="x")
    f = ag.function([x], at.log(at.exp(x).sum()), target="py")
    np.testing.assert_allclose(float(f([1000.0, 1000.0])), 1000 + np.log(2), rtol=1e-15)
    m = at.tensor("float32", shape=(None, 3), name="m")
    g = ag.function([m], at.log(at.exp(m).sum(axis=1)), target="py")
    np.testing.assert_allclose(g([[100.0, 100.0, 100.0]]), [100 + np.log(3)], rtol=1e-6)


def test_softmax_crossentropy_and_gradient_at_extreme_logits():
    x, y = at.dmatrix("x"), at.lvector("y")
    cost = at.nnet.categorical_crossentropy(at.nnet.softmax(x), y).mean()
    gx = ag.grad(cost, x)
    f = ag.function([x, y], [cost, gx], target="py")
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    c, g = f(logits, [2, 0])
    # exact: -log_softmax at the labels, averaged; grad = (softmax - onehot) / n
    assert np.isfinite(c) and np.all(np.isfinite(g))
    np.testing.assert_allclose(c, (2000.0 + np.log(3.0)) / 2, rtol=1e-12)
    sm = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    onehot = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(g, (sm - onehot) / 2, atol=1e-15)


def test_gradient_of_log_softmax_from_log_of_softmax():
    x = at.dmatrix("x")
    t = at.dmatrix("t")
    cost = -(t * at.log(at.nnet.softmax(x))).sum()
    gx = ag.grad(cost, x)
    f = ag.function([x, t], gx, target="py")
    logits = np.array([[1000.0, 0.0, -1000.0]])
    target = np.array([[0.0, 0.0, 1.0]])
    np.testing.assert_allclose(f(logits, target), [[1.0, 0.0, -1.0]], atol=1e-12)


def test_sigmoid_crossentropy_and_gradient_stable():
    x, t = at.dvector("x"), at.dvector("t")
    p = at.nnet.sigmoid(x)
    cost = at.nnet.binary_crossentropy(p, t).sum()
    gx = ag.grad(cost, x)
    f = ag.function([x, t], [cost, gx], target="py")
    xv = np.array([-800.0, 800.0, 0.0])
    tv = np.array([1.0, 0.0, 1.0])
    c, g = f(xv, tv)
    np.testing.assert_allclose(c, 800.0 + 800.0 + np.log(2.0), rtol=1e-12)
    # d/dx = sigmoid(x) - t
    np.testing.assert_allclose(g, [-1.0, 1.0, -0.5], atol=1e-12)


def test_stabilized_graph_has_no_log_of_softmax():
    x = at.dmatrix("x")
    fg, ofg, rec = optimized([x], at.log(at.nnet.softmax(x)))
    assert "softmax" not in op_names(ofg) and "log_softmax" in op_names(ofg)


def test_softmax_crossentropy_keeps_label_errors():
    x, y = at.dmatrix("x"), at.lvector("y")
    cost = at.nnet.categorical_crossentropy(at.nnet.softmax(x), y)
    fg, ofg, rec = optimized([x, y], cost)
    assert "crossentropy_softmax" in rec.fired_rules()
    f = ag.function([x, y], cost, target="py")
    logits = np.zeros((2, 3))
    np.testing.assert_allclose(f(logits, [0, 2]), [np.log(3.0)] * 2)
    for bad in ([0, 3], [-1, 0]):
        with pytest.raises(IndexError):
            f(logits, bad)
