"""Indexing (``x[...]``, ``set_subtensor``, ``inc_subtensor``, ``take``)
against numpy applied by the test to the same arrays.

Every case runs with static input shapes (the result's static shape must be
numpy's result shape) and with fully dynamic ones (the run-time path).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import aotgraph as ag
import aotgraph.tensor as at

SHAPES = array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


def run(inputs, out, *values):
    return ag.function(inputs, out, target="py", on_unused_input="ignore")(*values)


def dyn(value, dtype=None):
    value = np.asarray(value)
    return at.tensor(dtype or value.dtype.name, shape=(None,) * value.ndim, name="x")


def stat(value, dtype=None):
    value = np.asarray(value)
    return at.tensor(dtype or value.dtype.name, shape=value.shape, name="x")


def check(value, index, static=True):
    """x[index] on a static and a dynamic input equals numpy's result."""
    expected = value[index]
    for make in (stat, dyn) if static else (dyn,):
        x = make(value)
        y = x[index]
        got = run([x], y, value)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
        assert y.type.accepts_shape(expected.shape)
        if make is stat:
            assert y.type.shape == expected.shape, (index, y.type.shape)


# --- strategies ------------------------------------------------------------


@st.composite
def basic_indexes(draw, shape):
    """A valid numpy basic index for ``shape`` (ints, slices, None, ...)."""
    items = []
    for n in shape:
        while draw(st.integers(0, 4)) == 0:
            items.append(None)
        if n and draw(st.booleans()):
            items.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
            step = st.one_of(st.none(), st.integers(-3, 3).filter(bool))
            items.append(slice(draw(bound), draw(bound), draw(step)))
    i = draw(st.integers(0, len(items)))
    j = draw(st.integers(i, len(items)))
    if draw(st.booleans()):
        items[i:j] = [Ellipsis]  # stands for exactly the axes it replaces
    else:
        del items[j:]  # trailing axes left out are full slices
    return tuple(items)


@st.composite
def value_and_basic_index(draw):
    shape = draw(SHAPES)
    value = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    return value, draw(basic_indexes(shape))


@st.composite
def value_and_advanced_index(draw):
    """Integer arrays (broadcastable), ints, slices and None, mixed."""
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    value = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
    arr_shape = draw(st.sampled_from([(), (1,), (2,), (3,), (2, 1), (1, 3)]))
    items = []
    for n in shape[: draw(st.integers(1, len(shape)))]:
        kind = draw(st.sampled_from(["array", "array", "int", "slice", "newaxis"]))
        if kind == "newaxis":
            items.append(None)
        if kind in ("array", "newaxis"):  # newaxis: followed by an array
            items.append(
                np.asarray(
                    draw(
                        st.lists(
                            st.integers(-n, n - 1),
                            min_size=int(np.prod(arr_shape)),
                            max_size=int(np.prod(arr_shape)),
                        )
                    )
                )
                .reshape(arr_shape)
                .astype(np.int64)
            )
        elif kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        else:
            items.append(
                slice(
                    draw(st.one_of(st.none(), st.integers(-n, n))),
                    None,
                    draw(st.sampled_from([None, 1, -1, 2])),
                )
            )
    if not any(isinstance(i, np.ndarray) and i.ndim for i in items):
        first = next(j for j, i in enumerate(items) if i is not None)  # indexes axis 0
        items[first] = np.array([0, shape[0] - 1, 0])
    return value, tuple(items)


# --- basic indexing --------------------------------------------------------


@given(value_and_basic_index())
def test_basic_indexing_matches_numpy(case):
    value, index = case
    check(value, index)


@given(value_and_basic_index())
def test_symbolic_slice_bounds_and_ints_match_numpy(case):
    value, index = case
    scalars, values, sym_index = [], [], []
    for item in index:
        if isinstance(item, int):
            s = at.lscalar()
            scalars.append(s)
            values.append(item)
            item = s
        elif isinstance(item, slice):
            parts = []
            for c in (item.start, item.stop, item.step):
                if c is None:
                    parts.append(None)
                    continue
                s = at.iscalar()
                scalars.append(s)
                values.append(c)
                parts.append(s)
            item = slice(*parts)
        sym_index.append(item)
    x = dyn(value)
    got = run([x] + scalars, x[tuple(sym_index)], value, *values)
    np.testing.assert_array_equal(got, value[index])


