"""Reductions compiled to C versus the reference interpreter: every
reduction over sets of axes with and without keepdims, all dtypes, NaN and
infinities, strided/Fortran/broadcast inputs, empty inputs, sum_to_like,
and float32 sums at least as accurate as numpy's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_c_harness import assert_same, build_module, ir_from_graph, reference

import aotgraph.tensor as at
from aotgraph.errors import AotgraphError
from aotgraph.ops.reduce import arg_reduce, reduce, sum_to_like

REDUCTIONS = ["sum", "prod", "max", "min", "all", "any"]
DTYPES = ["bool", "int8", "uint32", "int64", "float32", "float64"]
AXES = [None, 0, 1, 2, (0, 2), (1, 2)]


def _cases():
    cases = {}
    for op in REDUCTIONS + ["argmax", "argmin"]:
        for d in DTYPES:
            for ax in AXES:
                if op.startswith("arg") and isinstance(ax, tuple):
                    continue
                for keep in (False, True):
                    x = at.tensor(d, shape=(None, None, None), name="x")
                    try:
                        y = (arg_reduce if op.startswith("arg") else reduce)(op, x, ax, keep)
                    except AotgraphError:
                        continue
                    cases[f"{op}__{d}__{ax}__{keep}".replace(" ", "")] = ([x], y)
    for d in ("float32", "int16", "bool", "float64"):
        g = at.tensor(d, shape=(None, None, None), name="g")
        like = at.tensor(d, shape=(None, None), name="like")
        cases[f"sum_to_like__{d}"] = ([g, like], sum_to_like(g, like))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    fns = {name: ir_from_graph(ins, [out]) for name, (ins, out) in CASES.items()}
    return build_module(fns, tmp_path_factory.mktemp("reduce"))


def _elements(dtype):
    if dtype.kind == "f":
        return st.one_of(
            st.sampled_from([0.0, -0.0, 1.5, -2.0, np.nan, np.inf, -np.inf]),
            st.floats(-1e6, 1e6, width=dtype.itemsize * 8),
        )
    if dtype.kind in "iu":
        return st.integers(int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
    return None


@st.composite
def tensor3(draw, dtype, allow_empty=True):
    dtype = np.dtype(dtype)
    lo = 0 if allow_empty else 1
    shape = draw(st.tuples(st.integers(lo, 4), st.integers(lo, 5), st.integers(lo, 6)))
    layout = draw(st.sampled_from(["c", "f", "strided", "reversed", "bcast"]))
    if layout == "bcast":
        row = draw(hnp.arrays(dtype, (1,) + shape[1:], elements=_elements(dtype)))
        return np.broadcast_to(row, shape)
    big = (shape[0], shape[1], shape[2] * 2) if layout == "strided" else shape
    arr = draw(hnp.arrays(dtype, big, elements=_elements(dtype)))
    return {
        "c": arr,
        "f": np.asfortranarray(arr),
        "strided": arr[:, :, ::2],
        "reversed": arr[::-1],
    }[layout]


def _check(fn, inputs, out, args):
    try:
        want = reference(inputs, [out], args)[0]
    except (ValueError, IndexError) as exc:
        with pytest.raises(type(exc)):
            fn(*args)
        return
    got = fn(*args)[0]
    rtol = 1e-5 if out.dtype == "float32" else 1e-10
    assert_same(got, want, rtol=rtol, atol=1e-3 if out.dtype == "float32" else 1e-8)


@pytest.mark.parametrize("op", REDUCTIONS + ["argmax", "argmin"])
@given(data=st.data())
def test_reduction_matches_reference(compiled, op, data):
    name = data.draw(st.sampled_from(sorted(n for n in CASES if n.split("__")[0] == op)))
    inputs, out = CASES[name]
    x = data.draw(tensor3(inputs[0].dtype))
    _check(compiled[name], inputs, out, [x])


@given(data=st.data())
def test_sum_to_like_matches_reference(compiled, data):
    d = data.draw(st.sampled_from(["float32", "int16", "bool", "float64"]))
    inputs, out = CASES[f"sum_to_like__{d}"]
    g = data.draw(tensor3(d))
    like_shape = tuple(data.draw(st.sampled_from([n, 1])) for n in g.shape[1:])
    like = np.zeros(like_shape, d)
    _check(compiled[f"sum_to_like__{d}"], inputs, out, [g, like])


def test_sum_to_like_rejects_incompatible_shapes(compiled):
    with pytest.raises(ValueError, match="sum_to_like"):
        compiled["sum_to_like__float64"](np.zeros((2, 3, 4)), np.zeros((3, 5)))


def test_max_of_empty_raises_value_error(compiled):
    with pytest.raises(ValueError, match="max: zero-size array"):
        compiled["max__float64__1__False"](np.zeros((2, 0, 3)))
    np.testing.assert_array_equal(
        compiled["sum__float64__1__False"](np.zeros((2, 0, 3)))[0], np.zeros((2, 3))
    )


def test_float32_sum_at_least_as_accurate_as_numpy(compiled):
    rng = np.random.default_rng(0)
    x = (rng.random((1, 1, 1_000_000)) * 1000).astype(np.float32)
    exact = np.sum(x.astype(np.float64))
    got = compiled["sum__float32__None__False"](x, nthreads=2)[0]
    assert abs(float(got) - exact) <= abs(float(np.sum(x)) - exact) + abs(exact) * 6e-8


def test_nan_wins_in_max_and_argmax(compiled):
    x = np.array([[[1.0, np.nan, 3.0, np.nan]]])
    assert np.isnan(compiled["max__float64__None__False"](x)[0])
    assert compiled["argmax__float64__None__False"](x)[0] == 1
    assert compiled["argmin__float64__2__False"](x)[0].tolist() == [[1]]
