"""Forward values of scan against plain numpy loops (the Theano tutorial
examples and every argument of ``ag.scan``)."""

import numpy as np
import pytest
from _scantargets import TARGETS
from hypothesis import given
from hypothesis import strategies as st

import aotgraph as ag
import aotgraph.tensor as at

pytestmark = pytest.mark.parametrize("target", TARGETS)


def fn(inputs, outputs, target, **kw):
    return ag.function(inputs, outputs, target=target, **kw)


def test_power_by_repeated_multiplication(target):
    A, k = at.dvector("A"), at.lscalar("k")
    result, updates = ag.scan(
        lambda prior, A: prior * A, outputs_info=at.ones_like(A), non_sequences=A, n_steps=k
    )
    assert updates == {}
    f = fn([A, k], result[-1], target)
    a = np.arange(10, dtype=np.float64)
    np.testing.assert_allclose(f(a, 2), a**2)
    np.testing.assert_allclose(f(a, 5), a**5)
    hist = fn([A, k], result, target)(a, 4)
    np.testing.assert_allclose(hist, np.stack([a**p for p in range(1, 5)]))


def test_polynomial_from_coefficients_and_arange(target):
    coefficients, x = at.dvector("coefficients"), at.dscalar("x")
    components, _ = ag.scan(
        lambda c, power, free: c * (free**power),
        sequences=[coefficients, at.arange(10000)],
        non_sequences=x,
    )
    f = fn([coefficients, x], components.sum(), target)
    coeffs = np.array([1.0, 0.0, 2.0, -3.0])
    assert f(coeffs, 3.0) == pytest.approx(np.polyval(coeffs[::-1], 3.0))


def test_fibonacci_two_taps(target):
    x0, n = at.lvector("x0"), at.lscalar("n")
    fib, _ = ag.scan(lambda a, b: a + b, outputs_info=dict(initial=x0, taps=[-2, -1]), n_steps=n)
    got = fn([x0, n], fib, target)([0, 1], 10)
    want = [0, 1]
    for _ in range(10):
        want.append(want[-1] + want[-2])
    np.testing.assert_array_equal(got, want[2:])
    assert got.dtype == np.int64


def test_taps_use_the_first_rows_of_the_initial_value(target):
    x0 = at.dvector("x0")
    ys, _ = ag.scan(lambda a, b: a - b, outputs_info=dict(initial=x0, taps=[-3, -1]), n_steps=4)
    hist = [5.0, 2.0, 7.0]
    for _ in range(4):
        hist.append(hist[-3] - hist[-1])
    np.testing.assert_allclose(fn([x0], ys, target)([5.0, 2.0, 7.0, 100.0]), hist[3:])


def np_rnn(x, h0, W, U, b):
    h, out = h0, []
    for t in range(len(x)):
        h = np.tanh(x[t] @ W + h @ U + b)
        out.append(h)
    return np.stack(out)


def rnn_graph():
    x, h0 = at.dtensor3("x"), at.dmatrix("h0")
    W, U, b = at.dmatrix("W"), at.dmatrix("U"), at.dvector("b")
    hs, _ = ag.scan(
        lambda xt, h, W, U, b: at.tanh(xt @ W + h @ U + b),
        sequences=x,
        outputs_info=h0,
        non_sequences=[W, U, b],
    )
    return [x, h0, W, U, b], hs


@given(
    st.integers(1, 6),
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(0, 2**31),
)
def test_tanh_rnn_over_time_batch_features(target, steps, batch, n_in, n_hid, seed):
    rng = np.random.default_rng(seed)
    inputs, hs = rnn_graph()
    args = [
        rng.normal(size=(steps, batch, n_in)),
        rng.normal(size=(batch, n_hid)),
        rng.normal(size=(n_in, n_hid)),
        rng.normal(size=(n_hid, n_hid)) * 0.5,
        rng.normal(size=n_hid),
    ]
    np.testing.assert_allclose(fn(inputs, hs, target)(*args), np_rnn(*args), rtol=1e-12, atol=1e-12)


def test_early_exit_includes_the_step_where_the_condition_holds(target):
    limit = at.dscalar("limit")
    values, _ = ag.scan(
        lambda p, m: (p * 2, ag.scan_until(p * 2 > m)),
        outputs_info=at.constant(1.0),
        non_sequences=limit,
        n_steps=1024,
    )
    f = fn([limit], values, target)
    np.testing.assert_allclose(f(45.0), [2, 4, 8, 16, 32, 64])
    np.testing.assert_allclose(f(0.5), [2])
    want, p = [], 1.0
    while len(want) < 1024:
        p *= 2
        want.append(p)
        if p > 1e300:
            break
    np.testing.assert_allclose(f(1e300), want)
    assert len(f(np.inf)) == 1024  # never true: runs all n_steps


def test_early_exit_with_sequences_stops_at_the_shortest(target):
    x = at.dvector("x")
    sums, _ = ag.scan(
        lambda v, acc: (acc + v, ag.scan_until(acc + v > 10)),
        sequences=x,
        outputs_info=at.constant(0.0),
    )
    f = fn([x], sums, target)
    np.testing.assert_allclose(f([1.0, 2.0, 3.0]), [1, 3, 6])
    np.testing.assert_allclose(f([5.0, 5.0, 5.0, 5.0]), [5, 10, 15])


