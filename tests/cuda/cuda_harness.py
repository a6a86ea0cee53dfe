"""Build harness of the CUDA emitter tests.

Graphs become IR nodes; each node with a CUDA emitter contributes its
host launch code (C, compiled by gcc) and its kernels (compiled as C++
against runtime_c/ag_cuda_emul.h, so they run on CPU threads with real
barriers); view ops use their C emitter, which only rewrites metadata.
Buffers live in host memory, which is the emulated device memory.  The
tests compare results with the reference interpreter.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from aotgraph.emit.c_common import CTYPE
from aotgraph.emit.c_ops import C_PREAMBLE
from aotgraph.emit.cuda_ops import CUDA_OPS, CUDA_VIEW_OPS, emulation_sources, kernel_source
from aotgraph.graph import Constant, SharedVariable, toposort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNTIME = os.path.join(ROOT, "runtime_c")
DTYPES = [
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
#: small blocks: every thread of a block is a pthread in the emulation
EMU_DEFINES = [
    "-DAG_CU_THREADS=64",
    "-DAG_CU_TILE=8",
    "-DAG_CU_MAX_BLOCKS=3",
    "-DAG_CU_SPLIT_MIN=256",
]
CDEF = """
typedef struct ag_buffer { void *data; int32_t dtype; int32_t ndim;
    int64_t shape[16]; int64_t strides[16]; } ag_buffer;
typedef struct ag_error { int32_t code; char message[512]; } ag_error;
typedef struct ag_ws_block ag_ws_block;
typedef struct ag_ws { ag_ws_block *head; size_t total; } ag_ws;
void ag_ws_init(ag_ws *ws);
void ag_ws_release(ag_ws *ws);
"""
ERRORS = {1: ValueError, 2: IndexError, 3: TypeError, 4: MemoryError, 5: RuntimeError}


class Context:
    """The emitters' ``cx``: variable types and constant values by vid."""

    def __init__(self, variables, constants):
        self.variables, self.constants = variables, constants

    def var(self, vid):
        return self.variables[vid]

    def const_value(self, vid):
        return self.constants.get(vid)


class IRGraph:
    def __init__(self, inputs, outputs):
        ids, self.variables, self.constants = {}, {}, {}

        def vid(v):
            if v.uid not in ids:
                ids[v.uid] = len(ids)
                self.variables[ids[v.uid]] = v.type.to_json()
                if isinstance(v, Constant):
                    self.constants[ids[v.uid]] = v.data
                elif isinstance(v, SharedVariable):
                    self.constants[ids[v.uid]] = v.get_value()
            return ids[v.uid]

        self.externals = [vid(v) for v in inputs]
        self.n_inputs = len(inputs)
        self.nodes = []
        for i, node in enumerate(toposort(outputs)):
            ins = [vid(v) for v in node.inputs]
            for v in node.inputs:
                if v.owner is None and ids[v.uid] not in self.externals:
                    self.externals.append(ids[v.uid])
            self.nodes.append(
                {
                    "op": node.op.name,
                    "params": dict(node.op.params),
                    "key": str(i),
                    "inputs": ins,
                    "outputs": [vid(v) for v in node.outputs],
                }
            )
        self.outputs = [vid(v) for v in outputs]
        self.cx = Context(self.variables, self.constants)

    def kernels(self, prefix):
        out = []
        for node in self.nodes:
            if node["op"] in CUDA_OPS:
                out += CUDA_OPS[node["op"]].kernels(self._keyed(node, prefix), self.cx)
        return out

    def _keyed(self, node, prefix):
        return {**node, "key": f"{prefix}_{node['key']}"}

    def host_function(self, name):
        lines = [
            f"int {name}(ag_buffer *B, ag_ws *ws, int nthreads, ag_error *err)",
            "{",
            "    (void)nthreads;",
        ]
        for node in self.nodes:
            keyed = self._keyed(node, name)
            emitter = CUDA_OPS.get(node["op"]) or CUDA_VIEW_OPS.get(node["op"])
            assert emitter is not None, f"no CUDA emitter for {node['op']}"
            ins = [f"B[{v}]" for v in node["inputs"]]
            outs = [f"B[{v}]" for v in node["outputs"]]
            for v in node["outputs"]:
                lines.append(f"    B[{v}].dtype = {DTYPES.index(self.variables[v]['dtype'])};")
            lines.append(emitter.shape(keyed, ins, outs, self.cx))
            if not emitter.view:
                for v in node["outputs"]:
                    lines += [
                        "    {",
                        "        size_t nb_ = 0;",
                        f"        ag_set_contiguous(&B[{v}]);",
                        f'        int rc_ = ag_nbytes(&B[{v}], &nb_, "{node["op"]}", err);',
                        "        if (rc_) return rc_;",
                        f"        B[{v}].data = ag_ws_alloc(ws, nb_ ? nb_ : 1);",
                        f'        if (!B[{v}].data) return ag_fail(err, AG_ERR_MEMORY, "oom");',
                        "    }",
                    ]
            lines.append(emitter.body(keyed, ins, outs, self.cx))
        return "\n".join(lines + ["    return 0;", "}"])


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stderr[:6000]}")


