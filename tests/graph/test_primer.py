"""Listings of the Theano primer that need no gradient, run with the
reference interpreter and checked against numpy computations."""

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at


def test_adding_two_scalars():
    x, y = at.dscalar("x"), at.dscalar("y")
    z = x + y
    f = ag.function([x, y], z, target="py")
    assert f(2, 3) == 5.0 and f(2, 3).dtype == np.float64
    assert np.allclose(f(16.3, 12.1), 28.4)
    assert np.allclose(z.eval({x: 16.3, y: 12.1}), 28.4)


def test_adding_two_vectors_given_as_python_lists():
    x, y = at.dvector("x"), at.dvector("y")
    f = ag.function([x, y], x + y, target="py")
    got = f([1, 2, 3], [0.5, 0.25, -1.0])
    np.testing.assert_array_equal(got, np.array([1.5, 2.25, 2.0]))
    assert got.dtype == np.float64


def test_adding_two_matrices():
    x, y = at.dmatrix("x"), at.dmatrix("y")
    f = ag.function([x, y], x + y, target="py")
    got = f([[1, 2], [3, 4]], [[10, 20], [30, 40]])
    np.testing.assert_array_equal(got, np.array([[11.0, 22.0], [33.0, 44.0]]))
    np.testing.assert_array_equal(
        f(np.array([[1.0, 2], [3, 4]]), np.array([[10.0, 20], [30, 40]])), got
    )


def test_exercise_square_of_a_sum():
    a, b = at.vector("a"), at.vector("b")  # floatX
    out = a**2 + b**2 + 2 * a * b
    f = ag.function([a, b], out, target="py")
    av, bv = np.array([1, 2], np.float32), np.array([4, 5], np.float32)
    got = f(av, bv)
    assert got.dtype == np.dtype(ag.config.floatX)
    np.testing.assert_allclose(got, (av + bv) ** 2)


def test_logistic_function_two_ways():
    x = at.dmatrix("x")
    s = 1 / (1 + at.exp(-x))
    s2 = (1 + at.tanh(x / 2)) / 2
    f = ag.function([x], [s, s2], target="py")
    xv = np.array([[0, 1], [-1, -2]], np.float64)
    want = 1 / (1 + np.exp(-xv))
    got, got2 = f([[0, 1], [-1, -2]])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(got2, want, rtol=1e-12)


def test_computing_more_than_one_thing_at_the_same_time():
    a, b = at.dmatrix("a"), at.dmatrix("b")
    diff = a - b
    f = ag.function([a, b], [diff, abs(diff), diff**2], target="py")
    d, ad, d2 = f([[1, 1], [1, 1]], [[0, 1], [2, 3]])
    np.testing.assert_array_equal(d, [[1, 0], [-1, -2]])
    np.testing.assert_array_equal(ad, [[1, 0], [1, 2]])
    np.testing.assert_array_equal(d2, [[1, 0], [1, 4]])


def test_accumulator_with_a_shared_variable():
    state = ag.shared(0)
    inc = at.iscalar("inc")
    accumulator = ag.function([inc], state, updates=[(state, state + inc)], target="py")
    assert int(state.get_value()) == 0
    assert int(accumulator(1)) == 0  # outputs see the value before the update
    assert int(state.get_value()) == 1
    assert int(accumulator(300)) == 1
    assert int(state.get_value()) == 301
    state.set_value(-1)
    assert int(accumulator(3)) == -1
    assert int(state.get_value()) == 2
    decrementor = ag.function([inc], state, updates=[(state, state - inc)], target="py")
    assert int(decrementor(2)) == 2
    assert int(state.get_value()) == 0


def test_givens_skip_a_shared_variable():
    state = ag.shared(0)
    inc = at.iscalar("inc")
    fn_of_state = state * 2 + inc
    foo = at.scalar(dtype=state.dtype)
    skip_shared = ag.function([inc, foo], fn_of_state, givens=[(state, foo)], target="py")
    assert int(skip_shared(1, 3)) == 7
    assert int(state.get_value()) == 0


def test_linear_model_with_hand_written_updates_over_ten_calls():
    rng = np.random.default_rng(42)
    n, d = 20, 3
    xs, ys = rng.normal(size=(n, d)), rng.normal(size=n)
    w0, lr = rng.normal(size=d), 0.1

    w = ag.shared(w0, name="w")
    b = ag.shared(0.0, dtype="float64", name="b")
    x, y = at.dmatrix("x"), at.dvector("y")
    err = x @ w + b - y
    loss = (err**2).mean()
    grad_w = 2 * (x.T @ err) / n  # written by hand, no autodiff
    grad_b = 2 * err.mean()
    train = ag.function([x, y], loss, updates={w: w - lr * grad_w, b: b - lr * grad_b}, target="py")

    wn, bn = w0.copy(), 0.0
    for _ in range(10):
        e = xs @ wn + bn - ys
        want_loss = np.mean(e**2)
        wn, bn = wn - lr * 2 * (xs.T @ e) / n, bn - lr * 2 * e.mean()
        np.testing.assert_allclose(train(xs, ys), want_loss, rtol=1e-12)
    np.testing.assert_allclose(w.get_value(), wn, rtol=1e-12)
    np.testing.assert_allclose(b.get_value(), bn, rtol=1e-12, atol=1e-15)


def test_updates_are_all_computed_from_pre_call_values():
    a = ag.shared(np.array([1.0, 2.0]), name="a")
    b = ag.shared(np.array([3.0, 4.0]), name="b")
    swap = ag.function([], [], updates={a: b, b: a}, target="py")
    swap()
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])
    swap()
    np.testing.assert_array_equal(a.get_value(), [1.0, 2.0])
    # an output and another update read the old value too
    k = ag.shared(np.float64(1.0), name="k")
    m = ag.shared(np.float64(10.0), name="m")
    step = ag.function([], [k * 1.0, m * 1.0], updates={k: k + m, m: k * 2}, target="py")
    out_k, out_m = step()
    assert (float(out_k), float(out_m)) == (1.0, 10.0)
    assert (float(k.get_value()), float(m.get_value())) == (11.0, 2.0)


def test_shared_values_are_not_aliased_to_call_results():
    w = ag.shared(np.zeros(2), name="w")
    f = ag.function([], w, updates={w: w + 1}, target="py")
    first = f()
    first[:] = 100.0  # writing into a result must not change the shared value
    np.testing.assert_array_equal(w.get_value(), [1.0, 1.0])
    np.testing.assert_array_equal(f(), [1.0, 1.0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float32_model_stays_float32(dtype):
    w = ag.shared(np.ones(3, dtype), name="w")
    x = at.tensor(dtype, shape=(None, 3), name="x")
    out = at.tanh(x @ w * 0.5 + 1.0)
    f = ag.function([x], out, updates={w: w * 0.9}, target="py")
    xv = np.arange(6, dtype=dtype).reshape(2, 3)
    got = f(xv)
    assert got.dtype == np.dtype(dtype) and w.get_value().dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, np.tanh(xv @ np.ones(3, dtype) * 0.5 + 1.0), rtol=1e-6)
    np.testing.assert_allclose(w.get_value(), np.full(3, 0.9, dtype), rtol=1e-7)
