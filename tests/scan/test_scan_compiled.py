"""The scan op compiled to C (one module holding every case, built once),
checked against numpy loops, hand-written BPTT and finite differences."""

import importlib
import sys

import numpy as np
import pytest
from _scantargets import CPU_AVAILABLE

import aotgraph as ag
import aotgraph.tensor as at

pytestmark = pytest.mark.skipif(not CPU_AVAILABLE, reason="the C build path is not available")
rng = np.random.default_rng(7)
COUNTER = ag.shared(np.float64(0.0), name="counter")


def rnn(x, h0, W, U, b):
    hs, _ = ag.scan(
        lambda xt, h, W, U, b: at.tanh(xt @ W + h @ U + b),
        sequences=x,
        outputs_info=h0,
        non_sequences=[W, U, b],
    )
    return hs


def _cases(mod):
    x = at.dvector("x")
    second, _ = ag.scan(lambda a, b, c: a - 2 * b + c, sequences=dict(input=x, taps=[-1, 0, 1]))
    back, _ = ag.scan(
        lambda a, acc: acc * 10 + a, sequences=x, outputs_info=at.constant(0.0), go_backwards=True
    )
    mod.function("taps_and_backwards", [x], [second, back])
    x0, n = at.lvector("x0"), at.lscalar("n")
    fib, _ = ag.scan(lambda a, b: a + b, outputs_info=dict(initial=x0, taps=[-2, -1]), n_steps=n)
    mod.function("fib", [x0, n], fib)
    limit = at.dscalar("limit")
    powers, _ = ag.scan(
        lambda p, m: (p * 2, ag.scan_until(p * 2 > m)),
        outputs_info=at.constant(1.0),
        non_sequences=limit,
        n_steps=1000,
    )
    mod.function("until", [limit], powers)
    total, _ = ag.reduce(lambda v, a: a + v * v, x, at.constant(0.0))
    right, _ = ag.foldr(lambda v, a: a * 10 + v, x, at.constant(0.0))
    m = at.dmatrix("m")
    row_sums, _ = ag.map(lambda row: ag.reduce(lambda v, a: a + v, row, at.constant(0.0))[0], m)
    mod.function("reductions", [x, m], [total, right, row_sums])
    doubled, updates = ag.scan(lambda v: (v * 2 + COUNTER, {COUNTER: COUNTER + v}), sequences=x)
    mod.function("shared_update", [x], doubled, updates=updates)
    xf, h0f = at.ftensor3("xf"), at.fmatrix("h0f")
    Wf, Uf, bf = at.fmatrix("Wf"), at.fmatrix("Uf"), at.fvector("bf")
    mod.function("rnn32", [xf, h0f, Wf, Uf, bf], rnn(xf, h0f, Wf, Uf, bf))
    xs, h0, W, U, b = (
        at.dtensor3("x"),
        at.dmatrix("h0"),
        at.dmatrix("W"),
        at.dmatrix("U"),
        at.dvector("b"),
    )
    cost = (rnn(xs, h0, W, U, b) ** 2).sum()
    mod.function("rnn_grad", [xs, h0, W, U, b], ag.grad(cost, [xs, h0, W, U, b]))
    V = at.dmatrix("V")
    g_u = ag.grad(cost, U)
    mod.function("rnn_hvp", [xs, h0, W, U, b, V], ag.grad((g_u * V).sum(), U))
    mod.function("rnn_grad_u", [xs, h0, W, U, b], g_u)
    s, w, h = at.dvector("s"), at.dscalar("w"), at.dscalar("h")
    c = at.dvector("c")
    hs, _ = ag.scan(
        lambda st, hp, w: at.tanh(w * hp + st),
        sequences=s,
        outputs_info=h,
        non_sequences=w,
        truncate_gradient=2,
    )
    mod.function("truncated", [s, w, h, c], ag.grad((hs * c).sum(), [s, w, h]))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    from aotgraph.build import build_module

    mod = ag.Module("scan_ctests")
    _cases(mod)
    out = tmp_path_factory.mktemp("scan_c")
    build_module(mod, str(out))
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("scan_ctests")
    finally:
        sys.path.remove(str(out))


def test_taps_and_go_backwards(compiled):
    xs = rng.normal(size=7)
    second, back = compiled.taps_and_backwards(xs)
    np.testing.assert_allclose(second, xs[:-2] - 2 * xs[1:-1] + xs[2:])
    want, acc = [], 0.0
    for v in xs[::-1]:
        acc = acc * 10 + v
        want.append(acc)
    np.testing.assert_allclose(back, want)
    strided = np.arange(20.0)[::3]
    np.testing.assert_allclose(
        compiled.taps_and_backwards(strided)[0], np.zeros(len(strided) - 2), atol=1e-12
    )


