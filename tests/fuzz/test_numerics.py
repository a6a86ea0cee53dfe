"""Numerics of compiled code: float32 reductions of 10^7 elements as accurate
as numpy's, the optimizer's stability rewrites hold on the compiled target,
and integer overflow wraps exactly like numpy.  Oracles: math.fsum / float64
numpy and closed forms."""

from __future__ import annotations

import importlib
import math
import sys

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.build import build_module

N = 10_000_000


def _spec():
    mod = ag.Module("agnum.m")
    x = at.fvector("x")
    mod.function("sum32", [x], x.sum())
    mod.function("mean32", [x], x.mean())
    m = at.fmatrix("m")
    mod.function("rowsum32", [m], m.sum(axis=1))
    d = at.dvector("d")
    mod.function("log1p_pattern", [d], at.log(1 + d))
    mod.function("expm1_pattern", [d], at.exp(d) - 1)
    mod.function("log_sigmoid", [d], at.log(at.nnet.sigmoid(d)))
    mod.function("log1m_sigmoid", [d], at.log(1 - at.nnet.sigmoid(d)))
    mod.function("softplus", [d], at.log1p(at.exp(d)))
    dm = at.dmatrix("dm")
    mod.function("log_softmax", [dm], at.log(at.nnet.softmax(dm)))
    # the rewrite needs a static nonzero length on the reduced axis (the
    # max of an empty axis would raise where the sum gives log(0) = -inf)
    d3 = at.tensor("float64", shape=(None, 3), name="d3")
    mod.function("logsumexp", [d3], at.log(at.exp(d3).sum(axis=1)))
    y = at.lvector("y")
    xent = at.nnet.categorical_crossentropy(at.nnet.softmax(dm), y)
    mod.function("xent", [dm, y], xent)
    for dtype in ("int8", "int16", "int32", "int64", "uint8", "uint32"):
        a = at.tensor(dtype, shape=(None,), name="a")
        b = at.tensor(dtype, shape=(None,), name="b")
        mod.function(f"wrap_{dtype}", [a, b], [a + b, a - b, a * b, -a, abs(a), a.sum(), a.prod()])
    return mod


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("numerics")
    build_module(_spec(), str(out))
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("agnum.m")
    finally:
        sys.path.remove(str(out))


@pytest.mark.parametrize("kind", ["uniform", "signed", "large_offset"])
def test_float32_sum_of_ten_million_is_as_accurate_as_numpy(built, kind):
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, N).astype("float32")
    if kind == "signed":
        x -= np.float32(0.5)
    elif kind == "large_offset":
        x += np.float32(1000)
    exact = math.fsum(x.astype("float64"))
    numpy_err = abs(float(x.sum()) - exact)
    # numpy's pairwise summation errs by O(log n) ulps; allow a few times
    # that, floored at 8 ulps of the sum of magnitudes
    bound = max(
        4 * numpy_err, 8 * np.finfo(np.float32).eps * float(np.abs(x).astype("float64").sum())
    )
    got = float(built.sum32(x))
    assert abs(got - exact) <= bound, (got, exact, numpy_err)
    assert abs(float(built.mean32(x)) - exact / N) <= bound / N
    rows = built.rowsum32(x.reshape(1000, -1))
    exact_rows = x.reshape(1000, -1).astype("float64").sum(axis=1)
    assert np.max(np.abs(rows - exact_rows)) <= bound / 100


def test_stability_rewrites_hold_when_compiled(built):
    tiny = np.array([1e-20, -1e-17, 1e-10])
    np.testing.assert_allclose(built.log1p_pattern(tiny), np.log1p(tiny), rtol=1e-12)
    np.testing.assert_allclose(built.expm1_pattern(tiny), np.expm1(tiny), rtol=1e-12)
    big = np.array([-800.0, -40.0, 0.0, 40.0, 800.0])
    # log(sigmoid(x)) = -softplus(-x); closed forms for the extremes
    np.testing.assert_allclose(built.log_sigmoid(big), -np.logaddexp(0, -big), rtol=1e-12)
    np.testing.assert_allclose(built.log1m_sigmoid(big), -np.logaddexp(0, big), rtol=1e-12)
    np.testing.assert_allclose(built.softplus(big), np.logaddexp(0, big), rtol=1e-12)
    logits = np.array([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]])
    shifted = logits - logits.max(axis=1, keepdims=True)
    want = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(built.log_softmax(logits), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(built.logsumexp(logits), [1000.0, 5.0 + np.log(3.0)], rtol=1e-12)
    xent = built.xent(logits, np.array([2, 0]))
    np.testing.assert_allclose(xent, [2000.0, np.log(3.0)], rtol=1e-9)
    assert np.all(np.isfinite(xent))


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint32"])
def test_integer_overflow_wraps_like_numpy(built, dtype):
    info = np.iinfo(dtype)
    a = np.array([info.max, info.min, info.max, -1 if info.min else 1, 7], dtype=dtype)
    b = np.array([1, -1 if info.min else 1, info.max, info.min, 3], dtype=dtype)
    got = getattr(built, f"wrap_{dtype}")(a, b)
    with np.errstate(all="ignore"):
        want = [a + b, a - b, a * b, -a, np.abs(a), a.sum(), a.prod()]
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype and np.array_equal(g, w), (i, g, w)