def test_shape_entries_simplify_at_build_time():
    x = at.tensor("float64", shape=(None, 3), name="x")
    assert x.shape[1].data == 3
    assert x.shape[0].owner.op.name == "shape_i"
    assert x.shape[-2].owner.op.params == {"axis": 0}
    assert x.shape[1:].owner.op.name == "make_vector"
    np.testing.assert_array_equal(x.shape[::-1].eval({x: np.zeros((5, 3))}), [3, 5])


def test_getitem_of_0d_and_empty_tensors():
    check(np.array(2.5), ())
    check(np.array(2.5), None)
    check(np.array(2.5), Ellipsis)
    check(np.zeros((0, 3)), (slice(1, None), 2))


# --- advanced indexing -------------------------------------------------------


@given(value_and_advanced_index())
def test_integer_array_indexing_matches_numpy_layout(case):
    value, index = case
    check(value, index)


def test_common_advanced_patterns():
    value = np.arange(24.0).reshape(4, 6)
    idx = np.array([3, -1, 0, 3])
    for index in [
        idx,
        (idx, slice(None)),
        (slice(None), idx),
        (idx, idx[::-1]),
        (idx[:, None], np.array([0, 5])),
        (slice(1, None), np.array([[1], [2]])),
    ]:
        check(value, index)
    x, i = at.dmatrix("x"), at.lvector("i")
    np.testing.assert_array_equal(run([x, i], x[:, i], value, idx), value[:, idx])


@given(SHAPES.filter(lambda s: len(s) >= 1), st.integers(0, 2**31), st.integers(1, 3))
def test_boolean_mask_indexing_matches_numpy(shape, seed, k):
    rng = np.random.default_rng(seed)
    value = rng.normal(size=shape)
    k = min(k, len(shape))
    mask = rng.random(shape[:k]) < 0.5
    x, m = dyn(value), at.tensor("bool", shape=(None,) * k, name="m")
    np.testing.assert_array_equal(run([x, m], x[m], value, mask), value[mask])
    if len(shape) > k:
        np.testing.assert_array_equal(run([x, m], x[m, ::-1], value, mask), value[mask, ::-1])
    # a comparison as a mask, and a constant mask (static lengths)
    np.testing.assert_array_equal(run([x], x[x > 0], value), value[value > 0])
    check(value, mask)


# --- set_subtensor / inc_subtensor -------------------------------------------


@given(value_and_basic_index(), st.booleans())
def test_set_and_inc_basic_match_numpy(case, set_):
    value, index = case
    y_value = (
        np.arange(np.asarray(value[index]).size, dtype=np.float64).reshape(np.shape(value[index]))
        + 100
    )
    expected = value.copy()
    if set_:
        expected[index] = y_value
    else:
        expected[index] += y_value
    fn = at.set_subtensor if set_ else at.inc_subtensor
    for make in (stat, dyn):
        x, y = make(value), dyn(y_value)
        np.testing.assert_array_equal(run([x, y], fn(x[index], y), value, y_value), expected)
    # values broadcast: the trailing row of y, and a weak Python scalar
    row = np.linspace(-1.0, 1.0, y_value.shape[-1]) if y_value.ndim else y_value
    expected = value.copy()
    if set_:
        expected[index] = row
    else:
        expected[index] += row
    x, y = dyn(value), dyn(row)
    np.testing.assert_array_equal(run([x, y], fn(x[index], y), value, row), expected)
    expected = value.copy()
    if set_:
        expected[index] = 2.5
    else:
        expected[index] += 2.5
    np.testing.assert_array_equal(run([x], fn(x[index], 2.5), value), expected)


@given(value_and_advanced_index())
def test_inc_subtensor_accumulates_duplicates_like_add_at(case):
    value, index = case
    value = value.astype(np.float64)
    shape = value[index].shape
    y_value = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) + 1
    expected = value.copy()
    np.add.at(expected, index, y_value)
    x, y = dyn(value), dyn(y_value)
    np.testing.assert_array_equal(
        run([x, y], at.inc_subtensor(x[index], y), value, y_value), expected
    )
    expected = value.copy()
    expected[index] = 7.0
    np.testing.assert_array_equal(run([x], at.set_subtensor(x[index], 7.0), value), expected)


