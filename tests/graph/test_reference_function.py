"""``ag.function(..., target="py")`` as Theano's ``function``: givens,
``on_unused_input``, MissingInputError, outputs and ``var.eval``."""

import warnings

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at


def test_givens_substitute_expressions_and_shared_variables():
    x, y, z = at.dvector("x"), at.dvector("y"), at.dscalar("z")
    f = ag.function([x, z], x * y, givens={y: x * z}, target="py")
    np.testing.assert_allclose(f([1.0, 2.0], 3.0), [3.0, 12.0])
    w = ag.shared(np.array([10.0, 20.0]), name="w")
    g = ag.function([x], x * y, givens=[(y, w)], target="py")
    np.testing.assert_allclose(g([1.0, 2.0]), [10.0, 40.0])
    h = ag.function([x], x + w, givens={w: x * 2}, target="py")  # replace a shared one
    np.testing.assert_allclose(h([1.0, 2.0]), [3.0, 6.0])
    assert w.get_value()[0] == 10.0


def test_givens_apply_to_updates_too():
    acc = ag.shared(np.float64(0.0), name="acc")
    step, x = at.dscalar("step"), at.dscalar("x")
    f = ag.function([x], acc, updates={acc: acc + step}, givens={step: x * 10}, target="py")
    f(1.0)
    f(2.0)
    assert float(acc.get_value()) == 30.0


def test_givens_with_a_wrong_ndim_are_refused():
    x, y = at.dvector("x"), at.dvector("y")
    with pytest.raises(TypeError, match="ndim"):
        ag.function([x], x * y, givens={y: at.dmatrix("m")}, target="py")


def test_missing_input_error_names_the_variable():
    x, y = at.dvector("x"), at.dvector("y")
    with pytest.raises(ag.MissingInputError, match="y") as info:
        ag.function([x], x * y, target="py", name="needs_y")
    assert "needs_y" in str(info.value)
    assert isinstance(info.value, TypeError)


def test_on_unused_input_raise_warn_ignore():
    x, y = at.dvector("x"), at.dvector("y")
    with pytest.raises(ag.UnusedInputError, match="y"):
        ag.function([x, y], x * 2, target="py")
    with pytest.warns(UserWarning, match="y") as record:
        f = ag.function([x, y], x * 2, target="py", on_unused_input="warn")
    assert record[0].filename == __file__  # the warning points at the caller
    np.testing.assert_array_equal(f([1.0], [5.0]), [2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = ag.function([x, y], x * 2, target="py", on_unused_input="ignore")
    np.testing.assert_array_equal(g([1.0], [5.0]), [2.0])
    with pytest.raises(ValueError, match="on_unused_input"):
        ag.function([x], x, target="py", on_unused_input="sometimes")


def test_an_input_used_only_by_an_update_is_used():
    w = ag.shared(np.zeros(2), name="w")
    x = at.dvector("x")
    f = ag.function([x], [], updates={w: x}, target="py")
    assert f([1.0, 2.0]) == []
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])


def test_inputs_must_be_free_variables():
    x = at.dvector("x")
    w = ag.shared(np.zeros(2), name="w")
    for bad, what in (
        (x * 2, "result of an operation"),
        (w, "shared"),
        (at.constant(1.0), "constant"),
    ):
        with pytest.raises(TypeError, match=what):
            ag.function([bad], x, target="py", on_unused_input="ignore")
    with pytest.raises(TypeError, match="twice"):
        ag.function([x, x], x, target="py")


def test_updates_must_target_shared_variables_of_a_compatible_type():
    x = at.dvector("x")
    w = ag.shared(np.zeros(2), name="w")
    with pytest.raises(TypeError, match="not a shared variable"):
        ag.function([x], [], updates={x: x * 2}, target="py")
    with pytest.raises(TypeError, match="ndim"):
        ag.function([], [], updates={w: at.dmatrix("m").sum()}, target="py")
    fixed = ag.shared(np.zeros(3), name="fixed")
    with pytest.raises(TypeError, match="static length"):
        ag.function([], [], updates={fixed: at.constant(np.zeros(4))}, target="py")
    with pytest.raises(TypeError, match="updated twice"):
        ag.function([], [], updates=[(w, w + 1), (w, w + 2)], target="py")


def test_output_structures():
    x = at.dvector("x")
    assert isinstance(ag.function([x], x * 2, target="py")([1.0]), np.ndarray)
    pair = ag.function([x], [x * 2, x + 1], target="py")([1.0])
    assert isinstance(pair, list) and len(pair) == 2
    np.testing.assert_array_equal(ag.function([x], x, target="py")([4.0]), [4.0])
    assert ag.function([x], [], target="py", on_unused_input="ignore")([4.0]) == []
    assert ag.function([x], None, target="py", on_unused_input="ignore")([4.0]) == []
    assert float(ag.function([], at.constant(3.0), target="py")()) == 3.0


def test_results_are_fresh_arrays():
    x = at.dvector("x")
    f = ag.function([x], x, target="py")
    arg = np.array([1.0, 2.0])
    out = f(arg)
    out[0] = 99.0
    assert arg[0] == 1.0


def test_unknown_target_is_refused():
    x = at.dvector("x")
    with pytest.raises(ValueError, match="target"):
        ag.function([x], x, target="gpu")


# --- eval -----------------------------------------------------------------------


def test_eval_like_theano():
    x, y = at.dvector("x"), at.dscalar("y")
    np.testing.assert_array_equal((x * y).eval({x: [1.0, 2.0], y: 3}), [3.0, 6.0])
    assert float((at.constant(2.0) * 3).eval()) == 6.0
    w = ag.shared(np.array([1.0, 2.0]), name="w")
    np.testing.assert_array_equal((w * 2).eval(), [2.0, 4.0])
    np.testing.assert_array_equal(x.eval({x: [5.0]}), [5.0])


def test_eval_errors():
    x, y = at.dvector("x"), at.dscalar("y")
    with pytest.raises(ag.MissingInputError, match="y"):
        (x * y).eval({x: [1.0]})
    with pytest.raises(TypeError, match="keys"):
        (x * y).eval({"x": [1.0], "y": 2.0})
    v = at.fvector("v")
    with pytest.raises(TypeError, match="'v'"):
        (v * 2).eval({v: np.ones(2)})  # float64 into float32: no downcast in eval


def test_an_update_of_the_wrong_run_time_shape_changes_nothing():
    a = ag.shared(np.zeros(2), name="a")
    fixed = ag.shared(np.zeros(3), name="fixed")
    x = at.dvector("x")
    f = ag.function([x], [], updates={a: a + 1, fixed: x}, target="py", name="upd")
    with pytest.raises(ValueError, match="upd.*fixed"):
        f(np.ones(4))
    np.testing.assert_array_equal(a.get_value(), [0.0, 0.0])
    f(np.ones(3))
    np.testing.assert_array_equal(a.get_value(), [1.0, 1.0])
    np.testing.assert_array_equal(fixed.get_value(), [1.0, 1.0, 1.0])
