"""Shape ops compiled to C versus the reference interpreter: dimshuffle
(views), reshape (view of contiguous input, copy otherwise), shape_i,
disconnected_grad, and chains of them feeding elementwise ops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_c_harness import assert_same, build_module, ir_from_graph, reference

import aotgraph.tensor as at
from aotgraph.gradient import disconnected_grad
from aotgraph.ops.shape import dimshuffle, reshape, shape_i


def _cases():
    cases = {}
    x = at.tensor("float64", shape=(None, None, None), name="x")
    for pattern in [(2, 0, 1), (1, "x", 0, 2), ("x", 2, 1, 0, "x")]:
        cases[f"dimshuffle__{pattern}"] = ([x], dimshuffle(x, *pattern))
    x1 = at.tensor("int32", shape=(None, 1, None), name="x1")
    cases["dimshuffle__drop"] = ([x1], dimshuffle(x1, 2, 0))
    for target in [(-1,), (2, -1), (-1, 3, 1), (6, 2)]:
        cases[f"reshape__{target}"] = ([x], reshape(x, target))
    cases["reshape__then_add"] = ([x], reshape(x.T, (-1,)) + 1.0)
    cases["shape_i__1"] = ([x], shape_i(x, 1))
    cases["disconnected_grad"] = ([x], disconnected_grad(x) * 2.0)
    b = at.tensor("bool", shape=(None, None, None), name="b")
    cases["dimshuffle__bool_any"] = ([b], dimshuffle(b, 2, 1, 0).any(axis=0))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    fns = {name: ir_from_graph(ins, [out]) for name, (ins, out) in CASES.items()}
    return build_module(fns, tmp_path_factory.mktemp("shape"))


@st.composite
def tensor3(draw, dtype, shape):
    layout = draw(st.sampled_from(["c", "f", "strided", "reversed"]))
    dtype = np.dtype(dtype)
    big = (shape[0] * 2,) + shape[1:] if layout == "strided" else shape
    arr = draw(hnp.arrays(dtype, big))
    return {"c": arr, "f": np.asfortranarray(arr), "strided": arr[::2], "reversed": arr[:, ::-1]}[
        layout
    ]


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_shape_op_matches_reference(compiled, name, data):
    inputs, out = CASES[name]
    if name.startswith("reshape__") and "then" not in name:
        shape = data.draw(st.sampled_from([(2, 3, 2), (1, 6, 2), (3, 2, 2), (2, 2, 3)]))
    elif name == "dimshuffle__drop":
        shape = (data.draw(st.integers(0, 4)), 1, data.draw(st.integers(0, 4)))
    else:
        shape = tuple(data.draw(st.integers(0, 4)) for _ in range(3))
    x = data.draw(tensor3(inputs[0].dtype, shape))
    want = reference(inputs, [out], [x])[0]
    got = compiled[name](x)[0]
    assert_same(got, want)


def test_reshape_of_wrong_size_names_shapes(compiled):
    with pytest.raises(ValueError, match=r"reshape: cannot reshape an array of shape \(2, 2, 2\)"):
        compiled["reshape__(6, 2)"](np.zeros((2, 2, 2)))
