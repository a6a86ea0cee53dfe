"""The CUDA kernels of the op suite, run on the CPU through
runtime_c/ag_cuda_emul.h (threads with real barriers, shared memory, warp
shuffles), against the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from cuda_harness import IRGraph, assert_same, build, reference
from hypothesis import given, settings
from hypothesis import strategies as st
from op_suite import suite

import aotgraph.tensor as at

SUITE = suite()


def _tolerance(args, result):
    """float32 anywhere: a few ulps of float32 (block-order sums, libm vs
    numpy's SIMD math); float64 only: a few ulps of float64."""
    if any(np.asarray(a).dtype == np.float32 for a in args) or result.dtype == np.float32:
        return dict(rtol=2e-5, atol=2e-5)
    return dict(rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    graphs = {name: IRGraph(ins, outs) for name, (ins, outs, _) in SUITE.items()}
    x = at.tensor("float32", shape=(None, None), name="x")
    y = at.tensor("float32", shape=(None, None), name="y")
    extra = {
        "hyp_add": ([x, y], [x * y + 1.0]),
        "hyp_sum": ([x], [at.sum(x, axis=0)]),
        "hyp_softmax": ([x], [at.nnet.softmax(x)]),
        "hyp_matmul": ([x, y], [at.matmul(x, y)]),
        "hyp_int_pow": None,
    }
    xi = at.tensor("int32", shape=(None,), name="xi")
    yi = at.tensor("int32", shape=(None,), name="yi")
    extra["hyp_int_pow"] = ([xi, yi], [xi**yi])
    for name, (ins, outs) in extra.items():
        graphs[name] = IRGraph(ins, outs)
    fns, _ = build(graphs, tmp_path_factory.mktemp("emu"))
    return fns, extra


@pytest.mark.parametrize("name", sorted(SUITE))
def test_op_suite_matches_reference(built, name):
    fns, _ = built
    ins, outs, args = SUITE[name]
    got = fns[name](*args)
    want = reference(ins, outs, args)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert_same(g, w, **_tolerance(args, np.asarray(w)))


def _matrix(rows, cols, seed):
    return np.random.default_rng(seed).standard_normal((rows, cols)).astype("float32")


@given(st.integers(0, 70), st.integers(0, 70), st.integers(0, 2**16), st.booleans())
def test_elementwise_any_shape_and_layout(built, rows, cols, seed, transposed):
    fns, extra = built
    a, b = _matrix(rows, cols, seed), _matrix(rows, cols, seed + 1)
    if transposed:
        a, b = _matrix(cols, rows, seed).T, b
    ins, outs = extra["hyp_add"]
    assert_same(fns["hyp_add"](a, b)[0], reference(ins, outs, (a, b))[0], rtol=1e-6, atol=1e-6)


@settings(max_examples=10)  # each barrier switches 64 pthreads on 2 cores: slow
@given(st.integers(1, 5), st.integers(0, 400), st.integers(0, 2**16))
def test_reductions_and_softmax_any_shape(built, rows, cols, seed):
    fns, extra = built
    a = _matrix(cols, rows, seed)
    for name in ("hyp_sum", "hyp_softmax"):
        ins, outs = extra[name]
        if name == "hyp_softmax" and cols == 0:
            continue
        assert_same(fns[name](a)[0], reference(ins, outs, (a,))[0], rtol=1e-4, atol=1e-5)


@given(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30), st.integers(0, 2**16))
def test_tiled_gemm_any_size(built, m, k, n, seed):
    fns, extra = built
    a, b = _matrix(m, k, seed), _matrix(k, n, seed + 1)
    ins, outs = extra["hyp_matmul"]
    assert_same(fns["hyp_matmul"](a, b)[0], a @ b, rtol=1e-4, atol=1e-4)


def test_negative_integer_power_is_reported_from_the_device(built):
    fns, _ = built
    good = fns["hyp_int_pow"](np.array([2, 3], np.int32), np.array([3, 2], np.int32))[0]
    np.testing.assert_array_equal(good, np.array([8, 9], np.int32))
    with pytest.raises(ValueError, match="negative integer powers"):
        fns["hyp_int_pow"](np.array([2, 3], np.int32), np.array([1, -1], np.int32))


def test_broadcast_error_names_the_op(built):
    fns, _ = built
    with pytest.raises(ValueError, match="could not be broadcast"):
        fns["hyp_add"](np.zeros((2, 3), np.float32), np.zeros((4, 3), np.float32))
