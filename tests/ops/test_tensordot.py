"""Forward values of the linear-algebra builders (tensordot, outer,
batched_dot, dot beyond 2-d) against numpy, static and dynamic shapes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.errors import AotgraphTypeError, ShapeError

seeds = st.integers(0, 2**32 - 1)


@st.composite
def tensordot_case(draw):
    """Shapes of a and b and numpy's axes argument (an int or a pair)."""
    n_sum = draw(st.integers(0, 2))
    summed = [draw(st.integers(1, 3)) for _ in range(n_sum)]
    free_a = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))]
    free_b = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        return tuple(free_a + summed), tuple(summed + free_b), n_sum
    order_a = draw(st.permutations(range(len(free_a) + n_sum)))
    order_b = draw(st.permutations(range(len(free_b) + n_sum)))
    dims_a, dims_b = free_a + summed, summed + free_b
    shape_a = tuple(dims_a[i] for i in order_a)
    shape_b = tuple(dims_b[i] for i in order_b)
    axes_a = [order_a.index(len(free_a) + j) for j in range(n_sum)]
    axes_b = [order_b.index(j) for j in range(n_sum)]
    return shape_a, shape_b, (axes_a, axes_b)


@given(case=tensordot_case(), seed=seeds, static=st.booleans())
def test_tensordot_matches_numpy(case, seed, static):
    sa, sb, axes = case
    rng = np.random.default_rng(seed)
    va, vb = rng.normal(size=sa), rng.normal(size=sb)
    a = at.tensor("float64", shape=sa if static else (None,) * len(sa))
    b = at.tensor("float64", shape=sb if static else (None,) * len(sb))
    out = at.tensordot(a, b, axes=axes)
    got = ag.function([a, b], out, target="py")(va, vb)
    assert np.allclose(got, np.tensordot(va, vb, axes=axes))
    assert got.shape == np.tensordot(va, vb, axes=axes).shape


def test_tensordot_errors():
    a, b = at.tensor("float64", shape=(2, 3)), at.tensor("float64", shape=(4, 5))
    with pytest.raises(ShapeError, match="axis 1 of a .* has length 3 but axis 0 of b"):
        at.tensordot(a, b, axes=1)
    with pytest.raises(AotgraphTypeError, match="axes=3"):
        at.tensordot(a, b, axes=3)
    with pytest.raises(AotgraphTypeError, match="out of range"):
        at.tensordot(a, b, axes=([5], [0]))


@given(seed=seeds)
def test_outer_batched_dot_and_dot_match_numpy(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(2, 3)), rng.normal(size=(4,))
    a, b = at.dmatrix("a"), at.dvector("b")
    assert np.allclose(at.outer(a, b).eval({a: x, b: y}), np.outer(x, y))
    bx, by = rng.normal(size=(3, 2, 4)), rng.normal(size=(3, 4, 5))
    t3, u3 = at.dtensor3("t3"), at.dtensor3("u3")
    assert np.allclose(
        at.batched_dot(t3, u3).eval({t3: bx, u3: by}), np.einsum("bij,bjk->bik", bx, by)
    )
    m1, m2 = at.dmatrix("m1"), at.dmatrix("m2")
    vx, vy = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    assert np.allclose(at.batched_dot(m1, m2).eval({m1: vx, m2: vy}), (vx * vy).sum(axis=1))
    assert np.allclose(
        at.batched_dot(m1, u3).eval({m1: vx, u3: by}), np.einsum("bj,bjk->bk", vx, by)
    )
    assert np.allclose(at.dot(t3, m2).eval({t3: bx, m2: rng.normal(size=(4, 2))}).shape, (3, 2, 2))
    w = rng.normal(size=(4, 2))
    assert np.allclose(at.dot(t3, m2).eval({t3: bx, m2: w}), np.dot(bx, w))


def test_batched_dot_rejects_other_ranks():
    with pytest.raises(AotgraphTypeError, match="batched_dot: operand a must be 2-d or 3-d"):
        at.batched_dot(at.dvector("v"), at.dmatrix("m"))


def test_linalg_exports():
    assert {"tensordot", "outer", "batched_dot", "matmul"} <= set(at.__all__)
