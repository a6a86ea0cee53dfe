"""Gradients through scan (back-propagation through time) against finite
differences (``verify_grad``) and hand-written numpy BPTT."""

import numpy as np
import pytest
from _scantargets import TARGETS

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.gradcheck import verify_grad

pytestmark = pytest.mark.parametrize("target", TARGETS)
rng = np.random.default_rng(1234)


def test_power_by_repeated_multiplication(target):
    def power(A):
        result, _ = ag.scan(
            lambda prior, A: prior * A, outputs_info=at.ones_like(A), non_sequences=A, n_steps=4
        )
        return result

    verify_grad(power, [rng.uniform(0.5, 1.5, size=5)], target=target)
    A = at.dvector("A")
    g = ag.grad(power(A)[-1].sum(), A)
    a = np.array([1.0, 2.0, -1.5])
    np.testing.assert_allclose(ag.function([A], g, target=target)(a), 4 * a**3)


def test_polynomial(target):
    def poly(coefficients, x):
        components, _ = ag.scan(
            lambda c, power, free: c * (free**power),
            sequences=[coefficients, at.arange(100)],
            non_sequences=x,
        )
        return components.sum()

    verify_grad(poly, [rng.normal(size=5), np.array(1.3)], target=target)


def test_two_tap_recurrence(target):
    def fib(x0):
        out, _ = ag.scan(
            lambda a, b: a * 0.5 + b * b * 0.3,
            outputs_info=dict(initial=x0, taps=[-2, -1]),
            n_steps=5,
        )
        return out

    verify_grad(fib, [rng.uniform(-1, 1, size=(2, 3))], target=target)
    verify_grad(fib, [rng.uniform(-1, 1, size=(4, 3))], target=target)  # extra rows: zero grad


def test_tanh_rnn(target):
    def rnn(x, h0, W, U, b):
        hs, _ = ag.scan(
            lambda xt, h, W, U, b: at.tanh(xt @ W + h @ U + b),
            sequences=x,
            outputs_info=h0,
            non_sequences=[W, U, b],
        )
        return hs

    pt = [
        rng.normal(size=(4, 2, 3)),
        rng.normal(size=(2, 5)),
        rng.normal(size=(3, 5)),
        rng.normal(size=(5, 5)) * 0.5,
        rng.normal(size=5),
    ]
    verify_grad(rnn, pt, target=target)


def test_early_exit(target):
    def grow(w, x0):
        values, _ = ag.scan(
            lambda p, w: (p * w + 0.1, ag.scan_until(p * w > 30.0)),
            outputs_info=x0,
            non_sequences=w,
            n_steps=50,
        )
        return values

    verify_grad(grow, [np.array(1.7), np.array(1.1)], target=target)
    w, x0 = at.dscalar("w"), at.dscalar("x0")
    want, p = [], 1.1
    while len(want) < 50:
        want.append(p * 1.7 + 0.1)
        if p * 1.7 > 30.0:
            break
        p = want[-1]
    np.testing.assert_allclose(ag.function([w, x0], grow(w, x0), target=target)(1.7, 1.1), want)


def test_map_reduce_foldl_foldr(target):
    verify_grad(
        lambda x, k: ag.map(lambda v, k: at.sin(v) * k, x, non_sequences=k)[0],
        [rng.normal(size=4), np.array(0.7)],
        target=target,
    )
    verify_grad(
        lambda x: ag.reduce(lambda v, a: a * v + v * v, x, at.constant(0.5))[0],
        [rng.normal(size=5)],
        target=target,
    )
    verify_grad(
        lambda x, a0: ag.foldl(lambda v, a: at.tanh(a + v), x, a0)[0],
        [rng.normal(size=(3, 2)), rng.normal(size=2)],
        target=target,
    )
    verify_grad(
        lambda x, a0: ag.foldr(lambda v, a: at.tanh(a * 0.5 + v), x, a0)[0],
        [rng.normal(size=(3, 2)), rng.normal(size=2)],
        target=target,
    )


def test_sequence_taps_and_go_backwards(target):
    def taps(x):
        out, _ = ag.scan(
            lambda a, b, c, h: h * at.sin(a) + b * c,
            sequences=dict(input=x, taps=[-2, 0, 1]),
            outputs_info=at.constant(1.0),
            go_backwards=True,
        )
        return out

    verify_grad(taps, [rng.normal(size=7)], target=target)

    def shortest(x, y):
        out, _ = ag.scan(lambda a, b: a * b, sequences=[x, y])
        return out

    verify_grad(shortest, [rng.normal(size=5), rng.normal(size=3)], target=target)


def test_shared_variables_inside_the_loop(target):
    W = ag.shared(rng.normal(size=(3, 3)) * 0.5, name="W")
    x = at.dmatrix("x")
    hs, _ = ag.scan(
        lambda xt, h: at.tanh(h @ W + xt), sequences=x, outputs_info=at.zeros((3,), dtype="float64")
    )
    cost = (hs**2).sum()
    f_cost = ag.function([x], cost, target=target)
    f_grad = ag.function([x], ag.grad(cost, W), target=target)
    xs = rng.normal(size=(4, 3))
    w0 = W.get_value()
    numeric = np.zeros_like(w0)
    for idx in np.ndindex(*w0.shape):
        for sign in (1, -1):
            w = w0.copy()
            w[idx] += sign * 1e-6
            W.set_value(w)
            numeric[idx] += sign * f_cost(xs) / 2e-6
    W.set_value(w0)
    np.testing.assert_allclose(f_grad(xs), numeric, rtol=1e-6, atol=1e-8)


