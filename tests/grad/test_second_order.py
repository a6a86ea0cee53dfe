"""Forward mode and second order: jacobian and hessian against closed
forms, Rop/Lop against jacobian-vector products, second derivatives
against finite differences of the first."""

import numpy as np
import pytest
from _gradtools import BINARY_DOMAINS, UNARY_DOMAINS, check, elementwise_fn, sample, seeds
from hypothesis import given, settings

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.errors import GradientError
from aotgraph.ops.base import OPS


def vec(name, n=3):
    return at.dvector(name, shape=(n,))


def test_jacobian_of_closed_form_functions():
    x = vec("x")
    xv = np.array([0.5, -1.0, 2.0])
    j = ag.jacobian(at.exp(x) * x.sum(), x).eval({x: xv})
    expected = np.diag(np.exp(xv) * xv.sum()) + np.exp(xv)[:, None]
    assert np.allclose(j, expected)
    w = at.dmatrix("w")
    wv = np.arange(6.0).reshape(2, 3)
    jw, jx = ag.jacobian(at.dot(w, x), [w, x])
    assert np.allclose(jx.eval({w: wv, x: xv}), wv)
    jwv = jw.eval({w: wv, x: xv})  # d(Wx)_i / dW_kl = delta_ik x_l
    assert jwv.shape == (2, 2, 3)
    assert np.allclose(jwv, np.einsum("ik,l->ikl", np.eye(2), xv))


def test_jacobian_of_a_scalar_is_the_gradient_and_errors_are_clear():
    x = vec("x")
    assert np.allclose(ag.jacobian((x**2).sum(), x).eval({x: [1.0, 2.0, 3.0]}), [2, 4, 6])
    with pytest.raises(GradientError, match="must be a vector or a scalar"):
        ag.jacobian(at.dmatrix("m") * 2, at.dmatrix("m"))


@pytest.mark.parametrize("static", [True, False])
def test_jacobian_of_static_and_dynamic_lengths_vs_the_closed_form(static):
    for length in (3, 20):
        x = at.dvector("x", shape=(length,) if static else (None,))
        w = at.dmatrix("w")
        rng = np.random.default_rng(length)
        xv, wv = rng.normal(size=length), rng.normal(size=(length, length))
        t = np.tanh(wv @ xv)
        jx, jw = ag.jacobian(at.tanh(at.dot(w, x)), [x, w])
        got_x, got_w = ag.function([x, w], [jx, jw], target="py")(xv, wv)
        assert np.allclose(got_x, (1 - t**2)[:, None] * wv)
        expected_w = np.einsum("i,ik,l->ikl", 1 - t**2, np.eye(length), xv)
        assert np.allclose(got_w, expected_w)


def test_hessian_of_closed_form_functions():
    x = vec("x")
    xv = np.array([0.5, -1.0, 2.0])
    a = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 4.0]])
    quad = 0.5 * at.dot(x, at.dot(a, x))
    assert np.allclose(ag.hessian(quad, x).eval({x: xv}), a)
    cubic_exp = (x**3).sum() + at.exp(x.sum())
    expected = np.diag(6 * xv) + np.exp(xv.sum())
    assert np.allclose(ag.hessian(cubic_exp, x).eval({x: xv}), expected)
    xd = at.dvector("xd")  # dynamic length: built with scan
    assert np.allclose(ag.hessian(0.5 * at.dot(xd, at.dot(a, xd)), xd).eval({xd: xv}), a)
    y = vec("y", 2)
    hx, hy = ag.hessian((x**2).sum() * (y**2).sum(), [x, y])
    vals = {x: xv, y: np.array([1.0, 2.0])}
    assert np.allclose(hx.eval(vals), 2 * 5.0 * np.eye(3))
    assert np.allclose(hy.eval(vals), 2 * (xv**2).sum() * np.eye(2))


@settings(max_examples=10)
@given(seed=seeds)
def test_rop_and_lop_are_jacobian_vector_products(seed):
    rng = np.random.default_rng(seed)
    x, w = vec("x"), at.dmatrix("w", shape=(2, 3))
    v, u = at.dvector("v"), at.dvector("u")
    exprs = [
        at.tanh(at.dot(w, x)) * at.nnet.sigmoid(x.sum()),
        at.nnet.softmax(at.dot(w, x)) + at.prod(x) * at.max(at.dot(w, x**2)),
        at.nnet.log_softmax(at.dot(w, at.clip(x, -0.5, 0.5))) / (1.0 + x.mean() ** 2),
    ]
    vals = {
        x: rng.normal(size=3),
        w: rng.normal(size=(2, 3)),
        v: rng.normal(size=3),
        u: rng.normal(size=2),
    }
    for expr in exprs:
        j = ag.jacobian(expr, x)
        f = ag.function([x, w, v, u], [j, ag.Rop(expr, x, v), ag.Lop(expr, x, u)], target="py")
        jv, rop, lop = f(vals[x], vals[w], vals[v], vals[u])
        assert np.allclose(rop, jv @ vals[v])
        assert np.allclose(lop, vals[u] @ jv)


