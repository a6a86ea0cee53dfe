"""Indexing compiled to C versus the reference interpreter: basic slices
(views, negative steps, symbolic bounds), integer and array indexes, boolean
masks, numpy's placement of advanced axes, set/inc_subtensor (duplicates
accumulate like np.add.at), and IndexErrors naming op, axis, index and
length."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_c_harness import assert_same, build_module, ir_from_graph, reference

import aotgraph.tensor as at


def _cases():
    x = at.tensor("float64", shape=(None, None, None), name="x")
    i, j = at.lscalar("i"), at.iscalar("j")
    v = at.lvector("v")
    w = at.tensor("int8", shape=(None,), name="w")
    m = at.tensor("bool", shape=(None, None), name="m")
    y = at.tensor("float64", shape=(None,), name="y")
    xi = at.tensor("int32", shape=(None, None, None), name="xi")
    yi = at.tensor("int32", shape=(), name="yi")
    return {
        "slices": ([x], x[1:, ::-1, ::2]),
        "neg_slices": ([x], x[-2:, :-1, ::-2]),
        "sym_slice": ([x, i, j], x[i:j, j]),
        "int_newaxis": ([x, i], x[None, i, 1:]),
        "array_first": ([x, v], x[v]),
        "array_middle": ([x, w], x[:, w]),
        "array_pair": ([x, v, w], x[v, :, w]),
        "array_int": ([x, v], x[1, v]),
        "mask_2d": ([x, m], x[m]),
        "mask_last": ([x, m], x[0][m]),
        "set_basic": ([x, y], at.set_subtensor(x[1:, 0], y)),
        "inc_basic": ([x, y], at.inc_subtensor(x[:, ::-1, 1], y)),
        "inc_adv_dups": ([x, v, y], at.inc_subtensor(x[v, 0], y)),
        "set_adv": ([x, v, y], at.set_subtensor(x[0, v], y)),
        "inc_mask": ([x, m, y], at.inc_subtensor(x[:, 0][m], y)),
        "inc_int_scalar": ([xi, v, yi], at.inc_subtensor(xi[v, 1, 1:], yi)),
    }


CASES = _cases()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    fns = {name: ir_from_graph(ins, [out]) for name, (ins, out) in CASES.items()}
    return build_module(fns, tmp_path_factory.mktemp("index"))


@st.composite
def argument(draw, var, shape3):
    dt = np.dtype(var.dtype)
    if var.ndim == 3:
        arr = draw(hnp.arrays(dt, (shape3[0], shape3[1], shape3[2] * 2)))
        return draw(st.sampled_from([arr[:, :, ::2], np.asfortranarray(arr[:, :, ::2])]))
    if var.ndim == 0:
        return np.array(draw(st.integers(-5, 5)), dt)
    if dt == np.bool_:
        k = draw(st.sampled_from([(0, 1), (1, 2)]))
        return draw(hnp.arrays(dt, tuple(shape3[a] for a in k)))
    n = draw(st.integers(0, 4))
    if dt.kind == "f":
        return draw(hnp.arrays(dt, (draw(st.sampled_from([n, 1])),), elements=st.floats(-100, 100)))
    return draw(hnp.arrays(dt, (n,), elements=st.integers(-4, 4)))


def _check(fn, inputs, out, args):
    try:
        want = reference(inputs, [out], args)[0]
    except (ValueError, IndexError) as exc:
        with pytest.raises(type(exc)):
            fn(*args)
        return
    assert_same(fn(*args)[0], want, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_indexing_matches_reference(compiled, name, data):
    inputs, out = CASES[name]
    shape3 = tuple(data.draw(st.integers(0, 4)) for _ in range(3))
    args = [data.draw(argument(v, shape3)) for v in inputs]
    _check(compiled[name], inputs, out, args)


def test_out_of_bounds_index_names_op_axis_index_and_length(compiled):
    x = np.zeros((3, 4, 5))
    with pytest.raises(
        IndexError,
        match=r"adv_subtensor: index 7 is out of bounds for axis 0 "
        r"with length 3",
    ):
        compiled["array_first"](x, np.array([0, 7]))
    with pytest.raises(
        IndexError, match=r"subtensor: index -5 is out of bounds for axis 0 with length 3"
    ):
        compiled["int_newaxis"](x, np.array(-5))


def test_duplicate_increments_accumulate(compiled):
    x = np.zeros((3, 2, 4))
    y = np.array([1.0, 2.0, 3.0, 4.0])
    got = compiled["inc_adv_dups"](x, np.array([1, 1, 2, 1]), y)[0]
    want = x.copy()
    np.add.at(want, (np.array([1, 1, 2, 1]), 0), y)
    assert want[1, 0, 0] == 3.0
    np.testing.assert_array_equal(got, want)


def test_mask_shape_mismatch_raises_index_error(compiled):
    with pytest.raises(IndexError, match="boolean index did not match"):
        compiled["mask_2d"](np.zeros((2, 3, 1)), np.zeros((3, 3), bool))
