"""ag.grad's contract: the primer listings, structure of the result,
shared variables, consider_constant, known_grads, disconnected inputs,
integer inputs and dtypes."""

import warnings

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.errors import GradientError
from aotgraph.gradient import DisconnectedInputError, disconnected_grad


def test_primer_listing_2_gradient_of_sum_of_squares():
    x = at.dvector("x")
    gy = ag.grad((x**2).sum(), x)
    f = ag.function([x], gy, target="py")
    assert np.array_equal(f([1.0, 2.0]), [2.0, 4.0])


def test_primer_listing_3_linear_regression_matches_numpy_trajectory():
    rng = np.random.default_rng(0)
    xs, ys = rng.normal(size=(20, 3)), rng.normal(size=20)
    a0, b0, lr = rng.normal(size=3), 0.5, 0.1
    x, y = at.dmatrix("x"), at.dvector("y")
    a, b = ag.shared(a0.copy(), name="a"), ag.shared(b0, name="b", dtype="float64")
    cost = ((at.dot(x, a) + b - y) ** 2).mean()
    ga, gb = ag.grad(cost, [a, b])
    train = ag.function([x, y], cost, updates=[(a, a - lr * ga), (b, b - lr * gb)], target="py")
    na, nb = a0.copy(), b0
    for _ in range(10):
        err = xs @ na + nb - ys
        expected_cost = (err**2).mean()
        grad_a, grad_b = 2 * xs.T @ err / len(ys), 2 * err.mean()
        got_cost = train(xs, ys)
        na, nb = na - lr * grad_a, nb - lr * grad_b
        assert np.isclose(got_cost, expected_cost)
        assert np.allclose(a.get_value(), na) and np.isclose(b.get_value(), nb)


def test_wrt_structure_is_preserved():
    x, y = at.dscalar("x"), at.dscalar("y")
    cost = x * y
    assert isinstance(ag.grad(cost, x), ag.Variable)
    as_list = ag.grad(cost, [x, y])
    as_tuple = ag.grad(cost, (x, y))
    assert isinstance(as_list, list) and isinstance(as_tuple, tuple)
    vals = {x: 2.0, y: 5.0}
    assert [float(g.eval(vals)) for g in as_tuple] == [5.0, 2.0]


def test_cost_must_be_a_float_scalar():
    x = at.dvector("x")
    with pytest.raises(GradientError, match=r"cost must be a scalar \(0-d\), got ndim 1"):
        ag.grad(x * 2, x)
    with pytest.raises(GradientError, match="cost is None and no known_grads"):
        ag.grad(None, x)


def test_integer_input_is_a_clear_error():
    i, x = at.lscalar("i"), at.dscalar("x")
    with pytest.raises(GradientError, match=r"cannot take the gradient with respect to i.*int64"):
        ag.grad(x * i, [x, i])