def test_map_reduce_foldl_foldr(target):
    x, k = at.dvector("x"), at.dscalar("k")
    xs = np.array([1.0, -2.0, 3.0, 0.5])
    squares, _ = ag.map(lambda v, k: v * v * k, x, non_sequences=k)
    np.testing.assert_allclose(fn([x, k], squares, target)(xs, 2.0), xs * xs * 2)
    total, _ = ag.reduce(lambda v, acc: acc + v * v, x, at.constant(0.0))
    assert fn([x], total, target)(xs) == pytest.approx(np.sum(xs * xs))
    left, _ = ag.foldl(lambda v, acc: acc * 10 + v, x, at.constant(0.0))
    right, _ = ag.foldr(lambda v, acc: acc * 10 + v, x, at.constant(0.0))
    digits = np.array([1.0, 2.0, 3.0])
    assert fn([x], left, target)(digits) == pytest.approx(123.0)
    assert fn([x], right, target)(digits) == pytest.approx(321.0)
    assert total.ndim == 0 and left.ndim == 0


def test_reduce_keeps_only_the_last_value(target):
    x = at.dmatrix("x")
    last, _ = ag.reduce(lambda row, acc: acc + row, x, at.zeros_like(x[0]))
    assert last.ndim == 1
    xs = np.arange(12.0).reshape(4, 3)
    np.testing.assert_allclose(fn([x], last, target)(xs), xs.sum(axis=0))


def test_shared_updates_inside_the_loop(target):
    counter = ag.shared(np.float64(0.0), name="counter")
    x = at.dvector("x")
    doubled, updates = ag.scan(lambda v: (v * 2 + counter, {counter: counter + v}), sequences=x)
    assert list(updates) == [counter]
    f = fn([x], doubled, target, updates=updates)
    # inside the loop the shared variable holds the loop-carried value
    np.testing.assert_allclose(f([1.0, 2.0, 3.0]), [2.0, 5.0, 9.0])
    assert counter.get_value() == 6.0
    np.testing.assert_allclose(f([1.0]), [8.0])
    assert counter.get_value() == 7.0


def test_shared_variables_read_but_not_passed(target):
    W = ag.shared(np.array([[1.0, 2.0], [3.0, 4.0]]), name="W")
    x = at.dmatrix("x")
    ys, updates = ag.map(lambda row: row @ W, x)
    assert updates == {}
    f = fn([x], ys, target)
    xs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(f(xs), xs @ W.get_value())
    W.set_value(np.eye(2))
    np.testing.assert_allclose(f(xs), xs)


def test_sequence_taps_and_go_backwards(target):
    x = at.dvector("x")
    xs = np.array([1.0, 4.0, 9.0, 16.0, 25.0, 36.0])
    second, _ = ag.scan(lambda a, b, c: a - 2 * b + c, sequences=dict(input=x, taps=[-1, 0, 1]))
    np.testing.assert_allclose(fn([x], second, target)(xs), xs[:-2] - 2 * xs[1:-1] + xs[2:])
    back, _ = ag.scan(lambda a, b: a - b, sequences=dict(input=x, taps=[0, 2]), go_backwards=True)
    r = xs[::-1]
    np.testing.assert_allclose(fn([x], back, target)(xs), r[:-2] - r[2:])
    only_future, _ = ag.scan(lambda a: a, sequences=dict(input=x, taps=[2]))
    np.testing.assert_allclose(fn([x], only_future, target)(xs), xs[2:])


def test_go_backwards_outputs_are_in_processing_order(target):
    x = at.dvector("x")
    acc, _ = ag.scan(
        lambda v, a: a + v, sequences=x, outputs_info=at.constant(0.0), go_backwards=True
    )
    np.testing.assert_allclose(fn([x], acc, target)([1.0, 2.0, 3.0]), [3.0, 5.0, 6.0])


def test_n_steps_and_sequences_shortest_wins(target):
    x, y, n = at.dvector("x"), at.dvector("y"), at.lscalar("n")
    zs, _ = ag.scan(lambda a, b: a * b, sequences=[x, y], n_steps=n)
    f = fn([x, y, n], zs, target)
    np.testing.assert_allclose(f([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0], 10), [5, 12, 21])
    np.testing.assert_allclose(f([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0], 2), [5, 12])
    assert f([1.0, 2.0], [1.0, 2.0], 0).shape == (0,)


def test_several_outputs_mixing_recurrent_and_not(target):
    x = at.dvector("x")
    (acc, sq, prod), _ = ag.scan(
        lambda v, a, p: (a + v, v * v, p * v),
        sequences=x,
        outputs_info=[at.constant(0.0), None, at.constant(1.0)],
    )
    xs = np.array([2.0, 3.0, 4.0])
    got = fn([x], [acc, sq, prod], target)(xs)
    np.testing.assert_allclose(got[0], np.cumsum(xs))
    np.testing.assert_allclose(got[1], xs * xs)
    np.testing.assert_allclose(got[2], np.cumprod(xs))


def test_nested_scan(target):
    m = at.dmatrix("m")
    row_sums, _ = ag.map(lambda row: ag.reduce(lambda v, a: a + v, row, at.constant(0.0))[0], m)
    xs = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(fn([m], row_sums, target)(xs), xs.sum(axis=1))


def test_weak_python_initial_value_takes_the_output_dtype(target):
    x = at.fvector("x")
    acc, _ = ag.scan(lambda v, a: a + v, sequences=x, outputs_info=0.0)
    assert acc.dtype == "float32"
    got = fn([x], acc, target)(np.array([1.5, 2.5], np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [1.5, 4.0])
