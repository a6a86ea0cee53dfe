"""The call contract of SPEC §4, with the reference interpreter.

What users pass wrong gets an exception of the right type whose message
names the function and the input (and what was expected); what numpy calls a
safe cast is accepted.
"""

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at


@pytest.fixture
def add_fn():
    """``scaled_add(x, y)`` on float32 vectors, with y of static length 3."""
    x = at.fvector("x")
    y = at.tensor("float32", shape=(3,), name="y")
    return ag.function([x, y], x * 2 + y, target="py", name="scaled_add")


def expect(exc_type, fn, *args, input_name="x", also=(), **kwargs):
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "scaled_add" in msg, msg
    if input_name is not None:
        assert f"'{input_name}'" in msg or f" {input_name}" in msg, msg
    for text in also:
        assert text in msg, msg
    return msg


Y = np.array([1, 2, 3], np.float32)


# --- accepted ----------------------------------------------------------------


def test_arrays_lists_and_safe_casts_are_accepted(add_fn):
    want = np.array([1.0, 2.0, 3.0], np.float32) * 2 + Y
    for x in (
        np.array([1, 2, 3], np.float32),
        [1, 2, 3],  # nested lists of Python numbers
        [1.0, 2.0, 3.0],
        np.array([1, 2, 3], np.int8),  # int8 -> float32 is safe
        np.array([1, 2, 3], np.uint16),
        (1, 2, 3),
    ):
        got = add_fn(x, Y)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    # a dynamic dimension takes any length, including 0 or 1 (broadcasting)
    np.testing.assert_array_equal(add_fn([5], Y), 10 + Y)


def test_length_one_broadcasts_and_empty_inputs_work():
    x, y = at.fvector("x"), at.fvector("y")
    f = ag.function([x, y], x + y, target="py", name="scaled_add")
    np.testing.assert_array_equal(f([5], [1, 2]), np.array([6, 7], np.float32))
    assert f(np.zeros(0, np.float32), [1]).shape == (0,)


def test_python_scalars_and_numpy_scalars_into_scalar_inputs():
    s = at.fscalar("s")
    f = ag.function([s], s * 2, target="py", name="scaled_add")
    assert f(3).dtype == np.float32 and float(f(3)) == 6.0
    assert float(f(1.5)) == 3.0
    assert float(f(np.float32(2))) == 4.0
    assert float(f(np.array(2.0, np.float32))) == 4.0
    expect(TypeError, f, np.float64(2.0), input_name="s", also=("float64", "float32"))


def test_keyword_arguments_by_input_name(add_fn):
    want = np.array([2, 4, 6], np.float32) + Y
    np.testing.assert_array_equal(add_fn(x=[1, 2, 3], y=Y), want)
    np.testing.assert_array_equal(add_fn(y=Y, x=[1, 2, 3]), want)
    np.testing.assert_array_equal(add_fn([1, 2, 3], y=Y), want)


def test_unnamed_inputs_are_called_by_position_in_messages():
    a, b = at.dvector(), at.dvector()
    f = ag.function([a, b], a - b, target="py", name="scaled_add")
    np.testing.assert_array_equal(f(input0=[3.0], input1=[1.0]), [2.0])
    expect(TypeError, f, [1.0], input_name="input1", also=("missing",))


# --- wrong dtype ---------------------------------------------------------------


def test_complex_input(add_fn):
    expect(TypeError, add_fn, np.ones(3, np.complex64), Y, also=("complex64", "float32"))
    expect(TypeError, add_fn, [1j, 2, 3], Y, also=("float32",))


def test_object_input(add_fn):
    expect(TypeError, add_fn, np.array([1, None, 3], dtype=object), Y, also=("object",))


def test_bool_into_float_needs_allow_input_downcast(add_fn):
    expect(TypeError, add_fn, np.array([True, False, True]), Y, also=("bool", "float32"))
    expect(TypeError, add_fn, [True, False, True], Y, also=("bool",))
    x = at.fvector("x")
    f = ag.function([x], x + 1, target="py", allow_input_downcast=True)
    np.testing.assert_array_equal(f(np.array([True, False])), np.array([2, 1], np.float32))


