"""Elementwise ops, switch and cast compiled to C versus
the reference interpreter: every op on every dtype numpy allows,
hypothesis values (NaN, infinities, integer extremes), and operands that
are contiguous, strided, reversed, Fortran-ordered or broadcast."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_c_harness import assert_same, build_module, ir_from_graph, reference

import aotgraph.tensor as at
from aotgraph.errors import AotgraphError
from aotgraph.ops.base import apply1
from aotgraph.ops.elemwise import ELEMENTWISE_TABLE

DTYPES = ["bool", "int8", "uint16", "int32", "int64", "uint64", "float32", "float64"]
OPS_1 = sorted(n for n, (_, k, _) in ELEMENTWISE_TABLE.items() if k == 1)
OPS_2 = sorted(n for n, (_, k, _) in ELEMENTWISE_TABLE.items() if k == 2)
CAST_TARGETS = [
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
]


def _graph(op, dtypes, **params):
    inputs = [at.tensor(d, shape=(None, None), name=f"x{i}") for i, d in enumerate(dtypes)]
    try:
        out = apply1(op, inputs, **params)
    except AotgraphError:
        return None
    return inputs, out


def _cases():
    cases = {}
    for op in OPS_1:
        for d in DTYPES:
            g = _graph(op, [d])
            if g:
                cases[f"{op}__{d}"] = g
    for op in OPS_2:
        for d in DTYPES:
            g = _graph(op, [d, d])
            if g:
                cases[f"{op}__{d}"] = g
        for d1, d2 in (
            ("int32", "float32"),
            ("uint8", "int8"),
            ("float32", "float64"),
            ("int64", "uint64"),
            ("bool", "int16"),
        ):
            g = _graph(op, [d1, d2])
            if g:
                cases[f"{op}__{d1}_{d2}"] = g
    for d in ("float64", "int32", "bool"):
        for t in CAST_TARGETS:
            if t != d:
                cases[f"cast__{d}_{t}"] = _graph("cast", [d], dtype=t)
    for t in ("float32", "uint32"):
        cases[f"cast__float32_{t}"] = _graph("cast", ["float32"], dtype=t)
    for d in ("float32", "int16", "bool"):
        cases[f"switch__{d}"] = _graph("switch", ["bool", d, d])
    cases["switch__mixed"] = _graph("switch", ["float64", "int32", "float32"])
    x = at.tensor("float32", shape=(None, None), name="x")
    cases["const__affine"] = ([x], x * 2.5 + 1)
    cases["const__pow"] = ([x], x**2)
    cases["const__cmp"] = ([x], at.gt(x, 0))
    i = at.tensor("int32", shape=(None, None), name="i")
    cases["const__ipow"] = ([i], i**3)
    s = at.tensor("float64", shape=(), name="s")
    y = at.tensor("float64", shape=(None, None), name="y")
    cases["scalar__input"] = ([s, y], at.maximum(y, s))
    col = at.tensor("float64", shape=(None, 1), name="col")
    cases["column__sub"] = ([y, col], y - col)
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    fns = {name: ir_from_graph(ins, [out]) for name, (ins, out) in CASES.items()}
    return build_module(fns, tmp_path_factory.mktemp("elemwise"))


def _elements(dtype):
    if dtype.kind == "f":
        return st.one_of(
            st.sampled_from([0.0, -0.0, 0.5, -1.5, 2.5, np.nan, np.inf, -np.inf, 1e30, -7.0]),
            st.floats(allow_nan=True, allow_infinity=True, width=dtype.itemsize * 8),
        )
    return None


@st.composite
def operand(draw, dtype, shape):
    """An array of ``shape`` in a drawn layout: contiguous, Fortran,
    strided (every other row), reversed columns, or broadcast (stride 0)."""
    dtype = np.dtype(dtype)
    layout = draw(st.sampled_from(["c", "f", "strided", "reversed", "bcast"]))
    if layout == "bcast":
        row = draw(hnp.arrays(dtype, (1, shape[1]), elements=_elements(dtype)))
        return np.broadcast_to(row, shape)
    big = (shape[0] * 2, shape[1]) if layout == "strided" else shape
    arr = draw(hnp.arrays(dtype, big, elements=_elements(dtype)))
    if layout == "f":
        return np.asfortranarray(arr)
    if layout == "strided":
        return arr[::2]
    if layout == "reversed":
        return arr[:, ::-1]
    return arr


@st.composite
def shapes_for(draw, n):
    """Operand shapes that broadcast: equal, or with length-1 axes."""
    base = draw(st.tuples(st.integers(0, 5), st.integers(0, 6)))
    out = []
    for _ in range(n):
        ones = draw(st.sampled_from([(), (0,), (1,), (0, 1)]))
        out.append(tuple(1 if a in ones else d for a, d in enumerate(base)))
    return out


def _check(fn, inputs, out, args, rtol):
    try:
        want = reference(inputs, [out], args)[0]
    except (ValueError, IndexError) as exc:
        with pytest.raises(type(exc)):
            fn(*args)
        return
    got = fn(*args)[0]
    assert_same(got, want, rtol=rtol, atol=1e-6 * rtol)


def _run_case(compiled, name, data):
    inputs, out = CASES[name]
    shapes = data.draw(shapes_for(len(inputs)))
    shapes = [
        tuple(1 if s == 1 else d for s, d in zip(v.type.shape, sh)) for v, sh in zip(inputs, shapes)
    ]
    args = [
        data.draw(operand(v.dtype, sh))
        if v.ndim == 2
        else data.draw(hnp.arrays(np.dtype(v.dtype), (), elements=_elements(np.dtype(v.dtype))))
        for v, sh in zip(inputs, shapes)
    ]
    rtol = 2e-5 if out.dtype == "float32" else 1e-12
    _check(compiled[name], inputs, out, args, rtol)


def _names(prefix):
    return sorted(n for n in CASES if n.split("__")[0] == prefix)


@pytest.mark.parametrize("op", OPS_1 + OPS_2 + ["cast", "switch", "const", "scalar", "column"])
@given(data=st.data())
def test_elementwise_matches_reference(compiled, op, data):
    name = data.draw(st.sampled_from(_names(op)), label="case")
    _run_case(compiled, name, data)


@pytest.mark.parametrize("op", OPS_1 + OPS_2)
def test_every_dtype_combination_on_extremes(compiled, op):
    """Each compiled variant once on the dtype's extreme values."""
    for name in _names(op):
        inputs, out = CASES[name]
        args = []
        for k, v in enumerate(inputs):
            dt = np.dtype(v.dtype)
            if dt.kind == "f":
                vals = np.array(
                    [
                        0.0,
                        -0.0,
                        1.0,
                        -1.0,
                        0.5,
                        2.5,
                        -2.5,
                        np.nan,
                        np.inf,
                        -np.inf,
                        np.finfo(dt).max,
                        np.finfo(dt).tiny,
                        3.0,
                        7.0,
                    ],
                    dt,
                )
            elif dt.kind == "b":
                vals = np.array([True, False] * 7)
            else:
                info = np.iinfo(dt)
                vals = np.array(
                    [
                        0,
                        1,
                        -1 if dt.kind == "i" else 2,
                        info.min,
                        info.max,
                        2,
                        3,
                        7,
                        -7 if dt.kind == "i" else 9,
                        5,
                        info.min + 1,
                        100,
                        4,
                        6,
                    ],
                    dtype=dt,
                )
            args.append(np.roll(vals, k * 3).reshape(2, 7))
        if op == "pow" and np.dtype(out.dtype).kind in "iu":
            args[-1] = np.abs(args[-1].astype(np.int64)).clip(0, 3).astype(args[-1].dtype)
        rtol = 2e-5 if out.dtype == "float32" else 1e-12
        _check(compiled[name], inputs, out, args, rtol)