def test_two_taps_and_n_steps(compiled):
    got = compiled.fib(np.array([0, 1]), 12)
    want = [0, 1]
    for _ in range(12):
        want.append(want[-1] + want[-2])
    np.testing.assert_array_equal(got, want[2:])
    assert compiled.fib(np.array([5, 8, 100]), 0).shape == (0,)
    with pytest.raises(ValueError, match="scan: state 0 has taps"):
        compiled.fib(np.array([1]), 3)
    with pytest.raises(ValueError, match="number of steps must be >= 0"):
        compiled.fib(np.array([1, 1]), -2)


def test_early_exit(compiled):
    np.testing.assert_allclose(compiled.until(45.0), [2, 4, 8, 16, 32, 64])
    assert len(compiled.until(np.inf)) == 1000


def test_reductions_and_nested_loops(compiled):
    xs, m = rng.normal(size=5), rng.normal(size=(3, 4))
    total, right, row_sums = compiled.reductions(xs, m)
    assert total == pytest.approx(np.sum(xs * xs))
    assert right == pytest.approx(sum(v * 10.0**i for i, v in enumerate(xs)))
    np.testing.assert_allclose(row_sums, m.sum(axis=1))


def test_shared_update_inside_the_loop(compiled):
    compiled.shared["counter"].set_value(np.float64(0.0))
    np.testing.assert_allclose(compiled.shared_update(np.array([1.0, 2.0, 3.0])), [2.0, 5.0, 9.0])
    assert float(compiled.shared["counter"].get_value()) == 6.0


def np_rnn(x, h0, W, U, b):
    h, out = h0, []
    for t in range(len(x)):
        h = np.tanh(x[t] @ W + h @ U + b)
        out.append(h)
    return np.stack(out)


def np_rnn_grad(x, h0, W, U, b):
    hs = np_rnn(x, h0, W, U, b)
    gx, gW, gU, gb = np.zeros_like(x), np.zeros_like(W), np.zeros_like(U), np.zeros_like(b)
    carry = np.zeros_like(h0)
    for t in range(len(x) - 1, -1, -1):
        prev = hs[t - 1] if t > 0 else h0
        da = (2 * hs[t] + carry) * (1 - hs[t] ** 2)
        gx[t], gW, gU, gb = da @ W.T, gW + x[t].T @ da, gU + prev.T @ da, gb + da.sum(axis=0)
        carry = da @ U.T
    return gx, carry, gW, gU, gb


def rnn_args(dtype=np.float64, steps=5, batch=3, n_in=4, n_hid=6):
    return [
        rng.normal(size=(steps, batch, n_in)).astype(dtype),
        rng.normal(size=(batch, n_hid)).astype(dtype),
        rng.normal(size=(n_in, n_hid)).astype(dtype),
        (rng.normal(size=(n_hid, n_hid)) * 0.4).astype(dtype),
        rng.normal(size=n_hid).astype(dtype),
    ]


def test_rnn_forward_float32(compiled):
    args = rnn_args(np.float32)
    got = compiled.rnn32(*args)
    assert got.dtype == np.float32
    want = np_rnn(*[a.astype(np.float64) for a in args])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        compiled.rnn32(args[0], args[1][:, :2], *args[2:])


def test_rnn_gradient_matches_numpy_bptt(compiled):
    args = rnn_args()
    for got, want in zip(compiled.rnn_grad(*args), np_rnn_grad(*args)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_hessian_vector_product(compiled):
    args = rnn_args(steps=4)
    V = rng.normal(size=args[3].shape)
    eps = 1e-5
    plus = compiled.rnn_grad_u(*args[:3], args[3] + eps * V, args[4])
    minus = compiled.rnn_grad_u(*args[:3], args[3] - eps * V, args[4])
    np.testing.assert_allclose(
        compiled.rnn_hvp(*args, V), (plus - minus) / (2 * eps), rtol=1e-6, atol=1e-7
    )


def test_truncated_gradient(compiled):
    from test_scan_grad import numpy_truncated_bptt

    s, c = rng.normal(size=6), rng.normal(size=6)
    for got, want in zip(
        compiled.truncated(s, 0.8, 0.3, c), numpy_truncated_bptt(s, 0.8, 0.3, c, 2)
    ):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
