"""``matmul`` / ``@`` / ``dot`` against numpy: 1-d, 2-d and batched operands
with broadcasting, empty dimensions, every dtype and mixed dtypes.

Oracle: ``np.matmul`` and ``np.dot`` on the same arrays.  Results must have
numpy's dtype (integer products wrap around exactly like numpy's) and shape.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays, from_dtype, mutually_broadcastable_shapes

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.types import SUPPORTED_DTYPES


def assert_matches(got, want):
    got = np.asarray(got)
    assert got.dtype == want.dtype, f"dtype {got.dtype}, numpy gives {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape}, numpy gives {want.shape}"
    if want.dtype.kind == "f":
        rtol = 1e-5 if want.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def elements(dtype):
    if dtype.kind == "f":
        return from_dtype(dtype, min_value=-100, max_value=100, allow_nan=False)
    return from_dtype(dtype)


@st.composite
def operand(draw, shape, name):
    dtype = np.dtype(draw(st.sampled_from(SUPPORTED_DTYPES)))
    value = draw(arrays(dtype, shape, elements=elements(dtype)))
    static = tuple(d if draw(st.booleans()) else None for d in shape)
    return value, at.tensor(dtype.name, shape=static, name=name)


@st.composite
def matmul_case(draw, max_dims=4):
    shapes = draw(
        mutually_broadcastable_shapes(
            signature=np.matmul.signature, max_dims=max_dims, min_side=0, max_side=3
        )
    ).input_shapes
    (a, x), (b, y) = draw(operand(shapes[0], "a")), draw(operand(shapes[1], "b"))
    return a, b, x, y


@given(case=matmul_case())
def test_matmul_matches_numpy(case):
    a, b, x, y = case
    want = np.asarray(np.matmul(a, b))
    f = ag.function([x, y], [at.matmul(x, y), x @ y], target="py", optimize=False)
    for got in f(a, b):
        assert_matches(got, want)


@given(case=matmul_case(max_dims=2))
def test_dot_of_vectors_and_matrices_matches_numpy(case):
    a, b, x, y = case
    got = ag.function([x, y], at.dot(x, y), target="py", optimize=False)(a, b)
    assert_matches(got, np.asarray(np.dot(a, b)))


def test_dot_with_a_scalar_is_a_product():
    s, v = at.dscalar("s"), at.bvector("v")
    vv = np.array([1, -2, 3], np.int8)
    got = at.dot(s, v).eval({s: 2.5, v: vv})
    assert_matches(got, np.asarray(np.dot(np.float64(2.5), vv)))


def test_dot_of_higher_rank_operands_matches_numpy():
    if not hasattr(at, "tensordot"):
        pytest.skip("at.tensordot (tensor/linalg.py) is not there yet")
    x, y = at.dtensor3("x"), at.dmatrix("y")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5))
    assert_matches(at.dot(x, y).eval({x: a, y: b}), np.dot(a, b))


def test_matmul_with_python_lists_and_arrays_as_constants():
    x = at.fmatrix("x")
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    w = np.ones((3, 2), np.float32)
    assert_matches((x @ w).eval({x: xv}), xv @ w)
    # a nested list is a float64 array, as in numpy
    assert_matches(([[1.0, 0.5]] @ x).eval({x: xv}), np.array([[1.0, 0.5]]) @ xv)


def test_integer_products_wrap_like_numpy():
    x, y = at.bmatrix("x"), at.bmatrix("y")
    a = np.full((2, 3), 100, np.int8)
    got = at.matmul(x, y).eval({x: a, y: a.T.copy()})
    assert_matches(got, np.matmul(a, a.T))


def test_static_shape_of_the_result():
    a = at.tensor("float32", shape=(None, 1, 3, 4))
    b = at.tensor("float32", shape=(5, 4, 2))
    assert (a @ b).type.shape == (None, 5, 3, 2)
    assert (at.tensor("float32", shape=(4,)) @ b).type.shape == (5, 2)
    assert (a @ at.tensor("float32", shape=(4,))).type.shape == (None, 1, 3)
    assert (at.fvector() @ at.fvector()).type.shape == ()


# --- build-time errors -----------------------------------------------------


def test_dot_of_incompatible_static_shapes_fails_at_build_naming_both_operands():
    a = at.tensor("float32", shape=(3, 4), name="a")
    b = at.tensor("float32", shape=(5, 6), name="b")
    with pytest.raises(ag.ShapeError) as info:
        at.dot(a, b)  # the line the message points to
    msg = str(info.value)
    assert "float32[3,4]" in msg and "float32[5,6]" in msg
    assert f"{__file__}:" in msg


def test_matmul_inner_dimension_mismatch_of_vectors():
    with pytest.raises(ag.ShapeError, match="matmul"):
        at.tensor("float64", shape=(3,)) @ at.tensor("float64", shape=(4,))


def test_matmul_batch_dimensions_must_broadcast():
    a = at.tensor("float32", shape=(2, 3, 4))
    b = at.tensor("float32", shape=(3, 4, 5))
    with pytest.raises(ag.ShapeError, match="batch") as info:
        a @ b
    assert "float32[2,3,4]" in str(info.value) and "float32[3,4,5]" in str(info.value)


def test_matmul_refuses_scalars():
    with pytest.raises(ag.ShapeError, match="at least one dimension"):
        at.matmul(at.fscalar("s"), at.fvector("v"))


def test_matmul_of_bools_follows_numpy():
    x, y = at.tensor("bool", shape=(None, None)), at.tensor("bool", shape=(None,))
    a, b = np.array([[True, False], [False, False]]), np.array([True, True])
    f = ag.function([x, y], x @ y, target="py", optimize=False)
    assert_matches(f(a, b), np.matmul(a, b))


def test_run_time_inner_dimension_mismatch_is_a_value_error_naming_the_function():
    x, y = at.dmatrix("x"), at.dmatrix("y")
    f = ag.function([x, y], x @ y, target="py", optimize=False, name="product")
    with pytest.raises(ValueError, match="product"):
        f(np.ones((2, 3)), np.ones((4, 2)))