def test_integer_paths_carry_no_gradient():
    x = at.dvector("x")
    cost = (at.floor_divide(at.cast(x * 10, "int64"), 3) * x).sum()
    g = ag.grad(cost, x)
    xv = np.array([0.55, 0.91])
    assert np.array_equal(g.eval({x: xv}), (xv * 10).astype(int) // 3)


def test_consider_constant_blocks_the_flow_through_a_variable():
    x = at.dscalar("x")
    h = x**2
    cost = h * x  # d/dx = 3x**2 normally; with h constant: h = x**2
    normal = ag.grad(cost, x)
    blocked = ag.grad(cost, x, consider_constant=[h])
    assert float(normal.eval({x: 2.0})) == 12.0
    assert float(blocked.eval({x: 2.0})) == 4.0
    # the constant variable itself still has its gradient (Theano's rule)
    assert float(ag.grad(cost, h, consider_constant=[h]).eval({x: 2.0})) == 2.0
    # and disconnected_grad does the same inside the graph
    assert float(ag.grad(disconnected_grad(h) * x, x).eval({x: 2.0})) == 4.0


def test_known_grads_injects_gradients():
    x = at.dvector("x")
    h = at.exp(x)
    injected = np.array([1.0, 10.0])
    g = ag.grad(None, x, known_grads={h: injected})
    xv = np.array([0.0, 1.0])
    assert np.allclose(g.eval({x: xv}), injected * np.exp(xv))
    # known_grads add to the gradient coming from the cost
    g2 = ag.grad(h.sum(), x, known_grads={h: injected})
    assert np.allclose(g2.eval({x: xv}), (1 + injected) * np.exp(xv))
    with pytest.raises(GradientError, match="has ndim 0, expected 1"):
        ag.grad(None, x, known_grads={h: 1.0})


def test_disconnected_inputs_raise_warn_or_ignore():
    x, y = at.dvector("x"), at.dvector("y")
    cost = (x**2).sum()
    with pytest.raises(DisconnectedInputError, match="does not depend on y"):
        ag.grad(cost, [x, y])
    assert issubclass(DisconnectedInputError, ValueError)
    with pytest.warns(UserWarning, match="does not depend on y"):
        gx, gy = ag.grad(cost, [x, y], disconnected_inputs="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gy2 = ag.grad(cost, y, disconnected_inputs="ignore")
    assert np.array_equal(gy.eval({y: [1.0, 2.0, 3.0]}), np.zeros(3))
    assert np.array_equal(gy2.eval({y: [1.0, 2.0]}), np.zeros(2))
    assert ag.grad(cost, y, disconnected_inputs="ignore", return_disconnected="none") is None
    with pytest.raises(ValueError, match="disconnected_inputs must be one of"):
        ag.grad(cost, x, disconnected_inputs="nope")


def test_disconnected_grad_makes_an_input_disconnected():
    x = at.dscalar("x")
    with pytest.raises(DisconnectedInputError):
        ag.grad(disconnected_grad(x) * 2.0, x)


def test_integer_and_boolean_paths_give_zeros_but_shapes_disconnect():
    x, y = at.dvector("x"), at.dvector("y")
    vals = {x: [0.5, -1.5], y: [1.0, 2.0]}
    through_bool = at.cast(x > 0, "float64").sum() + at.cast(at.argmax(x), "float64")
    assert np.array_equal(ag.grad(through_bool, x).eval(vals), [0.0, 0.0])
    through_int = at.cast(at.cast(x, "int64"), "float64").sum()
    assert np.array_equal(ag.grad(through_int, x).eval(vals), [0.0, 0.0])
    through_shape = at.cast(at.shape_i(x, 0), "float64") * y.sum()
    with pytest.raises(DisconnectedInputError, match="does not depend on x"):
        ag.grad(through_shape, x)
    h = x * 2.0
    with pytest.raises(DisconnectedInputError):  # past a consider_constant variable
        ag.grad(h.sum() * y.sum(), x, consider_constant=[h])


def test_gradient_with_respect_to_shared_and_intermediate_variables():
    w = ag.shared(np.array([1.0, -2.0]), name="w")
    x = at.dvector("x")
    h = w * x
    cost = (h**2).sum()
    gw, gh = ag.grad(cost, [w, h])
    xv = np.array([3.0, 0.5])
    hv = np.array([1.0, -2.0]) * xv
    assert np.allclose(gw.eval({x: xv}), 2 * hv * xv)
    assert np.allclose(gh.eval({x: xv}), 2 * hv)


def test_float32_stays_float32_through_mixed_constants():
    x = at.fvector("x")
    w = ag.shared(np.array([0.5, 2.0], "float32"))
    cost = (at.tanh(x * w) * 3.0 + at.log(at.exp(x) + 1.0) / 2.0 + x**2).mean()
    gx, gw = ag.grad(cost, [x, w])
    assert gx.dtype == gw.dtype == "float32"
    out = ag.function([x], [gx, gw], target="py")(np.array([0.1, -0.3], "float32"))
    assert all(o.dtype == np.float32 for o in out)
    # float64 constants upcast the cost, but the gradient is cast back to float32
    g64 = ag.grad((x * np.float64(2.0)).sum(), x)
    assert g64.dtype == "float32"


def test_gradient_accumulates_over_several_uses():
    x = at.dscalar("x")
    cost = x * x * x + at.sin(x) * x
    g = ag.grad(cost, x)
    v = 0.7
    assert np.isclose(float(g.eval({x: v})), 3 * v**2 + np.cos(v) * v + np.sin(v))
