"""The cuda target end to end on a machine without a GPU: in-process
functions and built packages import and compile, their CPU functions run,
cuda calls raise a RuntimeError naming the missing driver; the same host
code runs correctly against the CPU emulation of the driver API."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.errors import BuildError

HAS_DRIVER = ctypes.util.find_library("cuda") is not None
no_driver = pytest.mark.skipif(HAS_DRIVER, reason="a CUDA driver is installed here")


def _mlp():
    x = at.tensor("float32", shape=(None, 7), name="x")
    w = at.tensor("float32", shape=(7, 5), name="w")
    b = at.tensor("float32", shape=(5,), name="b")
    h = at.tanh(x @ w + b)
    return [x, w, b], [at.nnet.softmax(h), (x @ w).T, h.sum(axis=0)]


def _args(rows=6):
    rng = np.random.default_rng(3)
    return (
        rng.standard_normal((rows, 7)).astype("float32"),
        rng.standard_normal((7, 5)).astype("float32"),
        rng.standard_normal(5).astype("float32"),
    )


@no_driver
def test_function_without_driver_raises_naming_libcuda():
    ins, outs = _mlp()
    f = ag.function(ins, outs, target="cuda")
    assert f.target == "cuda"
    with pytest.raises(RuntimeError, match=r"libcuda\.so\.1 could not be loaded"):
        f(*_args())


def test_function_runs_through_the_emulated_driver(monkeypatch):
    monkeypatch.setenv("AOTGRAPH_CUDA_EMULATION", "1")
    ins, outs = _mlp()
    f = ag.function(ins, outs, target="cuda")
    ref = ag.function(ins, outs, target="py")
    for rows in (1, 6, 0):
        got, want = f(*_args(rows)), ref(*_args(rows))
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-5)


def test_function_errors_travel_from_the_host_code(monkeypatch):
    monkeypatch.setenv("AOTGRAPH_CUDA_EMULATION", "1")
    x = at.tensor("float64", shape=(None, None), name="x")
    y = at.tensor("float64", shape=(None, None), name="y")
    f = ag.function([x, y], x @ y, target="cuda")
    with pytest.raises(ValueError, match="matmul: shapes"):
        f(np.zeros((2, 3)), np.zeros((4, 2)))


def test_gather_bounds_are_checked_on_the_device(monkeypatch):
    monkeypatch.setenv("AOTGRAPH_CUDA_EMULATION", "1")
    x = at.tensor("float32", shape=(None, None, None), name="x")
    i = at.tensor("int32", shape=(None, None), name="i")
    f = ag.function([x, i], x[i], target="cuda")
    xs = np.arange(60, dtype="float32").reshape(5, 3, 4)[:, ::-1]
    idx = np.array([[0, -1], [4, 2], [-5, 1]], np.int32)
    np.testing.assert_array_equal(f(xs, idx), xs[idx])
    with pytest.raises(IndexError, match="index 7 is out of bounds for axis 0 with size 5"):
        f(xs, np.array([[0, 7]], np.int32))
    with pytest.raises(IndexError, match="index -6 is out of bounds"):
        f(xs, np.array([[-6]], np.int32))


def test_ops_without_cuda_kernels_are_named():
    x = at.tensor("float32", shape=(None,), name="x")
    with pytest.raises(
        BuildError, match="cannot compile for target .cuda.: op .join. has no CUDA kernel"
    ):
        ag.function([x], at.concatenate([x, x]), target="cuda")


def test_indices_read_from_device_memory_are_refused():
    x = at.tensor("float32", shape=(None,), name="x")
    i = at.tensor("int64", shape=(), name="i")
    with pytest.raises(BuildError, match="subtensor with symbolic lengths or indices"):
        ag.function([x, i], x[i:], target="cuda")


SPEC = """
import aotgraph as ag, aotgraph.tensor as at
mod = ag.Module("cudapkg.net")
x = at.tensor("float32", shape=(None, 7), name="x")
w = at.tensor("float32", shape=(7, 5), name="w")
b = at.tensor("float32", shape=(5,), name="b")
mod.function("predict", [x, w, b], at.nnet.softmax(at.tanh(x @ w + b)))
mod.function("first", [x], x[0])
"""

CHECK = """
import numpy as np, cudapkg.net as m
rng = np.random.default_rng(0)
x = rng.standard_normal((3, 7)).astype("float32")
w = rng.standard_normal((7, 5)).astype("float32")
b = np.zeros(5, "float32")
h = np.tanh(x @ w + b)
e = np.exp(h - h.max(axis=1, keepdims=True))
np.testing.assert_allclose(m.predict(x, w, b), e / e.sum(axis=1, keepdims=True), rtol=1e-5)
from cudapkg.net import cuda
try:
    cuda.predict(x, w, b)
except RuntimeError as exc:
    print("RAISED", exc)
"""


@pytest.fixture(scope="module")
def built_package(tmp_path_factory):
    root = tmp_path_factory.mktemp("cudapkg")
    (root / "spec.py").write_text(SPEC)
    outs = []
    for out in ("a", "b"):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "aotgraph",
                "compile",
                "spec.py",
                "-o",
                out,
                "--target",
                "cpu,cuda",
            ],
            cwd=root,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(root / out)
    return outs


@no_driver
def test_package_imports_runs_cpu_and_cuda_raises(built_package):
    proc = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=built_package[0],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(built_package[0])},
    )
    assert proc.returncode == 0, proc.stderr
    assert "RAISED predict (cuda): CUDA is not available" in proc.stdout
    assert "libcuda.so.1" in proc.stdout


def test_package_cuda_part_is_reproducible(built_package):
    a, b = (p / "cudapkg" / "net" for p in built_package)
    for name in ("cuda.py", "_aotgraph_cuda.so"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