def test_float64_into_float32_without_and_with_allow_input_downcast(add_fn):
    value = np.array([0.1, 1e-50, 1e50])
    expect(TypeError, add_fn, value, Y, also=("float64", "float32", "allow_input_downcast"))
    x = at.fvector("x")
    f = ag.function([x], x * 1, target="py", name="scaled_add", allow_input_downcast=True)
    with np.errstate(over="ignore"):  # 1e50 becomes inf, as numpy's astype
        got = f(value)
        want = value.astype(np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_integer_inputs_refuse_floats_and_wider_or_signed_mismatched_integers():
    i = at.ivector("x")
    f = ag.function([i], i + 1, target="py", name="scaled_add")
    expect(TypeError, f, np.ones(2, np.float32), also=("float32", "int32"))
    expect(TypeError, f, np.ones(2, np.int64), also=("int64", "int32"))
    expect(TypeError, f, np.ones(2, np.uint32), also=("uint32",))
    expect(TypeError, f, [1.5, 2.0], also=("int32",))
    expect(ValueError, f, [2**40], also=("int32",))
    np.testing.assert_array_equal(f(np.array([1, 2], np.int16)), np.array([2, 3], np.int32))
    np.testing.assert_array_equal(f([1, -2]), np.array([2, -1], np.int32))


def test_unsigned_input_refuses_negative_python_ints():
    u = at.tensor("uint8", shape=(None,), name="x")
    f = ag.function([u], u + 1, target="py", name="scaled_add")
    expect(ValueError, f, [-1, 2], also=("uint8",))
    np.testing.assert_array_equal(f([255, 0]), np.array([0, 1], np.uint8))  # wraps, like numpy


# --- wrong structure -------------------------------------------------------------


def test_wrong_ndim(add_fn):
    expect(TypeError, add_fn, np.ones((3, 1), np.float32), Y, also=("2 dimension", "expected 1"))
    expect(TypeError, add_fn, 1.0, Y, also=("0 dimension",))
    expect(TypeError, add_fn, [[1, 2, 3]], Y)


def test_wrong_static_length(add_fn):
    expect(
        ValueError,
        add_fn,
        [1, 2, 3],
        np.ones(4, np.float32),
        input_name="y",
        also=("length 4", "requires 3"),
    )


def test_incompatible_shapes_of_two_inputs_at_run_time():
    x, y = at.fvector("x"), at.fvector("y")
    f = ag.function([x, y], x + y, target="py", name="scaled_add")
    msg = expect(ValueError, f, np.ones(3, np.float32), np.ones(2, np.float32))
    assert "x of shape (3,)" in msg and "y of shape (2,)" in msg


def test_none_strings_and_other_objects(add_fn):
    expect(TypeError, add_fn, None, Y, also=("None",))
    expect(TypeError, add_fn, "abc", Y, also=("str",))
    expect(TypeError, add_fn, ["a", "b", "c"], Y)
    expect(TypeError, add_fn, {"a": 1}, Y, also=("dict",))
    expect(TypeError, add_fn, object(), Y)


def test_ragged_nested_lists(add_fn):
    m = at.fmatrix("x")
    f = ag.function([m], m + 1, target="py", name="scaled_add")
    expect(ValueError, f, [[1, 2], [3]], also=("ragged",))
    expect(ValueError, add_fn, [1, [2, 3], 4], Y, also=("ragged",))


def test_too_many_and_too_few_arguments(add_fn):
    expect(TypeError, add_fn, [1, 2, 3], Y, Y, input_name=None, also=("takes 2", "got 3"))
    expect(TypeError, add_fn, [1, 2, 3], input_name="y", also=("missing",))
    expect(TypeError, add_fn, input_name=None, also=("missing", "x", "y"))


def test_unknown_and_duplicate_keyword_arguments(add_fn):
    expect(TypeError, add_fn, [1, 2, 3], Y, z=Y, input_name="z", also=("unexpected keyword",))
    expect(TypeError, add_fn, [1, 2, 3], x=[1, 2, 3], also=("multiple values",))


def test_errors_leave_shared_state_untouched():
    w = ag.shared(np.zeros(2), name="w")
    x = at.dvector("x")
    f = ag.function([x], w + x, updates={w: w + x}, target="py", name="scaled_add")
    with pytest.raises(ValueError, match="scaled_add"):
        f([1.0, 2.0, 3.0])  # cannot broadcast with w
    np.testing.assert_array_equal(w.get_value(), [0.0, 0.0])
    f([1.0, 2.0])
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])
