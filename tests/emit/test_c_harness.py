"""A minimal build harness for the C op emitters, plus its own checks.

It turns graphs (or hand-written IR nodes) into one C function each, using
only ``C_OPS``, ``C_PREAMBLE`` and ``C_SUPPORT_FILES``, compiles many such
functions into ONE cffi module, and runs them on numpy arrays of any
layout.  Every buffer lives in the per-call workspace arena; outputs are
read back through their (possibly strided, aliasing) ``ag_buffer``.  The
test files of tests/emit compare its results with the reference
interpreter, so the emitters are tested independently of the build
scaffold.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid

import numpy as np
import pytest

from aotgraph.emit.c_common import CTYPE
from aotgraph.emit.c_ops import C_OPS, C_PREAMBLE, C_SUPPORT_FILES
from aotgraph.graph import Constant, SharedVariable, toposort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNTIME = os.path.join(ROOT, "runtime_c")
DTYPE_CODE = {
    d: i
    for i, d in enumerate(
        [
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
    )
}

CDEF = """
typedef struct ag_buffer { void *data; int32_t dtype; int32_t ndim;
    int64_t shape[16]; int64_t strides[16]; } ag_buffer;
typedef struct ag_error { int32_t code; char message[512]; } ag_error;
typedef struct ag_ws_block ag_ws_block;
typedef struct ag_ws { ag_ws_block *head; size_t total; } ag_ws;
void ag_ws_init(ag_ws *ws);
void ag_ws_release(ag_ws *ws);
int ag_blas_load(const char *path, ag_error *err);
int ag_blas_loaded(void);
"""


class EmitContext:
    """What the emitters may ask about the graph (the contract's ``cx``)."""

    def __init__(self, variables, constants):
        self.variables = variables
        self.constants = constants
        self._n = 0

    def var(self, vid):
        return self.variables[vid]

    def const_value(self, vid):
        return self.constants.get(vid)

    def ctype(self, dtype):
        return CTYPE[dtype]

    def fresh(self, prefix):
        self._n += 1
        return f"{prefix}{self._n}_"


class IRFunction:
    """A function in IR form: ``externals`` (vids fed from Python, with
    constants' values), ``nodes`` and ``outputs`` (vids)."""

    def __init__(self, variables, externals, constants, nodes, outputs):
        self.variables = variables
        self.externals = externals
        self.constants = constants
        self.nodes = nodes
        self.outputs = outputs


def ir_from_graph(inputs, outputs) -> IRFunction:
    """IR of the graph from free ``inputs`` to ``outputs`` (no optimizer)."""
    ids, variables, constants = {}, {}, {}

    def vid(v):
        if v.uid not in ids:
            ids[v.uid] = len(ids)
            variables[ids[v.uid]] = v.type.to_json()
            if isinstance(v, Constant):
                constants[ids[v.uid]] = v.data
            elif isinstance(v, SharedVariable):
                constants[ids[v.uid]] = v.get_value()
        return ids[v.uid]

    externals = [vid(v) for v in inputs]
    nodes = []
    for node in toposort(outputs):
        ins = [vid(v) for v in node.inputs]
        for v in node.inputs:
            if v.owner is None and ids[v.uid] not in externals:
                externals.append(ids[v.uid])
        nodes.append(
            {
                "op": node.op.name,
                "params": dict(node.op.params),
                "inputs": ins,
                "outputs": [vid(v) for v in node.outputs],
            }
        )
    outs = [vid(v) for v in outputs]
    for o in outs:
        if o not in externals and all(o not in n["outputs"] for n in nodes):
            externals.append(o)
    return IRFunction(variables, externals, constants, nodes, outs)


def ir_from_nodes(var_types, nodes, n_inputs, outputs, constants=None) -> IRFunction:
    """IR from hand-written nodes: ``var_types`` lists ``(dtype, shape)``
    per vid; vids ``0..n_inputs-1`` are the inputs."""
    variables = {i: {"dtype": d, "shape": list(s)} for i, (d, s) in enumerate(var_types)}
    return IRFunction(variables, list(range(n_inputs)), dict(constants or {}), nodes, outputs)


def emit_function(name, fn: IRFunction) -> str:
    cx = EmitContext(fn.variables, fn.constants)
    lines = [f"int {name}(ag_buffer *B, ag_ws *ws, int nthreads, ag_error *err)", "{"]
    for node in fn.nodes:
        emitter = C_OPS[node["op"]]
        ins = [f"B[{v}]" for v in node["inputs"]]
        outs = [f"B[{v}]" for v in node["outputs"]]
        lines.append(f"    /* {node['op']} */")
        for v in node["outputs"]:
            lines.append(f"    B[{v}].dtype = {DTYPE_CODE[fn.variables[v]['dtype']]};")
        lines.append(emitter.shape(node, ins, outs, cx))
        if not emitter.view:
            for v in node["outputs"]:
                lines += [
                    "    {",
                    "        size_t nb_ = 0;",
                    f"        ag_set_contiguous(&B[{v}]);",
                    f'        int rc_ = ag_nbytes(&B[{v}], &nb_, "{node["op"]}", err);',
                    "        if (rc_) return rc_;",
                    f"        B[{v}].data = ag_ws_alloc(ws, nb_ ? nb_ : 1);",
                    f'        if (!B[{v}].data) return ag_fail(err, AG_ERR_MEMORY, "out of memory");',
                    "    }",
                ]
        lines.append(emitter.body(node, ins, outs, cx))
    lines += ["    return 0;", "}"]
    return "\n".join(lines)


ERRORS = {1: ValueError, 2: IndexError, 3: TypeError, 4: MemoryError, 5: RuntimeError}


class CompiledFunction:
    def __init__(self, lib, ffi, name, fn: IRFunction):
        self.lib, self.ffi, self.name, self.fn = lib, ffi, name, fn
        self.cfunc = getattr(lib, name)

    def __call__(self, *args, nthreads=1):
        fn, ffi = self.fn, self.ffi
        nvar = len(fn.variables)
        bufs = ffi.new("ag_buffer[]", max(nvar, 1))
        keep = []
        values = list(args) + [fn.constants[v] for v in fn.externals[len(args) :]]
        for vid, value in zip(fn.externals, values):
            arr = np.asarray(value)
            want = fn.variables[vid]["dtype"]
            assert arr.dtype.name == want, f"input {vid}: {arr.dtype} != {want}"
            keep.append(arr)
            b = bufs[vid]
            b.data = ffi.cast("void *", arr.ctypes.data)
            b.dtype = DTYPE_CODE[want]
            b.ndim = arr.ndim
            for d in range(arr.ndim):
                b.shape[d] = arr.shape[d]
                assert arr.strides[d] % arr.itemsize == 0
                b.strides[d] = arr.strides[d] // arr.itemsize
        ws = ffi.new("ag_ws *")
        err = ffi.new("ag_error *")
        self.lib.ag_ws_init(ws)
        try:
            rc = self.cfunc(bufs, ws, nthreads, err)
            if rc:
                msg = ffi.string(err.message).decode()
                raise ERRORS.get(rc, RuntimeError)(msg)
            return [self._read(bufs[v], fn.variables[v]["dtype"]) for v in fn.outputs]
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


# -fno-wrapv: Python's own CFLAGS carry -fwrapv, the real builds do not;
# the kernels must not rely on signed overflow wrapping.
COMPILE_ARGS = [
    "-fno-wrapv",
    "-fopenmp",
    "-fno-math-errno",
    "-std=gnu11",
    "-Werror=incompatible-pointer-types",
    "-Werror=implicit-function-declaration",
    "-Werror=int-conversion",
]


def _compile_part(job):
    """Compile one cffi module (run in a worker process); returns its path."""
    import cffi

    modname, source, cdef, tmpdir, opt = job
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    c_files = [f for f in C_SUPPORT_FILES if f.endswith(".c")]
    runtime = ["ag_runtime.c", "ag_workspace.c", "ag_threads.c"]
    ffi.set_source(
        modname,
        source,
        sources=[os.path.join(RUNTIME, f) for f in runtime + c_files],
        include_dirs=[RUNTIME],
        extra_compile_args=opt.split() + COMPILE_ARGS,
        extra_link_args=["-fopenmp"],
        libraries=["m", "dl"],
    )
    return ffi.compile(tmpdir=tmpdir, verbose=False)


def build_module(functions: dict, tmpdir, opt="-O1", blas=True, parts=2):
    """Compile ``{name: IRFunction}`` into ``parts`` cffi modules built in
    parallel (one per core); returns ``{name: CompiledFunction}``."""
    import concurrent.futures
    import multiprocessing

    names = sorted(functions)
    cname = {n: f"agt_{i}" for i, n in enumerate(names)}
    groups = [names[k::parts] for k in range(parts) if names[k::parts]]
    jobs = []
    for k, group in enumerate(groups):
        source = (
            C_PREAMBLE + "\n\n" + "\n\n".join(emit_function(cname[n], functions[n]) for n in group)
        )
        cdef = CDEF + "".join(
            f"int {cname[n]}(ag_buffer *B, ag_ws *ws, int nthreads, ag_error *err);\n"
            for n in group
        )
        part_dir = os.path.join(str(tmpdir), f"part{k}")
        os.makedirs(part_dir, exist_ok=True)
        jobs.append((f"_agtest_{uuid.uuid4().hex[:10]}", source, cdef, part_dir, opt))
    if len(jobs) > 1:
        ctx = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(len(jobs), mp_context=ctx) as pool:
            paths = list(pool.map(_compile_part, jobs))
    else:
        paths = [_compile_part(j) for j in jobs]
    result = {}
    for (modname, *_), path, group in zip(jobs, paths, groups):
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        sys.modules[modname] = mod
        if blas:
            load_blas(mod)
        result.update(
            {n: CompiledFunction(mod.lib, mod.ffi, cname[n], functions[n]) for n in group}
        )
    return result


def load_blas(mod):
    try:
        import scipy_openblas32
    except ImportError:
        return False
    err = mod.ffi.new("ag_error *")
    rc = mod.lib.ag_blas_load(scipy_openblas32.get_lib_dir().encode(), err)
    assert rc == 0, mod.ffi.string(err.message)
    return True


def reference(inputs, outputs, args):
    """The oracle: the reference interpreter on the same graph."""
    from aotgraph.function import interpret

    values = {v.uid: np.asarray(a) for v, a in zip(inputs, args)}
    return interpret(outputs, values, "reference")


def assert_same(got, want, rtol=1e-6, atol=0.0):
    """Equal dtype and shape; exact for integers and bools, close (NaN and
    infinities in the same places) for floats."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if got.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


# --- checks of the harness itself --------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    import aotgraph.tensor as at

    x = at.tensor("float64", shape=(None, None), name="x")
    fns = {
        "double": ir_from_graph([x], [x * 2.0]),
        "transpose": ir_from_graph([x], [x.T]),
    }
    return build_module(fns, tmp_path_factory.mktemp("harness"))


def test_harness_runs_and_reads_strided_views(small):
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(small["double"](a)[0], a * 2)
    got = small["transpose"](a)[0]
    np.testing.assert_array_equal(got, a.T)


def test_harness_reports_errors_as_exceptions(small):
    with pytest.raises(AssertionError):
        small["double"](np.zeros((2, 2), np.float32))
