"""Gradients of the elementwise ops: finite differences (verify_grad) on
hypothesis-chosen shapes, including broadcasting, plus the documented
values at the special points (abs at 0, pow at 0, clip boundaries, ties)."""

import numpy as np
import pytest
from _gradtools import (
    BINARY_DOMAINS,
    UNARY_DOMAINS,
    ZERO_GRADIENT,
    check,
    elementwise_fn,
    pairs_of_shapes,
    sample,
    seeds,
    shapes,
)
from _targets import TEST_TARGETS, targets  # noqa: F401 - the fixture
from hypothesis import given, settings

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.errors import GradientError
from aotgraph.ops.base import OPS


def test_every_differentiable_elementwise_op_is_covered():
    covered = set(UNARY_DOMAINS) | set(BINARY_DOMAINS)
    differentiable = {
        n
        for n, d in OPS.items()
        if "elementwise" in d.categories and d.nondiff is None and n not in ("switch", "cast")
    }
    assert differentiable - covered == set()


@pytest.mark.parametrize("target", TEST_TARGETS)
@pytest.mark.parametrize("name", sorted(UNARY_DOMAINS))
@settings(max_examples=8)
@given(shape=shapes, seed=seeds)
def test_unary_vs_finite_differences(name, target, shape, seed):
    x = sample(UNARY_DOMAINS[name], np.random.default_rng(seed), shape)
    check(elementwise_fn(name), [x], target)


@pytest.mark.parametrize("target", TEST_TARGETS)
@pytest.mark.parametrize("name", sorted(BINARY_DOMAINS))
@settings(max_examples=8)
@given(shapes=pairs_of_shapes, seed=seeds)
def test_binary_with_broadcasting_vs_finite_differences(name, target, shapes, seed):
    rng = np.random.default_rng(seed)
    (sa, sb), _ = shapes
    da, db = BINARY_DOMAINS[name]
    check(elementwise_fn(name), [sample(da, rng, sa), sample(db, rng, sb)], target)


@pytest.mark.parametrize("name", sorted(ZERO_GRADIENT))
def test_rounding_functions_have_zero_gradient(name):
    x, y = at.dvector("x"), at.dvector("y")
    expr = elementwise_fn(name)(x, y) if name == "floor_div" else elementwise_fn(name)(x)
    g = ag.grad(expr.sum(), x)
    assert np.array_equal(g.eval({x: [0.3, -1.7, 2.5], y: [1.0, 2.0, 3.0]}), np.zeros(3))


def test_broadcast_add_sums_over_the_broadcast_axes():
    a, b = at.dvector("a"), at.dmatrix("b")
    ga, gb = ag.grad((a + b).sum(), [a, b])
    vals = {a: np.zeros(3), b: np.zeros((4, 3))}
    assert np.array_equal(ga.eval(vals), np.full(3, 4.0))
    assert np.array_equal(gb.eval(vals), np.ones((4, 3)))


def test_runtime_broadcast_of_a_dynamic_length_one_axis():
    a, b = at.dmatrix("a"), at.dmatrix("b")  # a's first axis is 1 only at run time
    ga = ag.grad((a * b).sum(), a)
    bv = np.arange(6.0).reshape(3, 2)
    assert np.allclose(ga.eval({a: np.ones((1, 2)), b: bv}), bv.sum(axis=0, keepdims=True))


def test_abs_gradient_at_zero_is_zero():
    x = at.dvector("x")
    g = ag.grad(abs(x).sum(), x)
    assert np.array_equal(g.eval({x: [-2.0, 0.0, 3.0]}), [-1.0, 0.0, 1.0])


def test_pow_gradients_at_zero():
    x, y = at.dscalar("x"), at.dscalar("y")
    gx, gy = ag.grad(x**y, [x, y])
    f = ag.function([x, y], [gx, gy], target="py")
    # d/dx x**2 = 0, d/dx x**1 = 1, d/dx x**0 = 0 at x = 0; d/dy 0**y = 0 for y > 0
    assert np.allclose(f(0.0, 2.0), [0.0, 0.0])
    assert np.allclose(f(0.0, 1.0), [1.0, 0.0])
    assert np.allclose(f(0.0, 0.0), [0.0, 0.0])
    assert np.allclose(f(2.0, 3.0), [12.0, 8.0 * np.log(2.0)])


def test_clip_passes_the_gradient_inside_and_on_the_boundaries():
    x = at.dvector("x")
    g = ag.grad(at.clip(x, -1.0, 1.0).sum(), x)
    got = g.eval({x: [-2.0, -1.0, 0.0, 1.0, 2.0]})
    assert np.array_equal(got, [0.0, 1.0, 1.0, 1.0, 0.0])