def test_integer_pow_negative_exponent_raises(compiled):
    a = np.array([[2, 3]], np.int32)
    with pytest.raises(ValueError, match="negative integer powers"):
        compiled["pow__int32"](a, np.array([[1, -1]], np.int32))


def test_broadcast_mismatch_names_op_and_shapes(compiled):
    with pytest.raises(ValueError, match=r"add: .*\(2, 3\) \(2, 4\)"):
        compiled["add__float64"](np.zeros((2, 3)), np.zeros((2, 4)))


def test_large_inputs_use_threads_and_match(compiled):
    x = np.linspace(-5, 5, 200_000, dtype=np.float32).reshape(400, 500)
    y = np.ones((1, 500), np.float32)
    got = compiled["add__float32"](x, y, nthreads=2)[0]
    np.testing.assert_array_equal(got, x + y)
    got = compiled["tanh__float32"](x[:, ::-1], nthreads=2)[0]
    np.testing.assert_allclose(got, np.tanh(x[:, ::-1]), rtol=2e-6, atol=1e-7)


def test_column_operands_broadcast_along_the_inner_axis(compiled):
    """A (n, 1) operand against (n, m): the inner loop reads it once per row."""
    x = np.arange(12.0).reshape(3, 4)
    c = np.array([[1.0], [2.0], [3.0]])
    np.testing.assert_array_equal(compiled["column__sub"](x, c)[0], x - c)
    np.testing.assert_array_equal(compiled["column__sub"](x[:, :1], c)[0], x[:, :1] - c)
    np.testing.assert_array_equal(
        compiled["column__sub"](x.T[:3, :3], c.T[:, :3].T)[0], x.T[:3, :3] - c
    )
