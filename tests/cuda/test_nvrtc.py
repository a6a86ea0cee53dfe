"""Every kernel the CUDA emitter produces for the op suite compiles with
NVRTC and ptxas (from the pip wheels, no GPU) for every listed
architecture, deterministically."""

from __future__ import annotations

import os
import re

import pytest
from cuda_harness import IRGraph
from op_suite import suite

from aotgraph.build.cuda import CUDA_ARCHS, compile_cuda, find_nvrtc, find_ptxas, nvrtc_ptx
from aotgraph.emit.cuda_ops import kernel_source
from aotgraph.errors import BuildError

try:
    find_nvrtc()
    find_ptxas()
except BuildError as exc:  # pragma: no cover - CI installs the cuda extra
    pytest.skip(f"CUDA wheels missing: {exc}", allow_module_level=True)

HEADERS = {
    "ag_cuda.h": open(
        os.path.join(os.path.dirname(__file__), "..", "..", "runtime_c", "ag_cuda.h"),
        encoding="utf-8",
    ).read()
}


@pytest.fixture(scope="module")
def suite_kernels():
    kernels = []
    for i, (_, (ins, outs, _args)) in enumerate(sorted(suite().items())):
        kernels += IRGraph(ins, outs).kernels(f"s{i}")
    return kernels


#: The whole suite for the oldest and newest arch (about 300 kernels: every
#: op x dtype x kernel family); every arch for the MLP example below.
SUITE_ARCHS = (min(CUDA_ARCHS), max(CUDA_ARCHS))


@pytest.fixture(scope="module")
def suite_binaries(suite_kernels):
    return compile_cuda(kernel_source(suite_kernels), HEADERS, archs=SUITE_ARCHS)


def test_mlp_kernels_compile_for_every_arch():
    import aotgraph as ag
    import aotgraph.tensor as at

    x = at.tensor("float32", shape=(None, 784), name="x")
    w1 = at.tensor("float32", shape=(784, 128), name="w1")
    w2 = at.tensor("float32", shape=(128, 10), name="w2")
    fg = ag.function([x, w1, w2], at.nnet.softmax(at.tanh(x @ w1) @ w2), target="py").fgraph
    kernels = IRGraph(list(fg.inputs), list(fg.outputs)).kernels("mlp")
    assert {k.name.split("_", 2)[-1] for k in kernels} >= {"softmax"}
    binaries = compile_cuda(kernel_source(kernels), HEADERS)
    assert sorted(binaries.cubins) == sorted(CUDA_ARCHS)
    for sm, cubin in binaries.cubins.items():
        assert cubin[:4] == b"\x7fELF"
        assert all(k.name.encode() in cubin for k in kernels), sm


def test_every_suite_kernel_has_a_cubin(suite_kernels, suite_binaries):
    assert sorted(suite_binaries.cubins) == sorted(SUITE_ARCHS)
    for sm, cubin in suite_binaries.cubins.items():
        assert cubin[:4] == b"\x7fELF", sm  # cubins are ELF images
        for k in suite_kernels:  # the entry names are in the symbol table
            assert k.name.encode() + b"\0" in cubin, (sm, k.name)
    assert suite_binaries.ptx_sm == max(CUDA_ARCHS)
    entries = set(re.findall(r"\.visible \.entry (\w+)\(", suite_binaries.ptx))
    assert entries == {k.name for k in suite_kernels}
    assert ".target sm_90" in suite_binaries.ptx


def test_kernel_parameters_match_the_launch_records(suite_kernels):
    for k in suite_kernels:
        head = k.source.split(f"void {k.name}(", 1)[1].split(")", 1)[0]
        assert head.count(",") + 1 == len(k.params), k.name


def test_builds_are_deterministic():
    from cuda_harness import IRGraph as G

    import aotgraph.tensor as at

    x = at.tensor("float32", shape=(None, None), name="x")
    ks = G([x], [at.nnet.softmax(at.tanh(x) @ x.T)]).kernels("det")
    src = kernel_source(ks)
    a = compile_cuda(src, HEADERS, archs=(75, 90))
    b = compile_cuda(src, HEADERS, archs=(75, 90))
    assert a.cubins == b.cubins and a.ptx == b.ptx and a.digest() == b.digest()


def test_compile_errors_show_the_nvrtc_log():
    with pytest.raises(BuildError, match=r"NVRTC failed for compute_80[\s\S]*undefined"):
        nvrtc_ptx('extern "C" __global__ void k(float *x) { x[0] = nosuch(1.0f); }', 80)


def test_unknown_compiler_is_refused():
    with pytest.raises(BuildError, match="compiler must be 'nvrtc' or 'nvcc'"):
        compile_cuda("", compiler="clang")