def test_maximum_and_minimum_give_ties_to_the_first_argument():
    x, y = at.dvector("x"), at.dvector("y")
    vals = {x: [1.0, 2.0, 3.0], y: [2.0, 2.0, 2.0]}
    gx, gy = ag.grad(at.maximum(x, y).sum(), [x, y])
    assert np.array_equal(gx.eval(vals), [0.0, 1.0, 1.0])
    assert np.array_equal(gy.eval(vals), [1.0, 0.0, 0.0])
    gx, gy = ag.grad(at.minimum(x, y).sum(), [x, y])
    assert np.array_equal(gx.eval(vals), [1.0, 1.0, 0.0])
    assert np.array_equal(gy.eval(vals), [0.0, 0.0, 1.0])


def test_switch_routes_the_gradient_and_none_to_the_condition():
    c, a, b = at.dvector("c"), at.dvector("a"), at.dscalar("b")
    cost = at.switch(c > 0, a * 2.0, b * 3.0).sum()
    ga, gb = ag.grad(cost, [a, b])
    vals = {c: [1.0, -1.0, 2.0], a: [1.0, 1.0, 1.0], b: 1.0}
    assert np.array_equal(ga.eval(vals), [2.0, 0.0, 2.0])
    assert float(gb.eval(vals)) == 3.0
    # c reaches the cost only through a comparison: connected, zero gradient (Theano)
    assert np.array_equal(ag.grad(cost, c).eval(vals), np.zeros(3))
    c2 = at.dvector("c2")  # a float condition gets a zero gradient, as in Theano
    g_float_cond = ag.grad(at.switch(c2, a, b).sum(), c2)
    assert np.array_equal(
        g_float_cond.eval({c2: [0.0, 1.0, 2.0], a: [1, 1, 1.0], b: 1.0}), np.zeros(3)
    )


def test_switch_gradient_vs_finite_differences():
    check(
        lambda a, b: at.switch(a > 0.1, at.exp(a), b * a),
        [np.array([-0.5, 0.4, 1.0, -1.2]), np.array([0.3, -0.7, 2.0, 1.0])],
    )


def test_comparisons_and_isnan_carry_no_gradient():
    x = at.dvector("x")
    cost = ((x > 0) * x + at.switch(at.isnan(x), 0.0, x)).sum()
    g = ag.grad(cost, x)
    assert np.array_equal(g.eval({x: [-1.0, 2.0]}), [1.0, 2.0])
    for name in ("lt", "gt", "eq", "isnan", "isinf", "logical_and", "bitwise_or"):
        assert OPS[name].vjp is None and OPS[name].nondiff


def test_cast_gradient_keeps_the_input_dtype_and_stops_at_integers():
    x = at.fvector("x")
    y = at.cast(x, "float64") ** 2
    g = ag.grad(y.sum(), x)
    assert g.dtype == "float32"
    assert np.allclose(g.eval({x: np.array([1.0, 3.0], "float32")}), [2.0, 6.0])
    through_int = at.cast(at.cast(x, "int32"), "float32") * x
    gi = ag.grad(through_int.sum(), x)
    assert np.array_equal(gi.eval({x: np.array([1.5, 2.5], "float32")}), [1.0, 2.0])


def test_float32_gradients_stay_float32():
    x = at.fvector("x")
    exprs = [
        at.exp(x) * 2.0,
        at.sqrt(abs(x) + 1) / 3,
        at.nnet.sigmoid(x),
        x**3,
        at.erf(x),
        at.arctan2(x, 2.0),
        at.clip(x, 0, 1),
        at.tanh(x) * at.sin(x),
    ]
    for expr in exprs:
        g = ag.grad(expr.sum(), x)
        assert g.dtype == "float32", expr
        assert g.eval({x: np.array([0.5, -1.0], "float32")}).dtype == np.float32


def test_float32_verify_grad():
    rng = np.random.default_rng(0)
    check(
        lambda a, b: at.tanh(a) * b + at.log1p(b * b),
        [rng.normal(size=(3, 2)).astype("float32"), rng.normal(size=(2,)).astype("float32")],
    )


def test_gradient_with_respect_to_an_integer_input_is_a_clear_error():
    i = at.ivector("i")
    with pytest.raises(GradientError, match=r"integer/bool dtype int32"):
        ag.grad((i * 2.0).sum(), i)


def test_targets_fixture_lists_the_reference_interpreter(targets):  # noqa: F811
    assert targets[0] == "py" and set(targets) <= {"py", "cpu"}


def test_cast_between_float_dtypes_vs_finite_differences():
    rng = np.random.default_rng(4)
    check(
        lambda v: at.cast(at.cast(v, "float32"), "float64") * 2.0 + at.cast(v, "float64"),
        [rng.normal(size=(2, 3))],
        eps=1e-3,
        abs_tol=1e-3,
        rel_tol=1e-3,
    )  # float32 rounding