def build(graphs: dict, tmpdir):
    """Compile ``{name: IRGraph}`` against the emulation; returns
    ``{name: callable}`` and the kernels' CUDA source."""
    import cffi

    tmpdir = str(tmpdir)
    names = sorted(graphs)
    cname = {n: f"agcu_{i}" for i, n in enumerate(names)}
    kernels = [k for n in names for k in graphs[n].kernels(cname[n])]
    units = emulation_sources(kernels, parts=2)
    for i, text in enumerate(units):
        with open(os.path.join(tmpdir, f"kernels{i}.cpp"), "w") as f:
            f.write(text)
    host = C_PREAMBLE + '#include "ag_cuda.h"\n#define AG_CU_IMAGE ((ag_cu_image *)0)\n\n'
    host += "\n\n".join(graphs[n].host_function(cname[n]) for n in names)
    with open(os.path.join(tmpdir, "host.c"), "w") as f:
        f.write(host)
    common = ["-O1", "-fPIC", "-fno-math-errno", f"-I{RUNTIME}", *EMU_DEFINES]
    cxx = [
        "g++",
        "-std=c++17",
        "-pthread",
        *common,
        "-Wall",
        "-Wno-unused-function",
        "-Wno-unused-variable",
    ]
    cc = [
        "gcc",
        "-std=gnu11",
        *common,
        "-Werror=implicit-function-declaration",
        "-Werror=incompatible-pointer-types",
    ]
    jobs = [cxx + ["-c", f"kernels{i}.cpp", "-o", f"kernels{i}.o"] for i in range(len(units))]
    jobs.append(cc + ["-c", "host.c", "-o", "host.o"])
    runtime = ("ag_runtime.c", "ag_workspace.c", "ag_threads.c")
    jobs += [cc + ["-c", os.path.join(RUNTIME, f), "-o", f"rt{i}.o"] for i, f in enumerate(runtime)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda cmd: _run(cmd, tmpdir), jobs))
    objs = [cmd[-1] for cmd in jobs]
    _run(["g++", "-shared", "-pthread", *objs, "-o", "libemu.so", "-lm"], tmpdir)
    ffi = cffi.FFI()
    ffi.cdef(
        CDEF
        + "".join(
            f"int {cname[n]}(ag_buffer *B, ag_ws *ws, int nthreads, ag_error *err);\n"
            for n in names
        )
    )
    lib = ffi.dlopen(os.path.join(tmpdir, "libemu.so"))
    return {n: Runner(ffi, lib, cname[n], graphs[n]) for n in names}, kernel_source(kernels)


class Runner:
    def __init__(self, ffi, lib, name, graph):
        self.ffi, self.lib, self.name, self.graph = ffi, lib, name, graph

    def __call__(self, *args):
        g, ffi = self.graph, self.ffi
        bufs = ffi.new("ag_buffer[]", max(len(g.variables), 1))
        keep = []
        values = list(args) + [g.constants[v] for v in g.externals[len(args) :]]
        for vid, value in zip(g.externals, values):
            arr = np.asarray(value)
            assert arr.dtype.name == g.variables[vid]["dtype"]
            keep.append(arr)
            b = bufs[vid]
            b.data = ffi.cast("void *", arr.ctypes.data)
            b.dtype = DTYPES.index(arr.dtype.name)
            b.ndim = arr.ndim
            for d in range(arr.ndim):
                b.shape[d] = arr.shape[d]
                b.strides[d] = arr.strides[d] // arr.itemsize
        ws, err = ffi.new("ag_ws *"), ffi.new("ag_error *")
        self.lib.ag_ws_init(ws)
        try:
            rc = getattr(self.lib, self.name)(bufs, ws, 1, err)
            if rc:
                raise ERRORS.get(rc, RuntimeError)(ffi.string(err.message).decode())
            return [self._read(bufs[v], g.variables[v]["dtype"]) for v in g.outputs]
        finally:
            self.lib.ag_ws_release(ws)

    def _read(self, b, dtype):
        shape = tuple(b.shape[d] for d in range(b.ndim))
        strides = [b.strides[d] for d in range(b.ndim)]
        dt = np.dtype(dtype)
        if int(np.prod(shape, dtype=np.int64)) == 0:
            return np.empty(shape, dt)
        lo = sum(s * (n - 1) for s, n in zip(strides, shape) if s < 0)
        hi = sum(s * (n - 1) for s, n in zip(strides, shape) if s > 0)
        ptr = self.ffi.cast("char *", b.data) + lo * dt.itemsize
        raw = np.frombuffer(self.ffi.buffer(ptr, (hi - lo + 1) * dt.itemsize), dt)
        view = np.lib.stride_tricks.as_strided(
            raw[-lo:] if lo else raw, shape, [s * dt.itemsize for s in strides]
        )
        return np.array(view, copy=True)


def reference(inputs, outputs, args):
    from aotgraph.function import interpret

    values = {v.uid: np.asarray(a) for v, a in zip(inputs, args)}
    return interpret(outputs, values, "reference")


def assert_same(got, want, rtol=1e-5, atol=1e-6):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def ctype(dtype):
    return CTYPE[dtype]