def test_rop_vs_finite_differences_and_structure():
    x, y = at.dvector("x"), at.dmatrix("y")
    v, vy = at.dvector("v"), at.dmatrix("vy")
    outs = ag.Rop([at.dot(y, at.exp(x)), (y**2).sum()], [x, y], [v, vy])
    assert isinstance(outs, list) and len(outs) == 2
    rng = np.random.default_rng(2)
    xv, yv, vv, vyv = (
        rng.normal(size=3),
        rng.normal(size=(2, 3)),
        rng.normal(size=3),
        rng.normal(size=(2, 3)),
    )
    f = ag.function([x, y, v, vy], outs, target="py")
    got = f(xv, yv, vv, vyv)
    eps = 1e-6
    fd0 = ((yv + eps * vyv) @ np.exp(xv + eps * vv) - (yv - eps * vyv) @ np.exp(xv - eps * vv)) / (
        2 * eps
    )
    fd1 = (((yv + eps * vyv) ** 2).sum() - ((yv - eps * vyv) ** 2).sum()) / (2 * eps)
    assert np.allclose(got[0], fd0, atol=1e-6) and np.isclose(got[1], fd1)


def test_rop_disconnected_outputs():
    x, z = at.dvector("x"), at.dvector("z")
    with pytest.raises(GradientError, match="does not depend on wrt"):
        ag.Rop(z * 2, x, x)
    got = ag.Rop(z * 2, x, x, disconnected_outputs="ignore").eval({z: [1.0, 2.0]})
    assert np.array_equal(got, [0.0, 0.0])


def test_rop_through_an_op_without_a_jvp_uses_its_transposed_vjp():
    assert OPS["crossentropy_1hot_grad"].jvp is None  # what this test relies on
    p, v = at.dmatrix("p"), at.dmatrix("v")
    y = np.array([1, 0])
    g = ag.grad(at.nnet.categorical_crossentropy(p, y).sum(), p)  # -1/p at the labels
    pv, vv = np.array([[0.5, 0.25], [0.2, 0.8]]), np.array([[1.0, 2.0], [3.0, 4.0]])
    got = ag.Rop(g, p, v).eval({p: pv, v: vv})
    expected = np.zeros((2, 2))
    expected[0, 1], expected[1, 0] = 2.0 / 0.25**2, 3.0 / 0.2**2
    assert np.allclose(got, expected)


def test_second_derivative_of_tanh_of_dot_vs_finite_differences_of_the_first():
    x, w = vec("x"), at.dmatrix("w")
    cost = at.tanh(at.dot(w, x)).sum()
    g = ag.grad(cost, x)
    h = ag.hessian(cost, x)
    rng = np.random.default_rng(7)
    wv, xv = rng.normal(size=(2, 3)), rng.normal(size=3)
    grad_fn = ag.function([x, w], g, target="py")
    hv = ag.function([x, w], h, target="py")(xv, wv)
    eps = 1e-6
    fd = np.stack(
        [(grad_fn(xv + eps * e, wv) - grad_fn(xv - eps * e, wv)) / (2 * eps) for e in np.eye(3)],
        axis=1,
    )
    assert np.allclose(hv, fd, atol=1e-6)
    t = np.tanh(wv @ xv)  # and against the closed form W^T diag(-2 t (1 - t^2)) W
    assert np.allclose(hv, wv.T @ np.diag(-2 * t * (1 - t**2)) @ wv)


def test_every_differentiable_op_of_these_families_has_a_jvp():
    families = (
        "aotgraph.ops.elemwise",
        "aotgraph.ops.reduce",
        "aotgraph.ops.linalg",
        "aotgraph.ops.nnet",
    )
    own = [n for n, d in OPS.items() if d.infer.__module__ in families]
    assert len(own) > 50
    missing = {n for n in own if OPS[n].vjp is not None and OPS[n].jvp is None}
    # differentiated by transposing its vjp (tested above)
    assert missing == {"crossentropy_1hot_grad"}


@pytest.mark.parametrize("name", sorted(set(UNARY_DOMAINS) | set(BINARY_DOMAINS)))
def test_second_derivatives_of_every_elementwise_op(name):
    """The VJP graphs are differentiable again: verify_grad of the gradient."""
    rng = np.random.default_rng(5)
    if name in UNARY_DOMAINS:
        x = sample(UNARY_DOMAINS[name], rng, (2, 3))
        check(lambda v: ag.grad((elementwise_fn(name)(v) ** 2).sum(), v), [x])
    else:
        da, db = BINARY_DOMAINS[name]
        a, b = sample(da, rng, (2, 3)), sample(db, rng, (3,))
        f = elementwise_fn(name)
        check(
            lambda u, v: (
                ag.grad((f(u, v) ** 2).sum(), [u, v])[0] + ag.grad((f(u, v) ** 2).sum(), [u, v])[1]
            ),
            [a, b],
        )


@pytest.mark.parametrize("name", ["sum", "prod", "max", "softmax", "log_softmax", "matmul"])
def test_second_derivatives_of_reductions_matmul_and_softmax(name):
    rng = np.random.default_rng(6)
    x = rng.permutation(12).reshape(3, 4) * 0.2 - 1.1
    fns = {
        "sum": lambda v: at.sum(v**3, axis=0),
        "prod": lambda v: at.prod(v, axis=1),
        "max": lambda v: at.max(at.exp(v), axis=(0, 1)),
        "softmax": lambda v: at.nnet.softmax(v, axis=0),
        "log_softmax": lambda v: at.nnet.log_softmax(v),
        "matmul": lambda v: at.matmul(v, v.T),
    }
    check(lambda v: ag.grad((fns[name](v) ** 2).sum(), v), [x])


def test_rop_through_boolean_values_is_zero():
    x, v = at.dvector("x"), at.dvector("v")
    expr = at.cast(x > 0, "float64") * 3.0
    got = ag.Rop(expr, x, v).eval({x: [1.0, -1.0], v: [1.0, 1.0]})
    assert np.array_equal(got, [0.0, 0.0])
