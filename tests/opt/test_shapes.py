"""Symbolic shapes: equal run-time lengths are proven, unequal ones never."""

import numpy as np

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.opt.shapes import ShapeAnalysis


def test_elementwise_and_reductions_keep_tokens():
    x = at.dmatrix("x")
    an = ShapeAnalysis()
    assert an.same_shape(at.exp(x) + 1.0, x)
    assert an.dims(x.sum(axis=1, keepdims=True)) == (an.dims(x)[0], 1)
    assert an.dims(x.T) == an.dims(x)[::-1]


def test_broadcast_of_two_unknown_lengths_is_a_new_length():
    x, y = at.dmatrix("x"), at.dmatrix("y")
    an = ShapeAnalysis()
    z = x + y  # x or y may have length 1 on an axis: z's lengths are neither
    assert not an.same_shape(z, x) and not an.same_shape(z, y)
    # and the analysis must not claim otherwise at run time
    f = ag.function([x, y], z, target="py")
    assert f(np.ones((1, 3)), np.ones((2, 3))).shape == (2, 3)


def test_static_lengths_and_alloc_from_shape():
    x = at.tensor("float64", shape=(None, 3), name="x")
    an = ShapeAnalysis()
    zeros = at.zeros_like(x)
    assert an.dims(x)[1] == 3
    assert an.same_shape(zeros, x)
    assert an.length_source(at.exp(x), 0) == (x, 0)
    assert an.length_source(at.exp(x), 1) == 3


def test_matmul_and_gemm_lengths():
    a, b = at.dmatrix("a"), at.dmatrix("b")
    an = ShapeAnalysis()
    assert an.dims(a @ b) == (an.dims(a)[0], an.dims(b)[1])
    assert an.dims(a.T @ b) == (an.dims(a)[1], an.dims(b)[1])
