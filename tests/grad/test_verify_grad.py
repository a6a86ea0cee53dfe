"""verify_grad itself: it passes correct gradients, catches wrong ones
(reporting the worst element), and follows Theano's method and options."""

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.gradcheck import GradientCheckError, numeric_grad, verify_grad
from aotgraph.gradient import disconnected_grad


def test_verify_grad_is_public_under_ag_gradient():
    assert ag.gradient.verify_grad is verify_grad
    assert issubclass(GradientCheckError, AssertionError)
    assert verify_grad.E_grad is GradientCheckError


@pytest.mark.parametrize("method", ["central", "forward"])
def test_correct_gradients_pass(method):
    rng = np.random.default_rng(0)
    verify_grad(
        lambda a, b: at.tanh(at.dot(a, b)),
        [rng.normal(size=(2, 3)), rng.normal(size=(3,))],
        rng=rng,
        method=method,
    )


def test_a_wrong_gradient_is_reported_with_its_worst_element():
    # analytic p * (v + 3 v**2) instead of p * (2 v + 3 v**2): the relative
    # error |v| / (|2v + 3v^2| + |v + 3v^2|) is largest at v = 0.5
    x = np.array([-3.0, 1.0, 0.5])
    with pytest.raises(GradientCheckError) as info:
        verify_grad(lambda v: v * disconnected_grad(v) + v**3, [x], rng=np.random.default_rng(1))
    err = info.value
    assert err.arg == 0 and err.index == (2,)
    assert np.isclose(err.numeric / err.analytic, 1.75 / 1.25, rtol=1e-5)
    assert np.isclose(err.rel_err, 0.5 / 3.0, rtol=1e-5) and err.abs_err > 1e-4
    assert "input 0" in str(err) and "index (2,)" in str(err)


def test_failure_needs_both_errors_above_tolerance():
    x = np.array([2.0, 3.0])
    # relative error 1/3 but an absolute tolerance that covers it: passes
    verify_grad(lambda v: v * disconnected_grad(v), [x], abs_tol=10.0, rel_tol=1e-6)
    verify_grad(lambda v: v * disconnected_grad(v), [x], abs_tol=1e-6, rel_tol=0.5)
    with pytest.raises(GradientCheckError):
        verify_grad(lambda v: v * disconnected_grad(v), [x], abs_tol=1e-6, rel_tol=0.1)


def test_numeric_grad_matches_a_closed_form():
    x = np.array([0.3, -1.2, 2.0])
    for method in ("central", "forward"):
        (g,) = numeric_grad(lambda v: float(np.sum(np.sin(v) * v)), [x.copy()], method=method)
        assert np.allclose(g, np.cos(x) * x + np.sin(x), atol=1e-5)
    (g32,) = numeric_grad(lambda v: np.float32(np.sum(v**2)), [x.astype("float32")])
    assert np.allclose(g32, 2 * x, rtol=1e-2)


def test_float32_inputs_use_float32_steps_and_tolerances():
    x = np.array([0.5, 1.5], "float32")
    verify_grad(lambda v: at.exp(v) * 2.0, [x], cast_to_output_type=True)
    with pytest.raises(GradientCheckError, match="abs_tol 0.01"):
        verify_grad(lambda v: v * disconnected_grad(v), [x])


def test_bad_arguments_are_clear_errors():
    with pytest.raises(TypeError, match=r"pt\[0\] has dtype int64"):
        verify_grad(lambda v: v * 2.0, [np.array([1, 2])])
    with pytest.raises(TypeError, match="must return one symbolic variable"):
        verify_grad(lambda v: [v, v], [np.array([1.0])])
    with pytest.raises(ValueError, match="method must be"):
        verify_grad(lambda v: v, [np.array([1.0])], method="sideways")
    with pytest.raises(ValueError, match="mode must be"):
        verify_grad(lambda v: v, [np.array([1.0])], mode="DebugMode")


def test_unoptimized_mode_and_integer_seed():
    verify_grad(lambda v: at.log1p(v**2), [np.array([0.3, 2.0])], rng=3, mode="FAST_COMPILE")
