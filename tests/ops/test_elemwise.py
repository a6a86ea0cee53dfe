"""Every elementwise op, ``switch`` and ``cast`` against numpy.

The oracle is numpy (scipy.special for erf/erfc/expit) run by the test on
the same arrays.  Two documented departures from numpy:

* aotgraph has no float16.  Where numpy computes in float16 (transcendental
  functions of bool/8-bit/16-bit integers), aotgraph computes in float32, so
  the oracle is numpy applied to the integer inputs converted to float32.
* ``sigmoid``, ``softplus``, ``erf`` and ``erfc`` have no numpy ufunc; their
  result dtype follows ``np.exp`` (same float16 rule).

Results must have exactly numpy's dtype and shape; integer and bool values
must be equal, float values equal to a few ulps with NaNs in the same places.
Where numpy has no loop for the dtypes (TypeError) the graph does not build;
where numpy raises at run time (ValueError) so does the call.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays, from_dtype, mutually_broadcastable_shapes

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.ops.elemwise import ELEMENTWISE_TABLE, elementwise
from aotgraph.types import SUPPORTED_DTYPES

special = pytest.importorskip("scipy.special")

UNARY = sorted(n for n, (_, nin, _) in ELEMENTWISE_TABLE.items() if nin == 1)
BINARY = sorted(n for n, (_, nin, _) in ELEMENTWISE_TABLE.items() if nin == 2)
FLOAT_ONLY = {"sigmoid", "softplus", "erf", "erfc"}
RTOL = {"float32": 4e-6, "float64": 1e-13}

#: Independent oracles: numpy ufuncs by op name, scipy for the rest.
NUMPY_FUNCS = {
    "neg": np.negative,
    "abs": np.absolute,
    "sign": np.sign,
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "true_div": np.true_divide,
    "floor_div": np.floor_divide,
    "mod": np.remainder,
    "pow": np.power,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "exp": np.exp,
    "exp2": np.exp2,
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "sqrt": np.sqrt,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.rint,
    "trunc": np.trunc,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "arcsin": np.arcsin,
    "arccos": np.arccos,
    "arctan": np.arctan,
    "arctan2": np.arctan2,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "arcsinh": np.arcsinh,
    "arccosh": np.arccosh,
    "arctanh": np.arctanh,
    "isnan": np.isnan,
    "isinf": np.isinf,
    "isfinite": np.isfinite,
    "eq": np.equal,
    "neq": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "logical_not": np.logical_not,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
    "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
    "invert": np.invert,
    "sigmoid": special.expit,
    "softplus": lambda x: np.logaddexp(x.dtype.type(0), x),
    "erf": special.erf,
    "erfc": special.erfc,
}


def test_every_table_op_has_an_oracle_and_a_public_function():
    assert set(NUMPY_FUNCS) == set(ELEMENTWISE_TABLE)
    for name in ELEMENTWISE_TABLE:
        assert callable(getattr(at, name)), name


def _to_float32(arrays):
    return [a.astype(np.float32) if a.dtype.kind in "biu" else a for a in arrays]


def numpy_oracle(name, arrays):
    """numpy's answer (see the module doc for the float16 and float-only rules).
    Raises numpy's TypeError (no loop) or ValueError (bad values)."""
    func = NUMPY_FUNCS[name]
    with np.errstate(all="ignore"):
        if name in FLOAT_ONLY:
            want = np.exp(np.zeros(0, arrays[0].dtype)).dtype
            want = np.float32 if want == np.float16 else want
            return np.asarray(func(arrays[0].astype(want)))
        probe = func(*[np.zeros(0, a.dtype) for a in arrays])
        if probe.dtype == np.float16:
            arrays = _to_float32(arrays)
        return np.asarray(func(*arrays))


def assert_matches_numpy(got, want):
    got = np.asarray(got)
    assert got.dtype == want.dtype, f"dtype {got.dtype}, numpy gives {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape}, numpy gives {want.shape}"
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=RTOL[want.dtype.name], atol=0, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def symbolic_like(draw, arr, name):
    """An input of ``arr``'s dtype, each length static or None at random."""
    shape = tuple(d if draw(st.booleans()) else None for d in arr.shape)
    return at.tensor(arr.dtype.name, shape=shape, name=name)


def build(name, *symbols):
    """The op itself (``at.round`` is numpy's round over the ``round``/rint op)."""
    return elementwise(name, *symbols)


def run_op(name, arrays, symbols):
    out = build(name, *symbols)
    fn = ag.function(symbols, out, target="py", optimize=False)
    return fn(*arrays)


def check_against_numpy(name, arrays, symbols):
    try:
        want = numpy_oracle(name, arrays)
    except TypeError:
        with pytest.raises(TypeError, match=name):
            build(name, *symbols)
        return
    except ValueError:  # e.g. integers to negative integer powers
        out = build(name, *symbols)
        fn = ag.function(symbols, out, target="py", optimize=False)
        with pytest.raises(ValueError, match=name):
            fn(*arrays)
        return
    assert_matches_numpy(run_op(name, arrays, symbols), want)


