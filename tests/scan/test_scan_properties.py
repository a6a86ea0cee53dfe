"""Property tests: random tap layouts, directions and lengths against an
independent numpy implementation of Theano's scan semantics, and their
gradients against finite differences."""

import numpy as np
import pytest
from _scantargets import TARGETS
from hypothesis import given, settings
from hypothesis import strategies as st

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.gradcheck import verify_grad

pytestmark = pytest.mark.parametrize("target", TARGETS)

seq_taps = st.lists(st.integers(-2, 2), min_size=1, max_size=3, unique=True)
state_taps = st.lists(st.integers(-3, -1), min_size=1, max_size=2, unique=True)


def numpy_scan(x, init, seq_t, st_t, coef, backwards, n_steps):
    """Theano's rules, written from its documentation: reverse the sequence
    when going backwards; step t reads x[t + k - min(taps, 0)]; the state
    buffer starts with the first -min(taps) rows of the initial value."""
    if backwards:
        x = x[::-1]
    lo, hi = min(min(seq_t), 0), max(max(seq_t), 0)
    n = len(x) - (hi - lo)
    if n_steps is not None:
        n = min(n, n_steps)
    depth = -min(st_t)
    buf = list(init[:depth])
    for t in range(n):
        args = [x[t + k - lo] for k in seq_t] + [buf[depth + t + k] for k in st_t]
        buf.append(np.tanh(sum(c * a for c, a in zip(coef, args))))
    return np.array(buf[depth:])


def build(seq_t, st_t, coef, backwards, n_steps):
    def fn(*args):
        return at.tanh(sum(c * a for c, a in zip(coef, args)))

    def graph(x, init):
        out, _ = ag.scan(
            fn,
            sequences=dict(input=x, taps=seq_t),
            outputs_info=dict(initial=init, taps=st_t),
            go_backwards=backwards,
            n_steps=n_steps,
        )
        return out

    return graph


@given(
    seq_t=seq_taps,
    st_t=state_taps,
    backwards=st.booleans(),
    n_steps=st.none() | st.integers(0, 6),
    length=st.integers(5, 9),
    seed=st.integers(0, 2**31),
)
def test_taps_directions_and_lengths_match_numpy(
    target, seq_t, st_t, backwards, n_steps, length, seed
):
    rng = np.random.default_rng(seed)
    coef = list(rng.uniform(-1, 1, size=len(seq_t) + len(st_t)))
    x, init = rng.normal(size=length), rng.normal(size=4)
    graph = build(seq_t, st_t, coef, backwards, n_steps)
    if st_t == [-1]:
        init = init[:1].reshape(())
    xv, iv = at.dvector("x"), at.dvector("init") if init.ndim else at.dscalar("init")
    got = ag.function([xv, iv], graph(xv, iv), target=target)(x, init)
    want = numpy_scan(x, np.atleast_1d(init), seq_t, st_t, coef, backwards, n_steps)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(max_examples=10)
@given(seq_t=seq_taps, st_t=state_taps, backwards=st.booleans(), seed=st.integers(0, 2**31))
def test_gradients_of_random_layouts(target, seq_t, st_t, backwards, seed):
    rng = np.random.default_rng(seed)
    coef = list(rng.uniform(-1, 1, size=len(seq_t) + len(st_t)))
    init = rng.normal(size=4) if st_t != [-1] else np.array(rng.normal())
    graph = build(seq_t, st_t, coef, backwards, None)
    verify_grad(graph, [rng.normal(size=8), init], target=target)
