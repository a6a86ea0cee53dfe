"""Constructors, joins and nnet ops compiled to C versus the reference
interpreter: make_vector, squeeze, alloc (zeros/ones/broadcast_to with
symbolic lengths), concatenate/stack, arange, eye, symbolic reshape,
softmax/log_softmax along any axis (NaN and infinities included), and the
one-hot crossentropy with its gradient and label checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_c_harness import assert_same, build_module, ir_from_graph, reference

import aotgraph.tensor as at
from aotgraph.ops.nnet import crossentropy_1hot, crossentropy_1hot_grad


def _cases():
    x = at.tensor("float64", shape=(None, None), name="x")
    f = at.tensor("float32", shape=(None, None, None), name="f")
    y = at.tensor("float64", shape=(None, None), name="y")
    n, k = at.lscalar("n"), at.iscalar("k")
    a, b = at.dscalar("a"), at.dscalar("b")
    s1 = at.tensor("float64", shape=(None, 1, None), name="s1")
    labels = at.tensor("int32", shape=(None,), name="labels")
    g = at.tensor("float64", shape=(None,), name="g")
    cases = {
        "shape_vector": ([x], x.shape),
        "squeeze": ([s1], at.squeeze(s1, axis=1)),
        "zeros_sym": ([n, k], at.zeros((n, k, 2))),
        "broadcast_to": ([x, n], at.broadcast_to(x, (n, x.shape[0], x.shape[1]))),
        "ones_like_alloc": ([a, n], at.alloc(a, n, 3)),
        "concat0": ([x, y], at.concatenate([x, y, x], axis=0)),
        "concat1": ([x, y], at.concatenate([x, y], axis=1)),
        "stack": ([x, y], at.stack([x, y], axis=1)),
        "arange_int": ([n], at.arange(n)),
        "arange_int_step": ([n, k], at.arange(k, n, 3)),
        "arange_float": ([a, b], at.arange(a, b, 0.5)),
        "eye": ([n, k], at.eye(n, n + 1, k)),
        "eye_static": ([x], at.eye(3, 4, -1) + x[0, 0]),
        "reshape_sym": ([x], x.reshape((x.shape[1], -1))),
        "crossentropy": ([x, labels], crossentropy_1hot(x, labels)),
        "crossentropy_grad": ([g, x, labels], crossentropy_1hot_grad(g, x, labels)),
    }
    for axis in (0, 1, 2):
        cases[f"softmax{axis}"] = ([f], at.nnet.softmax(f, axis=axis))
        cases[f"log_softmax{axis}"] = ([f], at.nnet.log_softmax(f, axis=axis))
    cases["softmax_f64"] = ([x], at.nnet.softmax(x, axis=-1))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    fns = {name: ir_from_graph(ins, [out]) for name, (ins, out) in CASES.items()}
    return build_module(fns, tmp_path_factory.mktemp("construct"))


def _floats(dt):
    return st.one_of(
        st.sampled_from([0.0, -1.0, np.inf, -np.inf, np.nan]),
        st.floats(-50, 50, width=np.dtype(dt).itemsize * 8),
    )


@st.composite
def argument(draw, var, dims):
    dt = np.dtype(var.dtype)
    if var.ndim == 0:
        if dt.kind == "f":
            return np.array(draw(st.floats(-5, 5)), dt)
        return np.array(draw(st.integers(-1, 4)), dt)
    shape = tuple(1 if s == 1 else dims[i] for i, s in enumerate(var.type.shape))
    if var.name == "labels":
        return draw(hnp.arrays(dt, (dims[0],), elements=st.integers(-1, dims[1])))
    if var.name == "g":
        return draw(hnp.arrays(dt, (draw(st.sampled_from([dims[0], 1])),)))
    arr = draw(hnp.arrays(dt, shape, elements=_floats(dt) if dt.kind == "f" else None))
    return draw(st.sampled_from([arr, np.asfortranarray(arr), arr[::-1]]))


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_construct_and_nnet_match_reference(compiled, name, data):
    inputs, out = CASES[name]
    dims = [data.draw(st.integers(0 if "softmax" not in name else 1, 4)) for _ in range(3)]
    args = [data.draw(argument(v, dims)) for v in inputs]
    try:
        want = reference(inputs, [out], args)[0]
    except (ValueError, IndexError) as exc:
        with pytest.raises(type(exc)):
            compiled[name](*args)
        return
    got = compiled[name](*args)[0]
    rtol = 2e-5 if out.dtype == "float32" else 1e-12
    assert_same(got, want, rtol=rtol, atol=1e-6 if out.dtype == "float32" else 1e-14)


def test_crossentropy_label_out_of_range(compiled):
    with pytest.raises(IndexError, match="crossentropy_1hot: label 3 is out of range for 3"):
        compiled["crossentropy"](np.full((2, 3), 0.5), np.array([0, 3], np.int32))
