"""dtype promotion follows numpy 2 (NEP 50): Python scalars are *weak*.

The oracle is numpy itself, applied to real arrays of the variable's dtype
and the same Python scalar: the graph must have the dtype numpy's result
has, the values numpy computes, and fail (TypeError) where numpy raises
OverflowError (an integer scalar that does not fit).  The one departure:
where numpy would give float16, aotgraph gives float32.
"""

import operator

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.types import SUPPORTED_DTYPES

# operator on the graph: numpy ufunc of the oracle.  (The ufunc, not the
# ndarray operator: ``bool_array ** 2`` takes numpy's np.square shortcut and
# gives int8 where np.power gives int64.)
ARITHMETIC = {
    "+": (operator.add, np.add),
    "-": (operator.sub, np.subtract),
    "*": (operator.mul, np.multiply),
    "/": (operator.truediv, np.true_divide),
    "//": (operator.floordiv, np.floor_divide),
    "%": (operator.mod, np.remainder),
    "**": (operator.pow, np.power),
}
COMPARISON = {
    "<": (operator.lt, np.less),
    "<=": (operator.le, np.less_equal),
    ">": (operator.gt, np.greater),
    ">=": (operator.ge, np.greater_equal),
}
SCALARS = [
    0,
    1,
    2,
    3,
    -1,
    100,
    300,
    70000,
    2**31,
    2**40,
    -(2**63),
    2**63,
    0.5,
    2.0,
    -2.5,
    1e300,
    True,
]


def sample(dtype):
    if dtype == "bool":
        return np.array([True, False, True])
    if np.dtype(dtype).kind == "u":
        return np.array([1, 2, 7], dtype)
    if np.dtype(dtype).kind == "i":
        return np.array([-3, 1, 7], dtype)
    return np.array([-1.5, 0.25, 7.0], dtype)


def numpy_result(func, arr, scalar, reflected):
    """numpy's result, or the exception class numpy raises."""
    with np.errstate(all="ignore"):
        try:
            out = func(scalar, arr) if reflected else func(arr, scalar)
        except (OverflowError, TypeError) as exc:
            return type(exc)
        except ValueError:  # e.g. integers to negative integer powers
            return ValueError
    out = np.asarray(out)
    if out.dtype == np.float16:
        # aotgraph's one departure: no float16; compute in float32 instead
        with np.errstate(all="ignore"):
            arr32 = arr.astype(np.float32)
            out = np.asarray(func(scalar, arr32) if reflected else func(arr32, scalar))
    return out


def check(ops, dtype, scalar, reflected=False):
    func, ufunc = ops
    arr = sample(dtype)
    want = numpy_result(ufunc, arr, scalar, reflected)
    x = at.tensor(dtype, shape=(None,), name="x")
    if isinstance(want, type):
        with pytest.raises(TypeError if want is not ValueError else (TypeError, ValueError)):
            expr = func(scalar, x) if reflected else func(x, scalar)
            ag.function([x], expr, target="py", optimize=False)(arr)
        return
    expr = func(scalar, x) if reflected else func(x, scalar)
    assert expr.dtype == want.dtype.name, (dtype, scalar, expr.dtype, want.dtype)
    got = ag.function([x], expr, target="py", optimize=False)(arr)
    assert got.dtype == want.dtype
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def test_the_headline_rules():
    assert (at.fvector() + 2.0).dtype == "float32"
    assert (at.bvector() + 3).dtype == "int8"
    assert (at.ivector() + 2.5).dtype == "float64"
    assert (2.0 * at.fmatrix()).dtype == "float32"
    assert (at.fvector() + np.float64(2.0)).dtype == "float64"  # numpy scalars are strong
    assert (at.fvector() + at.constant(2.0)).dtype == "float64"  # so are constants
    with pytest.raises(TypeError, match="300 is out of bounds for int8"):
        at.bvector() + 300


@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES)
@pytest.mark.parametrize("op", sorted(ARITHMETIC))
def test_arithmetic_with_python_scalars_matches_numpy(op, dtype):
    for scalar in SCALARS:
        check(ARITHMETIC[op], dtype, scalar)
        check(ARITHMETIC[op], dtype, scalar, reflected=True)


@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES)
@pytest.mark.parametrize("op", sorted(COMPARISON))
def test_comparisons_with_python_scalars_match_numpy(op, dtype):
    # numpy 2 compares with out-of-range integers exactly (int8 < 300 is True).
    # Except bool arrays against ints beyond int64, where numpy raises
    # OverflowError; aotgraph compares those exactly too.
    for scalar in SCALARS:
        if dtype == "bool" and isinstance(scalar, int) and scalar >= 2**63:
            continue
        check(COMPARISON[op], dtype, scalar)
        check(COMPARISON[op], dtype, scalar, reflected=True)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int64", "uint64"])
def test_equality_with_out_of_range_integers_matches_numpy(dtype):
    x = at.tensor(dtype, shape=(None,), name="x")
    arr = sample(dtype)
    for scalar in (300, -1, -(2**63), 2**63, 2**64 - 1):
        with np.errstate(all="ignore"):
            want_eq, want_ne = arr == scalar, arr != scalar
        got_eq = at.eq(x, scalar).eval({x: arr})
        got_ne = at.neq(x, scalar).eval({x: arr})
        np.testing.assert_array_equal(got_eq, want_eq)
        np.testing.assert_array_equal(got_ne, want_ne)


@pytest.mark.parametrize("name", ["maximum", "minimum", "arctan2", "logical_and", "bitwise_or"])
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int64", "float32", "float64"])
def test_named_binary_functions_treat_python_scalars_as_weak(name, dtype):
    func = getattr(np, name)
    for scalar in (2, -1, 1.5, True):
        check((getattr(at, name), func), dtype, scalar)
        check((getattr(at, name), func), dtype, scalar, reflected=True)


def test_two_python_scalars_promote_like_numpy_arrays_of_them():
    assert (at.as_tensor(2) + 3).dtype == np.result_type(2, 3).name == "int64"
    assert (at.as_tensor(2) + 0.5).dtype == "float64"
    assert float((at.as_tensor(7) // 2).eval()) == 3.0


def test_switch_branches_are_promoted_weakly():
    c = at.tensor("bool", shape=(None,), name="c")
    x = at.tensor("int16", shape=(None,), name="x")
    cv, xv = np.array([True, False]), np.array([5, 6], np.int16)
    for other in (0, -7, 2.5):
        want = np.where(cv, xv, other)
        got = at.switch(c, x, other).eval({c: cv, x: xv})
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
