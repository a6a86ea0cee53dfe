"""Gradients (VJPs) and R-ops (JVPs) of the shape, constructor and indexing
ops, checked against central finite differences.

``check_grad`` is Theano's ``verify_grad`` method: the output is projected
onto random weights and the symbolic gradient of that scalar is compared
with finite differences.  It uses ``aotgraph.gradcheck.verify_grad`` once
the ops of its projection (``mul``, ``sum``) have gradients, and otherwise
an equivalent local check that seeds the output gradient directly
(``known_grads``), so only the ops under test need gradients.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.ops.base import OPS

RNG_SEED = 1234


def _fn(inputs, outputs):
    return ag.function(inputs, outputs, target="py", on_unused_input="ignore")


def _numeric_grad(cost, pt, eps=1e-6):
    grads = []
    for i, p in enumerate(pt):
        g = np.zeros(p.shape)
        for idx in np.ndindex(p.shape):
            hi = [q.copy() for q in pt]
            lo = [q.copy() for q in pt]
            hi[i][idx] += eps
            lo[i][idx] -= eps
            g[idx] = (cost(hi) - cost(lo)) / (2 * eps)
        grads.append(g)
    return grads


def _local_verify_grad(fun, pt):
    xs = [at.tensor("float64", shape=(None,) * p.ndim, name=f"in{i}") for i, p in enumerate(pt)]
    out = fun(*xs)
    f_out = _fn(xs, out)
    w = np.random.default_rng(RNG_SEED).uniform(0.5, 1.5, np.shape(f_out(*pt)))
    grads = ag.grad(
        None, xs, known_grads={out: at.constant(w.astype(out.dtype))}, disconnected_inputs="ignore"
    )
    analytic = _fn(xs, grads)(*pt)
    numeric = _numeric_grad(lambda a: float(np.sum(w * f_out(*a))), pt)
    for a, n in zip(analytic, numeric):
        assert a.shape == n.shape
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-6)


def check_grad(fun, pt):
    pt = [np.asarray(p, dtype=np.float64) for p in pt]
    if all(OPS[name].vjp is not None for name in ("mul", "sum", "cast")):
        from aotgraph.gradcheck import verify_grad

        verify_grad(fun, pt, rng=RNG_SEED)
    else:
        _local_verify_grad(fun, pt)


def check_rop(fun, pt):
    """``Rop`` (the JVPs) against a central difference along a random direction."""
    pt = [np.asarray(p, dtype=np.float64) for p in pt]
    rng = np.random.default_rng(RNG_SEED)
    vs = [rng.normal(size=p.shape) for p in pt]
    xs = [at.tensor("float64", shape=(None,) * p.ndim, name=f"in{i}") for i, p in enumerate(pt)]
    ts = [at.tensor("float64", shape=(None,) * p.ndim, name=f"t{i}") for i, p in enumerate(pt)]
    out = fun(*xs)
    f_out = _fn(xs, out)
    got = _fn(xs + ts, ag.Rop(out, xs, ts))(*pt, *vs)
    eps = 1e-6
    hi = f_out(*[p + eps * v for p, v in zip(pt, vs)])
    lo = f_out(*[p - eps * v for p, v in zip(pt, vs)])
    np.testing.assert_allclose(got, (hi - lo) / (2 * eps), rtol=1e-5, atol=1e-6)


def rand(*shape):
    return np.random.default_rng(sum(shape) + len(shape)).normal(size=shape)


# --- shape ops ------------------------------------------------------------------


def test_reshape_flatten_dimshuffle_grads():
    x = rand(2, 3, 4)
    check_grad(lambda a: a.reshape((a.shape[0], -1)), [x])
    check_grad(lambda a: a.reshape((4, 6)), [x])
    check_grad(lambda a: at.flatten(a, 2), [x])
    check_grad(lambda a: a.dimshuffle(2, "x", 0, 1), [x])
    check_grad(lambda a: a.T, [x])
    check_grad(lambda a: at.moveaxis(at.swapaxes(a, 0, 1), 0, -1), [x])
    check_rop(lambda a: a.reshape((a.shape[0], -1)).dimshuffle(1, "x", 0), [x])


def test_dropping_a_static_axis_and_squeeze_grads():
    x = rand(3, 1, 2)
    stat = at.tensor("float64", shape=(3, 1, 2), name="s")
    f = _fn([stat], ag.grad(None, stat, known_grads={stat.dimshuffle(2, 0): np.ones((2, 3))}))
    np.testing.assert_array_equal(f(x), np.ones((3, 1, 2)))
    check_grad(lambda a: at.squeeze(a, 1), [x])
    check_grad(lambda a: at.expand_dims(a, (0, -1)), [x])
    check_rop(lambda a: at.squeeze(a, 1), [x])


def test_concatenate_and_stack_grads():
    a, b, c = rand(2, 3), rand(4, 3), rand(1, 3)
    check_grad(lambda x, y, z: at.concatenate([x, y, z]), [a, b, c])
    check_grad(lambda x, y: at.concatenate([x.T, y.T], axis=1), [a, b])
    check_grad(lambda x, y: at.stack([x, y[:2]], axis=-1), [a, b])
    check_rop(lambda x, y, z: at.concatenate([x, y, z]), [a, b, c])


def test_broadcast_alloc_tile_repeat_grads():
    x = rand(3, 1)
    check_grad(lambda a: at.broadcast_to(a, (2, 3, 4)), [x])
    check_grad(lambda a: at.alloc(a, 2, a.shape[0], 5), [x])
    check_grad(lambda a: at.tile(a, (2, 3)), [x])
    check_grad(lambda a: at.repeat(a, 3, axis=0), [x])
    check_grad(lambda v: at.full((2, 3), v), [np.array(1.5)])
    check_rop(lambda a: at.broadcast_to(a, (2, 3, 4)), [x])


def test_make_vector_and_arange_grads():
    check_grad(lambda a, b: at.make_vector([a, b, a]), [np.array(0.5), np.array(-2.0)])
    check_grad(lambda s, d: at.arange(s, 10.0, d), [np.array(0.25), np.array(1.5)])
    check_rop(lambda a, b: at.make_vector([a, b]), [np.array(0.5), np.array(-2.0)])


def test_zeros_like_has_no_gradient_and_no_nan():
    x = at.dvector("x")
    g = ag.grad(None, x, known_grads={at.zeros_like(x): np.ones(2)}, disconnected_inputs="ignore")
    np.testing.assert_array_equal(g.eval({x: [np.inf, np.nan]}), [0.0, 0.0])


# --- indexing ----------------------------------------------------------------------


@st.composite
def basic_index_cases(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    items = []
    for n in shape[: draw(st.integers(1, len(shape)))]:
        if draw(st.booleans()):
            items.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.one_of(st.none(), st.integers(-n - 1, n + 1))
            items.append(slice(draw(bound), draw(bound), draw(st.sampled_from([None, 1, 2, -1]))))
        if draw(st.integers(0, 4)) == 0:
            items.append(None)
    return shape, tuple(items)


@given(basic_index_cases())
def test_basic_indexing_grad(case):
    shape, index = case
    check_grad(lambda a: a[index], [rand(*shape)])


@given(basic_index_cases(), st.booleans())
def test_set_and_inc_subtensor_grads_wrt_both_arguments(case, set_):
    shape, index = case
    x = rand(*shape)
    y = rand(*np.shape(x[index])) if np.ndim(x[index]) else np.array(0.3)
    fn = at.set_subtensor if set_ else at.inc_subtensor
    check_grad(lambda a, b: fn(a[index], b), [x, y])


def test_symbolic_slices_grad():
    x = rand(5, 4)
    check_grad(lambda a: a[1 : a.shape[0] - 1, :: a.shape[1] - 2], [x])
    check_rop(lambda a: a[1 : a.shape[0] - 1, -1], [x])


def test_advanced_indexing_grads_scatter_add_duplicates():
    x = rand(4, 5)
    idx = np.array([0, 3, 0, 0])
    check_grad(lambda a: a[idx], [x])
    check_grad(lambda a: a[:, idx], [x])
    check_grad(lambda a: a[idx, idx[::-1]], [x])
    check_grad(lambda a: a[idx[:, None], np.array([1, 4])], [x])
    check_grad(lambda a: at.take(a, idx, axis=1), [x])
    check_rop(lambda a: a[idx, 1:], [x])
    # scatter-add of ones counts how often each row is read
    s = at.dmatrix("s")
    g = ag.grad(None, s, known_grads={s[idx]: np.ones((4, 5))})
    np.testing.assert_array_equal(
        g.eval({s: x}), np.bincount(idx, minlength=4)[:, None] * np.ones((4, 5))
    )


def test_adv_set_and_inc_grads():
    x, y = rand(4, 3), rand(3, 3)
    check_grad(lambda a, b: at.inc_subtensor(a[np.array([2, 0, 2])], b), [x, y])
    check_grad(lambda a, b: at.set_subtensor(a[np.array([2, 0, 1])], b), [x, y])
    check_grad(lambda a, b: at.inc_subtensor(a[:, np.array([1, 1])], b), [x, rand(4, 1)])
    check_rop(lambda a, b: at.inc_subtensor(a[np.array([2, 0, 2])], b), [x, y])


def test_boolean_mask_grads():
    x = rand(4, 3)
    mask = np.array([True, False, True, True])
    m = at.constant(mask)
    check_grad(lambda a: a[at.gt(a[:, 0], -10.0)], [x])  # symbolic mask
    check_grad(lambda a: a[mask], [x])  # constant mask, static lengths
    check_grad(lambda a, b: at.set_subtensor(a[m], b), [x, rand(3)])
    check_grad(lambda a, b: at.inc_subtensor(a[at.gt(a[:, 1], -10.0)], b), [x, rand(3)])
    check_rop(lambda a: a[at.gt(a[:, 0], -10.0)], [x])


def test_second_order_through_indexing_and_joins():
    """The VJPs are built of differentiable ops, so Hessians work; oracle:
    the Hessian of this cost worked out by hand."""
    x = at.dvector("x", shape=(3,))
    idx = np.array([0, 2, 2])
    cost = (
        (x[idx] ** 2).sum()
        + (at.concatenate([x, x[::-1]]) ** 3).sum()
        + (at.set_subtensor(x[1:], 0.0) ** 2).sum()
    )
    v = np.array([1.0, 2.0, 3.0])
    expected = np.diag(2 * np.bincount(idx, minlength=3) + 12 * v + np.array([2.0, 0, 0]))
    np.testing.assert_allclose(ag.hessian(cost, x).eval({x: v}), expected)
