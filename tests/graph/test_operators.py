"""Python operators on symbolic variables, with variables, Python numbers,
numpy scalars and numpy arrays on either side, against numpy on arrays."""

import operator

import numpy as np
import pytest

import aotgraph.tensor as at

BINARY = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
BITWISE = {"&": operator.and_, "|": operator.or_, "^": operator.xor}

XV = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]])
OTHERS = {
    "variable": None,
    "python int": 3,
    "python float": 2.5,
    "numpy scalar": np.float32(2.0),
    "numpy array": np.array([1.0, 2.0, 0.5]),
    "nested list": [[1.0], [2.0]],
}


def _eval(expr, x, y=None, yv=None):
    values = {x: XV} if y is None else {x: XV, y: yv}
    return expr.eval(values)


@pytest.mark.parametrize("kind", sorted(OTHERS))
@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_operators_on_both_sides(op, kind):
    func = BINARY[op]
    x = at.dmatrix("x")
    if kind == "variable":
        y, yv = at.dvector("y"), np.array([1.0, 2.0, 0.5])
        got, got_r = _eval(func(x, y), x, y, yv), _eval(func(y, x), x, y, yv)
        other = yv
    else:
        other = OTHERS[kind]
        got, got_r = _eval(func(x, other), x), _eval(func(other, x), x)
    if isinstance(other, list):
        other = np.asarray(other)  # what numpy makes of a nested list
    with np.errstate(all="ignore"):
        want, want_r = func(XV, other), func(other, XV)
    for g, w in ((got, want), (got_r, want_r)):
        assert g.dtype == np.asarray(w).dtype
        np.testing.assert_allclose(g, w, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("op", sorted(BITWISE))
def test_logical_and_bitwise_operators(op):
    func = BITWISE[op]
    b, c = at.tensor("bool", shape=(None,), name="b"), at.tensor("bool", shape=(None,), name="c")
    i = at.tensor("int16", shape=(None,), name="i")
    bv, cv, iv = (
        np.array([True, True, False, False]),
        np.array([True, False, True, False]),
        np.array([5, -3, 0, 12], np.int16),
    )
    for expr, want in (
        (func(b, c), func(bv, cv)),
        (func(i, 6), func(iv, 6)),
        (func(6, i), func(6, iv)),
        (func(b, True), func(bv, True)),
        (func(i, b), func(iv, bv)),
    ):
        got = expr.eval({v: val for v, val in ((b, bv), (c, cv), (i, iv)) if v in _inputs(expr)})
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def _inputs(expr):
    from aotgraph.graph import graph_inputs

    return graph_inputs(expr)


def test_unary_operators():
    x = at.dmatrix("x")
    np.testing.assert_array_equal((-x).eval({x: XV}), -XV)
    np.testing.assert_array_equal((+x).eval({x: XV}), XV)
    np.testing.assert_array_equal(abs(x).eval({x: XV}), np.abs(XV))
    b = at.tensor("bool", shape=(None,), name="b")
    np.testing.assert_array_equal((~b).eval({b: [True, False]}), [False, True])
    i = at.tensor("uint8", shape=(None,), name="i")
    got = (~i).eval({i: np.array([0, 5], np.uint8)})
    np.testing.assert_array_equal(got, ~np.array([0, 5], np.uint8))
    assert got.dtype == np.uint8


def test_matmul_operator_with_arrays_on_either_side():
    x = at.dmatrix("x")
    w = np.arange(6.0).reshape(3, 2)
    np.testing.assert_allclose((x @ w).eval({x: XV}), XV @ w)
    np.testing.assert_allclose((w.T @ x.T).eval({x: XV}), w.T @ XV.T)


def test_numpy_on_the_left_builds_a_graph_not_an_object_array():
    x = at.dvector("x")
    for expr in (np.ones(3) + x, np.float64(2.0) * x, np.ones(3) < x):
        assert not isinstance(expr, np.ndarray)
        assert expr.owner is not None
    with pytest.raises(TypeError):
        np.exp(x)  # numpy functions do not take symbolic variables


def test_equality_operators_are_identity_use_at_eq():
    x = at.dvector("x")
    assert (x == x) is True and (x != at.dvector("y")) is True
    np.testing.assert_array_equal(at.eq(x, 2.0).eval({x: [1.0, 2.0]}), [False, True])
    np.testing.assert_array_equal(at.neq(x, 2.0).eval({x: [1.0, 2.0]}), [True, False])


def test_variables_reject_unknown_operand_types():
    x = at.dvector("x")
    with pytest.raises(TypeError):
        x + "text"
    with pytest.raises(TypeError):
        x * object()