def element_strategy(dtype):
    if dtype.kind == "f":
        return from_dtype(dtype, allow_nan=True, allow_infinity=True)
    return from_dtype(dtype)


@st.composite
def op_case(draw, nin):
    shapes = draw(
        mutually_broadcastable_shapes(
            num_shapes=nin, min_dims=0, max_dims=3, min_side=0, max_side=3
        )
    ).input_shapes
    arrays_, symbols = [], []
    for i, shape in enumerate(shapes):
        dtype = np.dtype(draw(st.sampled_from(SUPPORTED_DTYPES)))
        arr = draw(arrays(dtype, shape, elements=element_strategy(dtype)))
        arrays_.append(arr)
        symbols.append(symbolic_like(draw, arr, f"in{i}"))
    return arrays_, symbols


@pytest.mark.parametrize("name", UNARY)
@given(case=op_case(1))
def test_unary_op_matches_numpy(name, case):
    check_against_numpy(name, *case)


@pytest.mark.parametrize("name", BINARY)
@given(case=op_case(2))
def test_binary_op_matches_numpy(name, case):
    check_against_numpy(name, *case)


# --- every dtype combination, deterministic ---------------------------------


def fixed_values(dtype, positive=False):
    """Small values every dtype holds; ``positive`` avoids 0 (divisors, exponents)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.array([False, True, True, not positive])
    if positive or dtype.kind == "u":
        return np.array([1, 2, 3, 5] if positive else [0, 1, 3, 7], dtype)
    if dtype.kind == "i":
        return np.array([-3, 0, 1, 7], dtype)
    return np.array([-3.5, 0.0, 0.5, 7.25], dtype)


@pytest.mark.parametrize("name", UNARY)
def test_unary_op_every_dtype(name):
    for dtype in SUPPORTED_DTYPES:
        x = at.tensor(dtype, shape=(None,), name="x")
        check_against_numpy(name, [fixed_values(dtype)], [x])


@pytest.mark.parametrize("name", BINARY)
def test_binary_op_every_dtype_pair(name):
    for da in SUPPORTED_DTYPES:
        for db in SUPPORTED_DTYPES:
            x = at.tensor(da, shape=(4,), name="x")
            y = at.tensor(db, shape=(None,), name="y")
            values = [fixed_values(da), fixed_values(db, positive=True)]
            check_against_numpy(name, values, [x, y])


def test_integer_division_and_modulo_follow_numpy_signs():
    a = np.array([-7, -7, 7, 7, -8, 0], np.int32)
    b = np.array([2, -2, 2, -2, 3, 5], np.int32)
    x, y = at.ivector("x"), at.ivector("y")
    f = ag.function([x, y], [x // y, x % y, x / y], target="py", optimize=False)
    q, r, t = f(a, b)
    np.testing.assert_array_equal(q, [-4, 3, 3, -4, -3, 0])
    np.testing.assert_array_equal(r, [1, -1, 1, -1, 1, 0])
    assert t.dtype == np.float64
    np.testing.assert_allclose(t, a / b)


def test_float_modulo_takes_the_sign_of_the_divisor():
    x = at.dvector("x")
    got = (x % -3.0).eval({x: [5.5, -5.5, 0.0]})
    np.testing.assert_array_equal(got, np.remainder([5.5, -5.5, 0.0], -3.0))


# --- switch --------------------------------------------------------------


@given(case=op_case(3))
def test_switch_matches_numpy_where(case):
    arrays_, symbols = case
    cond = arrays_[0]
    want = np.where(cond, arrays_[1], arrays_[2])
    out = at.switch(*symbols)
    got = ag.function(symbols, out, target="py", optimize=False)(*arrays_)
    assert_matches_numpy(got, want)
    assert at.where is at.switch


def test_switch_with_python_scalars_keeps_the_array_dtype():
    c, x = at.tensor("bool", shape=(None,), name="c"), at.fvector("x")
    out = at.switch(c, x, 0)
    cv, xv = np.array([True, False]), np.array([1.5, 2.5], np.float32)
    assert_matches_numpy(out.eval({c: cv, x: xv}), np.where(cv, xv, 0))


# --- cast ----------------------------------------------------------------


@st.composite
def cast_case(draw):
    src = np.dtype(draw(st.sampled_from(SUPPORTED_DTYPES)))
    dst = np.dtype(draw(st.sampled_from(SUPPORTED_DTYPES)))
    shape = draw(st.lists(st.integers(0, 3), max_size=3).map(tuple))
    if src.kind == "f" and dst.kind in "iu":
        # float -> int is defined only for values the target holds (C and numpy
        # agree nowhere else): draw integers in range and store them as floats.
        info = np.iinfo(dst)
        lo, hi = max(int(info.min), -(2**24)), min(int(info.max), 2**24)
        elements = st.integers(lo, hi).map(float)
    else:
        elements = element_strategy(src)
    arr = draw(arrays(src, shape, elements=elements))
    return arr, dst


@given(case=cast_case())
def test_cast_matches_numpy_astype(case):
    arr, dst = case
    x = at.tensor(arr.dtype.name, shape=(None,) * arr.ndim, name="x")
    y = at.cast(x, dst.name)
    assert y.dtype == dst.name
    got = ag.function([x], y, target="py", optimize=False)(arr)
    with np.errstate(all="ignore"):
        assert_matches_numpy(got, arr.astype(dst))


def test_cast_to_the_same_dtype_is_the_variable_itself():
    x = at.fvector("x")
    assert at.cast(x, "float32") is x
    assert x.astype("float64").dtype == "float64"


def test_cast_to_an_unsupported_dtype_is_refused():
    x = at.fvector("x")
    for bad in ("float16", "complex64", "object", "no-such-dtype"):
        with pytest.raises(TypeError, match="cast"):
            at.cast(x, bad)


# --- build-time shape errors ---------------------------------------------


def _line_of(marker):
    with open(__file__) as fh:
        for i, line in enumerate(fh, 1):
            if marker in line and "_line_of" not in line:
                return i
    raise AssertionError(marker)


def test_incompatible_static_lengths_fail_at_build_naming_both_operands_and_line():
    v = at.tensor("float32", shape=(5,), name="v")
    t = at.tensor("float32", shape=(None, 3, 4), name="t")
    with pytest.raises(ag.ShapeError) as info:
        v + t  # BUILD-ERROR-ADD
    msg = str(info.value)
    assert "add" in msg and "float32[5]" in msg and "float32[?,3,4]" in msg
    assert f"{__file__}:{_line_of('BUILD-ERROR-ADD')}" in msg


@pytest.mark.parametrize("name", BINARY)
def test_each_binary_op_checks_static_broadcasting(name):
    a = at.tensor("int32", shape=(2, 3), name="a")
    b = at.tensor("int32", shape=(4,), name="b")
    with pytest.raises(ag.ShapeError, match=name):
        getattr(at, name)(a, b)
    # a length 1 or an unknown length may broadcast: no error at build time
    assert getattr(at, name)(a, at.tensor("int32", shape=(1,))).type.shape == (2, 3)
    assert getattr(at, name)(a, at.tensor("int32", shape=(None,))).type.shape == (2, 3)


def test_switch_checks_static_broadcasting_of_all_three_operands():
    c = at.tensor("bool", shape=(3,), name="c")
    with pytest.raises(ag.ShapeError, match="switch"):
        at.switch(c, at.tensor("float32", shape=(2, 1)), at.tensor("float32", shape=(4,)))


def test_static_shapes_of_the_result_follow_numpy_broadcasting():
    a = at.tensor("float32", shape=(None, 1, 3))
    b = at.tensor("float32", shape=(2, 1))
    assert (a + b).type.shape == (None, 2, 3)
    assert (at.tensor("float32", shape=(0, 1)) * at.fvector()).type.shape == (0, None)


def test_dynamic_lengths_that_do_not_broadcast_fail_at_run_time():
    x, y = at.fvector("x"), at.fvector("y")
    f = ag.function([x, y], x * y, target="py", optimize=False, name="times")
    with pytest.raises(ValueError, match="times") as info:
        f(np.ones(3, np.float32), np.ones(2, np.float32))
    assert "x of shape (3,)" in str(info.value) and "y of shape (2,)" in str(info.value)


@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES)
def test_round_function_matches_numpy_round(dtype):
    # at.round is numpy's round (integers unchanged); the "round" op is rint
    x = at.tensor(dtype, shape=(None,), name="x")
    values = (
        fixed_values(dtype)
        if dtype == "bool" or dtype[0] in "iu"
        else np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, np.nan, -np.inf], dtype)
    )
    want = np.round(values)
    if want.dtype == np.float16:
        want = np.round(values.astype(np.float32))
    assert_matches_numpy(at.round(x).eval({x: values}), want)


def test_decompositions_match_numpy():
    x = at.fvector("x")
    v = np.array([-2.5, -0.5, 0.5, 1.5, np.nan, 3.0, -np.inf], np.float32)
    lo, hi = np.float32(-1), np.float32(1)
    cases = [
        (at.clip(x, -1, 1), np.clip(v, -1, 1)),
        (at.clip(x, at.constant(lo), hi), np.clip(v, lo, hi)),
        (at.sqr(x), np.square(v)),
        (at.square(x), np.square(v)),
        (at.reciprocal(x), np.reciprocal(v)),
        (at.round(x, mode="half_away_from_zero"), np.sign(v) * np.floor(np.abs(v) + 0.5)),
        (x.clip(0, 2), np.clip(v, 0, 2)),
    ]
    with np.errstate(all="ignore"):
        for expr, want in cases:
            assert_matches_numpy(expr.eval({x: v}), np.asarray(want))
    with pytest.raises(ValueError, match="round: mode"):
        at.round(x, mode="up")
