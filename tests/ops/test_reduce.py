"""Reductions against numpy: every reduction, every dtype, axis ``None`` /
int / tuple / negative, ``keepdims``, empty and 0-d inputs.

Oracles: numpy's own functions; scipy's ``logsumexp`` in float64 for
``logsumexp``, whose result dtype is the one numpy gives for
``log(sum(exp(x)))`` (float16 for small integers becomes float32, as
everywhere in aotgraph).  Where numpy raises (max of an empty axis) the
graph raises at build time when the length is static, at run time
(ValueError) when it is not.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays, from_dtype

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.types import SUPPORTED_DTYPES

special = pytest.importorskip("scipy.special")

SIMPLE = ["sum", "prod", "max", "min", "all", "any"]
STATISTICS = ["mean", "var", "std"]
# logsumexp is built on max: an empty axis is an error, as for max (scipy
# would return -inf there).
NO_IDENTITY = {"max", "min", "argmax", "argmin", "logsumexp"}
RTOL = {"float32": 2e-5, "float64": 1e-12}


def _logsumexp_oracle(x, axis, keepdims):
    if x.ndim == 0:
        axis = None  # axis 0 of a 0-d array: the whole (single) element
    axes = (
        tuple(range(x.ndim))
        if axis is None
        else tuple(int(a) % x.ndim for a in np.atleast_1d(np.asarray(axis, dtype=np.int64)))
    )
    if any(x.shape[a] == 0 for a in axes):
        raise ValueError("logsumexp of an empty axis")
    want = np.exp(np.zeros(0, x.dtype)).dtype
    want = np.float32 if want == np.float16 else want
    x64 = x.astype(np.float64)
    if not axes:
        out = x64  # a reduction over no axes is the identity
    else:
        with np.errstate(all="ignore"):
            out = special.logsumexp(x64, axis=axes, keepdims=keepdims)
    # scipy gives 0-d inputs with keepdims a shape (1,); numpy's sum gives ()
    shape = np.sum(x, axis=axis, keepdims=keepdims).shape
    return np.asarray(out).astype(want).reshape(shape)


def numpy_oracle(name, x, axis, keepdims, ddof=0):
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mean of empty slice etc.
        if name == "logsumexp":
            return _logsumexp_oracle(x, axis, keepdims)
        if name in ("var", "std"):
            return np.asarray(getattr(np, name)(x, axis=axis, keepdims=keepdims, ddof=ddof))
        return np.asarray(getattr(np, name)(x, axis=axis, keepdims=keepdims))


def assert_matches(got, want, atol=0.0):
    got = np.asarray(got)
    assert got.dtype == want.dtype, f"dtype {got.dtype}, numpy gives {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape}, numpy gives {want.shape}"
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=RTOL[want.dtype.name], atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


@st.composite
def axis_for(draw, ndim, single=False):
    """None, an int (possibly negative) or, unless ``single``, a tuple."""
    kinds = ["none", "int"]
    if not single and ndim:
        kinds.append("tuple")
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    if kind == "int":  # numpy accepts axis 0 and -1 for 0-d arrays too
        return draw(st.integers(-max(ndim, 1), max(ndim, 1) - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


@st.composite
def reduction_case(draw, single_axis=False, bounded=False):
    dtype = np.dtype(draw(st.sampled_from(SUPPORTED_DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    if dtype.kind == "f":
        limit = 1e4 if bounded else None
        elements = from_dtype(
            dtype,
            allow_nan=not bounded,
            allow_infinity=not bounded,
            min_value=-limit if limit else None,
            max_value=limit,
        )
    else:
        elements = from_dtype(dtype)
    x = draw(arrays(dtype, shape, elements=elements))
    static = tuple(d if draw(st.booleans()) else None for d in shape)
    axis = draw(axis_for(len(shape), single=single_axis))
    return x, static, axis, draw(st.booleans())


def check(name, build, case, ddof=0, atol=0.0):
    x, static, axis, keepdims = case
    sym = at.tensor(x.dtype.name, shape=static, name="x")
    try:
        try:
            want = numpy_oracle(name, x, axis, keepdims, ddof)
        except np.exceptions.AxisError:
            # numpy's sum/max/argmax accept axis 0 on a 0-d array but its
            # mean/var/std do not; aotgraph accepts it everywhere (a no-op)
            assert x.ndim == 0
            want = numpy_oracle(name, x, None, keepdims, ddof)
    except ValueError:  # an empty axis for an op without identity
        assert name in NO_IDENTITY
        try:
            out = build(sym, axis, keepdims)
        except ag.ShapeError as exc:  # static zero length: refused at build time
            assert name in str(exc)
            return
        fn = ag.function([sym], out, target="py", optimize=False, name="reducer")
        with pytest.raises(ValueError, match="reducer"):
            fn(x)
        return
    out = build(sym, axis, keepdims)
    got = ag.function([sym], out, target="py", optimize=False)(x)
    assert_matches(got, want, atol)


@pytest.mark.parametrize("name", SIMPLE + ["mean"])
@given(case=reduction_case())
def test_reduction_matches_numpy(name, case):
    check(name, lambda x, axis, keepdims: getattr(at, name)(x, axis=axis, keepdims=keepdims), case)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(case=reduction_case(single_axis=True))
def test_arg_reduction_matches_numpy(name, case):
    check(name, lambda x, axis, keepdims: getattr(at, name)(x, axis=axis, keepdims=keepdims), case)


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("ddof", [0, 1])
@given(case=reduction_case())
def test_variance_matches_numpy(name, ddof, case):
    def build(x, axis, keepdims):
        return getattr(at, name)(x, axis=axis, keepdims=keepdims, ddof=ddof)

    check(name, build, case, ddof=ddof)


@given(case=reduction_case(bounded=True))
def test_logsumexp_matches_scipy(case):
    def build(x, axis, keepdims):
        return at.logsumexp(x, axis=axis, keepdims=keepdims)

    # float32 sums of exp() round at 1e-7 relative; results near 0 need an atol.
    check("logsumexp", build, case, atol=1e-5)


def test_logsumexp_handles_infinities_and_large_values():
    x = at.dmatrix("x")
    v = np.array([[-np.inf, -np.inf], [1000.0, 1000.0], [np.inf, 0.0], [-1e308, 5.0]])
    got = at.logsumexp(x, axis=1).eval({x: v})
    np.testing.assert_allclose(got, special.logsumexp(v, axis=1))


def test_logsumexp_of_small_integers_does_not_wrap_around():
    x = at.bvector("x")
    v = np.array([-128, 127], np.int8)
    got = at.logsumexp(x).eval({x: v})
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, special.logsumexp(v.astype(np.float64)), rtol=1e-6)


def test_methods_match_the_functions():
    x = at.tensor("int16", shape=(None, 3), name="x")
    v = np.arange(-6, 6, dtype=np.int16).reshape(4, 3)
    f = ag.function(
        [x],
        [
            x.sum(axis=0),
            x.prod(axis=-1, keepdims=True),
            x.max(),
            x.min(axis=(0, 1)),
            x.mean(axis=1),
            x.var(),
            x.std(axis=0),
            x.argmax(axis=1),
            x.argmin(),
            (x > 0).all(axis=0),
            (x > 0).any(),
        ],
        target="py",
        optimize=False,
    )
    want = [
        v.sum(axis=0),
        v.prod(axis=-1, keepdims=True),
        v.max(),
        v.min(axis=(0, 1)),
        v.mean(axis=1),
        v.var(),
        v.std(axis=0),
        v.argmax(axis=1),
        v.argmin(),
        (v > 0).all(axis=0),
        (v > 0).any(),
    ]
    for g, w in zip(f(v), want):
        assert_matches(g, np.asarray(w))


def test_sum_with_dtype_argument():
    x = at.bvector("x")
    v = np.array([100, 100, 100], np.int8)
    got = at.sum(x, dtype="int8").eval({x: v})
    assert_matches(got, np.asarray(v.sum(dtype=np.int8)))


def test_var_with_more_ddof_than_elements_is_inf_or_nan_like_numpy():
    x = at.dvector("x")
    v = np.array([1.0, 3.0])
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.var(v, ddof=3)
    assert_matches(x.var(ddof=3).eval({x: v}), np.asarray(want))


# --- build-time errors -----------------------------------------------------


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin"])
def test_reducing_a_static_empty_axis_without_identity_fails_at_build(name):
    x = at.tensor("float32", shape=(3, 0), name="x")
    with pytest.raises(ag.ShapeError, match=name):
        getattr(at, name)(x, axis=1)
    # the non-empty axis is fine
    assert getattr(at, name)(x, axis=0).type.shape == (0,)


@pytest.mark.parametrize("name", ["sum", "prod", "all", "any", "mean"])
def test_reductions_with_identity_accept_empty_axes(name):
    x = at.tensor("float64", shape=(3, 0), name="x")
    got = getattr(at, name)(x, axis=1).eval({x: np.zeros((3, 0))})
    assert_matches(got, numpy_oracle(name, np.zeros((3, 0)), 1, False))


@pytest.mark.parametrize("name", SIMPLE + STATISTICS + ["argmax", "argmin", "logsumexp"])
def test_axis_out_of_range_fails_at_build(name):
    x = at.fmatrix("x")
    with pytest.raises(TypeError, match=name):
        getattr(at, name)(x, axis=2)
    with pytest.raises(TypeError, match=name):
        getattr(at, name)(x, axis=-3)


@pytest.mark.parametrize("name", SIMPLE + ["mean"])
def test_repeated_axis_fails_at_build(name):
    with pytest.raises(TypeError, match="repeated"):
        getattr(at, name)(at.fmatrix("x"), axis=(1, -1))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions_take_one_axis(name):
    with pytest.raises(TypeError, match=f"{name}: axis must be None or an int"):
        getattr(at, name)(at.fmatrix("x"), axis=(0, 1))
