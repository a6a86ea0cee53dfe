"""runtime_c/ag_cuda.c against a stand-in libcuda.so.1 (tests/cuda/stub):
the driver is dlopen'ed at first use, the image for the device's
architecture is chosen (cubin of the same major, else PTX), loaded once,
and every driver error carries its CUDA error name."""

from __future__ import annotations

import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIME = os.path.join(HERE, "..", "..", "runtime_c")


@pytest.fixture(scope="module")
def stub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stub")
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-o",
            str(tmp / "libcuda.so.1"),
            os.path.join(HERE, "stub", "fake_libcuda.c"),
        ],
        check=True,
    )
    subprocess.run(
        [
            "gcc",
            "-std=gnu11",
            f"-I{RUNTIME}",
            "-o",
            str(tmp / "check"),
            os.path.join(HERE, "stub", "driver_check.c"),
            os.path.join(RUNTIME, "ag_cuda.c"),
            os.path.join(RUNTIME, "ag_runtime.c"),
            "-ldl",
            "-lpthread",
        ],
        check=True,
    )
    return tmp


def _run(stub, **env):
    full = {**os.environ, "LD_LIBRARY_PATH": str(stub), **{k: str(v) for k, v in env.items()}}
    proc = subprocess.run([str(stub / "check")], capture_output=True, text=True, env=full)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize(
    "sm, image",
    [
        (80, "CUBIN-sm80"),
        (86, "CUBIN-sm86"),
        (89, "CUBIN-sm86"),
        (75, "CUBIN-sm70"),
        (90, "PTX-compute9"),
    ],
)
def test_image_choice_loaded_once(stub, sm, image):
    out = _run(stub, STUB_SM=sm)
    assert "roundtrip 42" in out
    loads = [line for line in out.splitlines() if line.startswith("load ")]
    assert loads == [f"load 1 {image}"]  # once per device, however many launches
    assert out.count("launch kern_a grid 3 block 64 arg0 42") == 2
    assert "launch kern_b" in out


def test_no_image_for_a_newer_major_without_ptx_is_an_error(stub):
    out = _run(stub, STUB_SM=100)  # PTX is for compute_90 <= 100: JIT path
    assert "load 1 PTX-compute9" in out
    out = _run(stub, STUB_SM=60)  # older than every cubin and the PTX
    assert "no CUDA kernels for this GPU (sm_60)" in out


def test_driver_errors_carry_the_cuda_error_name(stub):
    out = _run(stub, STUB_SM=80)
    assert "missing rc 5: cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND (500)" in out
    assert "big rc 4: cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (2)" in out


def test_init_failure_and_missing_driver_are_reported(stub, tmp_path):
    assert "cuInit failed with CUDA_ERROR_NO_DEVICE" in _run(stub, STUB_FAIL_INIT=1)
    empty = {**os.environ, "LD_LIBRARY_PATH": str(tmp_path)}
    proc = subprocess.run([str(stub / "check")], capture_output=True, text=True, env=empty)
    if "roundtrip" not in proc.stdout:  # a real driver may be installed system-wide
        assert "libcuda.so.1 could not be loaded" in proc.stdout