def test_gradient_of_a_shared_update(target):
    counter = ag.shared(np.float64(1.0), name="counter")
    x = at.dvector("x")
    _, updates = ag.scan(lambda v: {counter: counter * v}, sequences=x)
    g = ag.grad(updates[counter], x)
    xs = np.array([2.0, 3.0, 0.5])
    want = np.prod(xs) / xs
    np.testing.assert_allclose(ag.function([x], g, target=target)(xs), want)


def numpy_truncated_bptt(x, w, h0, c, truncate):
    hs, h = [], h0
    for xt in x:
        h = np.tanh(w * h + xt)
        hs.append(h)
    n = len(x)
    steps = n if truncate < 0 else min(truncate, n)
    gx, gw, carry = np.zeros_like(x), 0.0, 0.0
    for t in range(n - 1, n - 1 - steps, -1):
        da = (c[t] + carry) * (1 - hs[t] ** 2)
        gw += da * (hs[t - 1] if t > 0 else h0)
        gx[t] = da
        carry = da * w
    return gx, gw, (carry if steps == n else 0.0)


@pytest.mark.parametrize("truncate", [-1, 1, 3, 10])
def test_truncate_gradient(target, truncate):
    x, w, h0, c = at.dvector("x"), at.dscalar("w"), at.dscalar("h0"), at.dvector("c")
    hs, _ = ag.scan(
        lambda xt, h, w: at.tanh(w * h + xt),
        sequences=x,
        outputs_info=h0,
        non_sequences=w,
        truncate_gradient=truncate,
    )
    grads = ag.grad((hs * c).sum(), [x, w, h0])
    f = ag.function([x, w, h0, c], grads, target=target)
    xs, cs = rng.normal(size=6), rng.normal(size=6)
    got = f(xs, 0.8, 0.3, cs)
    want = numpy_truncated_bptt(xs, 0.8, 0.3, cs, truncate)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_hessian_vector_product(target):
    x, W, h0, v = at.dmatrix("x"), at.dmatrix("W"), at.dvector("h0"), at.dmatrix("v")
    hs, _ = ag.scan(
        lambda xt, h, W: at.tanh(h @ W + xt), sequences=x, outputs_info=h0, non_sequences=W
    )
    cost = (hs**2).sum()
    g = ag.grad(cost, W)
    hvp = ag.grad((g * v).sum(), W)
    f_grad = ag.function([x, W, h0], g, target=target)
    f_hvp = ag.function([x, W, h0, v], hvp, target=target)
    xs, w0, hv0 = rng.normal(size=(5, 3)), rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
    vs = rng.normal(size=(3, 3))
    eps = 1e-5
    numeric = (f_grad(xs, w0 + eps * vs, hv0) - f_grad(xs, w0 - eps * vs, hv0)) / (2 * eps)
    np.testing.assert_allclose(f_hvp(xs, w0, hv0, vs), numeric, rtol=1e-6, atol=1e-8)


def test_second_order_through_taps_and_until(target):
    def grad_of_loop(x, w):
        out, _ = ag.scan(
            lambda a, b, p, q, w: (p * at.tanh(w * q) + a * b, ag.scan_until(at.abs(q) > 1e6)),
            sequences=dict(input=x, taps=[-1, 1]),
            outputs_info=dict(initial=at.ones((2,), dtype="float64"), taps=[-2, -1]),
            non_sequences=w,
        )
        return ag.grad((out**2).sum(), w)

    verify_grad(grad_of_loop, [rng.normal(size=6), np.array(0.4)], target=target)


def test_jacobian_through_scan(target):
    h0 = at.dvector("h0", shape=(3,))
    W = rng.normal(size=(3, 3))
    hs, _ = ag.scan(lambda h: at.tanh(h @ W), outputs_info=h0, n_steps=3)
    jac = ag.function([h0], ag.jacobian(hs[-1], h0), target=target)
    h = rng.normal(size=3)

    def final(h):
        for _ in range(3):
            h = np.tanh(h @ W)
        return h

    numeric = np.stack([(final(h + e) - final(h - e)) / 2e-6 for e in np.eye(3) * 1e-6], axis=1)
    np.testing.assert_allclose(jac(h), numeric, rtol=1e-6, atol=1e-8)


def test_rop_through_scan(target):
    x, w, v = at.dvector("x"), at.dscalar("w"), at.dscalar("v")
    hs, _ = ag.scan(
        lambda xt, h, w: at.tanh(w * h + xt),
        sequences=x,
        outputs_info=at.constant(0.5),
        non_sequences=w,
    )
    jvp = ag.function([x, w, v], ag.Rop(hs, w, v), target=target)
    forward = ag.function([x, w], hs, target=target)
    xs = rng.normal(size=4)
    numeric = (forward(xs, 0.7 + 1e-6) - forward(xs, 0.7 - 1e-6)) / 2e-6
    np.testing.assert_allclose(jvp(xs, 0.7, 1.0), numeric, rtol=1e-6, atol=1e-9)


def test_rnn_example_learns(target):
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "rnn", "run.py")
    spec = importlib.util.spec_from_file_location("rnn_example_run", path)
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    test_mse, baseline = run.main(["--steps", "60", "--target", target])
    assert test_mse < baseline / 2
