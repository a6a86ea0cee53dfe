"""matmul (1-d, 2-d, batched with broadcasting, transposed and strided
operands, all dtypes) and the optimizer's gemm compiled to C versus numpy,
with and without a BLAS library."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_c_harness import assert_same, build_module, ir_from_graph, ir_from_nodes, reference

import aotgraph.tensor as at
from aotgraph.ops.linalg import matmul

NDIMS = [(1, 1), (1, 2), (2, 1), (2, 2), (3, 2), (2, 3), (3, 3), (4, 3)]
DTYPES = [
    ("float32", "float32"),
    ("float64", "float64"),
    ("int32", "int32"),
    ("bool", "bool"),
    ("float32", "float64"),
    ("int8", "uint8"),
]


def _cases():
    cases = {}
    for na, nb in NDIMS:
        for da, db in DTYPES:
            a = at.tensor(da, shape=(None,) * na, name="a")
            b = at.tensor(db, shape=(None,) * nb, name="b")
            cases[f"mm__{na}{nb}__{da}_{db}"] = ([a, b], matmul(a, b))
    return cases


CASES = _cases()
GEMMS = {
    f"gemm__{dt}__{ta}{tb}__{beta}": (dt, ta, tb, beta)
    for dt in ("float32", "float64")
    for ta in (0, 1)
    for tb in (0, 1)
    for beta in (0.0, 0.5)
}


def _gemm_ir(dt, ta, tb, beta):
    inputs = [(dt, (None, None)), (dt, (None, None))]
    if beta:
        inputs.append((dt, (None,)))
    n = len(inputs)
    node = {
        "op": "gemm",
        "params": {"alpha": 2.0, "beta": beta, "trans_a": bool(ta), "trans_b": bool(tb)},
        "inputs": list(range(n)),
        "outputs": [n],
    }
    return ir_from_nodes(inputs + [(dt, (None, None))], [node], n, [n])


def _fns():
    fns = {name: ir_from_graph(ins, [out]) for name, (ins, out) in CASES.items()}
    fns.update({name: _gemm_ir(*spec) for name, spec in GEMMS.items()})
    return fns


@pytest.fixture(scope="module", params=["blas", "builtin"])
def compiled(request, tmp_path_factory):
    return build_module(_fns(), tmp_path_factory.mktemp("linalg"), blas=request.param == "blas")


def _values(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return st.floats(-10, 10, width=dtype.itemsize * 8)
    if dtype.kind in "iu":
        return st.integers(max(int(np.iinfo(dtype).min), -50), min(int(np.iinfo(dtype).max), 50))
    return None


@st.composite
def matrix_like(draw, dtype, shape):
    layout = draw(st.sampled_from(["c", "f", "t", "strided", "neg", "bcast"]))
    dtype = np.dtype(dtype)
    if layout == "t" and len(shape) >= 2:
        arr = draw(hnp.arrays(dtype, shape[:-2] + (shape[-1], shape[-2]), elements=_values(dtype)))
        return np.swapaxes(arr, -1, -2)
    if layout == "bcast" and len(shape) >= 2:
        row = draw(hnp.arrays(dtype, shape[:-2] + (1, shape[-1]), elements=_values(dtype)))
        return np.broadcast_to(row, shape)
    big = shape[:-1] + (shape[-1] * 2,) if layout == "strided" else shape
    arr = draw(hnp.arrays(dtype, big, elements=_values(dtype)))
    if layout == "f":
        return np.asfortranarray(arr)
    if layout == "strided":
        return arr[..., ::2]
    if layout == "neg":
        return arr[..., ::-1]
    return arr


@st.composite
def matmul_shapes(draw, na, nb):
    m, k, n = (draw(st.integers(0, 5)) for _ in range(3))
    batch = [draw(st.integers(1, 3)) for _ in range(max(na, nb) - 2)]
    bshape_a = [draw(st.sampled_from([d, 1])) for d in batch][len(batch) - max(na - 2, 0) :]
    bshape_b = [draw(st.sampled_from([d, 1])) for d in batch][len(batch) - max(nb - 2, 0) :]
    sa = (k,) if na == 1 else tuple(bshape_a) + (m, k)
    sb = (k,) if nb == 1 else tuple(bshape_b) + (k, n)
    return sa, sb


@pytest.mark.parametrize("dims", NDIMS, ids=lambda d: f"{d[0]}x{d[1]}")
@given(data=st.data())
def test_matmul_matches_reference(compiled, dims, data):
    da, db = data.draw(st.sampled_from(DTYPES))
    name = f"mm__{dims[0]}{dims[1]}__{da}_{db}"
    inputs, out = CASES[name]
    sa, sb = data.draw(matmul_shapes(*dims))
    a = data.draw(matrix_like(da, sa))
    b = data.draw(matrix_like(db, sb))
    want = reference(inputs, [out], [a, b])[0]
    got = compiled[name](a, b)[0]
    assert_same(got, want, rtol=1e-4 if out.dtype == "float32" else 1e-10, atol=1e-4)


def test_matmul_shape_mismatch_raises(compiled):
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 2\)"):
        compiled["mm__22__float64_float64"](np.zeros((2, 3)), np.zeros((4, 2)))


def test_large_matmul_matches_numpy(compiled):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal((200, 250)).astype(np.float32)
    got = compiled["mm__22__float32_float32"](a, b.T.copy().T, nthreads=2)[0]
    np.testing.assert_allclose(got, a @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", sorted(GEMMS))
@given(data=st.data())
def test_gemm_matches_numpy(compiled, name, data):
    dt, ta, tb, beta = GEMMS[name]
    m, k, n = (data.draw(st.integers(0, 6)) for _ in range(3))
    a = data.draw(matrix_like(dt, (k, m) if ta else (m, k)))
    b = data.draw(matrix_like(dt, (n, k) if tb else (k, n)))
    args = [a, b]
    want = 2.0 * ((a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64))
    if beta:
        c = data.draw(hnp.arrays(np.dtype(dt), (n,), elements=_values(dt)))
        args.append(c)
        want = want + beta * c.astype(np.float64)
    got = compiled[name](*args)[0]
    assert_same(got, want.astype(dt), rtol=1e-4 if dt == "float32" else 1e-10, atol=1e-4)