def test_set_and_inc_with_masks_and_broadcast_values():
    value = np.arange(12.0).reshape(3, 4)
    mask = np.array([True, False, True])
    x, b = at.dmatrix("x"), at.bvector("b")
    expected = value.copy()
    expected[mask] = [1.0, 2.0, 3.0, 4.0]
    got = run([x, b], at.set_subtensor(x[b > 0], [1.0, 2.0, 3.0, 4.0]), value, mask.astype(np.int8))
    np.testing.assert_array_equal(got, expected)
    expected = value.copy()
    expected[mask] += 10
    np.testing.assert_array_equal(
        run([x], at.inc_subtensor(x[at.neq(x[:, 0], 4.0)], 10), value), expected
    )
    # int tensor incremented by a weak Python int stays int
    xi = at.lmatrix("xi")
    out = at.inc_subtensor(xi[0, 1:], 5)
    assert out.dtype == "int64"


def test_take_matches_numpy():
    value = np.arange(24.0).reshape(2, 3, 4)
    x = at.dtensor3("x")
    for indices, axis in [([1, -1, 1], 2), ([[0, 1], [1, 0]], 0), (2, 1), ([5, 0], None), ([], 1)]:
        np.testing.assert_array_equal(
            run([x], at.take(x, indices, axis=axis), value), np.take(value, indices, axis=axis)
        )


# --- errors ------------------------------------------------------------------


def test_static_out_of_bounds_raises_at_build_time_with_the_line():
    x = at.tensor("float64", shape=(3, None), name="x")
    with pytest.raises(
        IndexError,
        match=r"subtensor: index 3 is out of bounds for axis 0 with length 3 \[operands: x float64\[3,\?\]\] \(at .*test_index.py:\d+\)",
    ):
        x[3]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="out of bounds for axis 0 with length 2"):
        x.shape[2]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]
    with pytest.raises(IndexError, match="boolean index of shape"):
        x[np.array([True, False])]


def test_run_time_out_of_bounds_raises_index_error_naming_the_op():
    x, i = at.dvector("x"), at.lscalar("i")
    f = ag.function([x, i], x[i], target="py")
    assert f(np.arange(3.0), -3) == 0.0
    with pytest.raises(IndexError, match="subtensor: index 3 is out of bounds"):
        f(np.arange(3.0), 3)
    v = at.lvector("v")
    g = ag.function([x, v], x[v], target="py")
    with pytest.raises(IndexError, match="adv_subtensor: index -4 is out of bounds"):
        g(np.arange(3.0), [0, -4])
    h = ag.function([x, v], at.inc_subtensor(x[v], 1.0), target="py")
    with pytest.raises(IndexError, match="adv_inc_subtensor: index 7 is out of bounds"):
        h(np.arange(3.0), [7])
    m = at.tensor("bool", shape=(None,), name="m")
    k = ag.function([x, m], x[m], target="py")
    with pytest.raises(IndexError, match="adv_subtensor: boolean index did not match"):
        k(np.arange(3.0), [True, False])


def test_bad_index_kinds_are_clear_errors():
    x = at.dmatrix("x")
    with pytest.raises(TypeError, match="index arrays must be integers or booleans"):
        x[at.dvector()]
    with pytest.raises(TypeError, match="slice bounds must be"):
        x[0.5:]
    with pytest.raises(NotImplementedError, match="scalar boolean index"):
        x[True]
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        x[::0]
    with pytest.raises(TypeError, match="set_subtensor: the first argument must be an indexed"):
        at.set_subtensor(x, 1.0)
    with pytest.raises(
        TypeError, match="cannot store values of dtype float64 into a tensor of dtype int32"
    ):
        at.set_subtensor(at.imatrix()[0], at.dvector())
    with pytest.raises(
        ValueError,
        match=r"set_subtensor: a value of shape \(3,\) cannot be broadcast to the indexed shape \(2,\)",
    ):
        at.set_subtensor(at.tensor("float64", shape=(4, 2))[0], at.tensor("float64", shape=(3,)))
    with pytest.raises(TypeError, match="take: axis"):
        at.take(x, [0], axis=2)
