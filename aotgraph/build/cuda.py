"""Compiling CUDA kernel sources without a CUDA toolkit or a GPU.

NVRTC (``libnvrtc.so.12`` from the ``nvidia-cuda-nvrtc-cu12`` wheel,
loaded with ctypes) turns the kernel source into PTX for each virtual
architecture; ``ptxas`` (from ``nvidia-cuda-nvcc-cu12``) turns each PTX
into a cubin.  The result is one cubin per entry of :data:`CUDA_ARCHS`
plus the PTX of the newest, for the driver to JIT on newer GPUs.  With
``compiler="nvcc"`` the system ``nvcc`` (``$CUDA_HOME/bin`` or ``PATH``)
does both steps instead.  Outputs depend only on the source, the options
and the tool versions (no paths, no timestamps), so builds are
reproducible.

``$AOTGRAPH_NVRTC`` names another libnvrtc, ``$AOTGRAPH_PTXAS`` another
ptxas.

>>> sorted(CUDA_ARCHS)[:2]
[70, 75]
"""

from __future__ import annotations

import ctypes
import functools
import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field

from aotgraph.errors import BuildError

#: Real architectures that get a cubin (sm_70 Volta .. sm_90 Hopper).
CUDA_ARCHS = (70, 75, 80, 86, 89, 90)
_INSTALL_HINT = "install them with: pip install 'aotgraph[cuda]' (or the nvidia-cuda-nvrtc-cu12 and nvidia-cuda-nvcc-cu12 wheels)"


@dataclass
class CudaBinaries:
    """What a CUDA build embeds: cubins by sm, the PTX of ``ptx_sm``, and
    the identity of the tools that made them (part of the cache key)."""

    cubins: dict = field(default_factory=dict)
    ptx: str = ""
    ptx_sm: int = 0
    tools: str = ""

    def digest(self) -> str:
        h = hashlib.sha256(self.tools.encode())
        for sm in sorted(self.cubins):
            h.update(b"%d:" % sm + self.cubins[sm])
        h.update(self.ptx.encode())
        return h.hexdigest()


def _nvidia_dirs(sub):
    try:
        import nvidia
    except ImportError:
        return []
    return [os.path.join(p, sub) for p in getattr(nvidia, "__path__", [])]


@functools.lru_cache(maxsize=None)
def find_nvrtc() -> str:
    """Path of libnvrtc: ``$AOTGRAPH_NVRTC`` or the nvidia-cuda-nvrtc-cu12 wheel."""
    env = os.environ.get("AOTGRAPH_NVRTC")
    if env:
        return env
    for d in _nvidia_dirs("cuda_nvrtc"):
        hits = sorted(glob.glob(os.path.join(d, "lib", "libnvrtc.so.*")))
        if hits:
            return hits[0]
    raise BuildError(f"CUDA build: NVRTC (libnvrtc.so.12) not found; {_INSTALL_HINT}")


@functools.lru_cache(maxsize=None)
def find_ptxas() -> str:
    """Path of ptxas: ``$AOTGRAPH_PTXAS`` or the nvidia-cuda-nvcc-cu12 wheel."""
    env = os.environ.get("AOTGRAPH_PTXAS")
    if env:
        return env
    for d in _nvidia_dirs("cuda_nvcc"):
        path = os.path.join(d, "bin", "ptxas")
        if os.access(path, os.X_OK):
            return path
    raise BuildError(f"CUDA build: ptxas not found; {_INSTALL_HINT}")


def find_nvcc() -> str:
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    path = os.path.join(home, "bin", "nvcc") if home else shutil.which("nvcc")
    if not path or not os.access(path, os.X_OK):
        raise BuildError(
            "CUDA build: compiler='nvcc' was requested but no nvcc was found "
            "(set CUDA_HOME or put nvcc on PATH), or use compiler='nvrtc'"
        )
    return path


@functools.lru_cache(maxsize=None)
def _nvrtc_lib():
    lib = ctypes.CDLL(find_nvrtc())
    c_char_pp = ctypes.POINTER(ctypes.c_char_p)
    lib.nvrtcCreateProgram.argtypes = [
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_int,
        c_char_pp,
        c_char_pp,
    ]
    lib.nvrtcCompileProgram.argtypes = [ctypes.c_void_p, ctypes.c_int, c_char_pp]
    lib.nvrtcGetPTXSize.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
    lib.nvrtcGetPTX.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.nvrtcGetProgramLogSize.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
    lib.nvrtcGetProgramLog.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.nvrtcDestroyProgram.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.nvrtcGetErrorString.restype = ctypes.c_char_p
    lib.nvrtcVersion.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    return lib


def nvrtc_version() -> str:
    major, minor = ctypes.c_int(), ctypes.c_int()
    _nvrtc_lib().nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    return f"nvrtc {major.value}.{minor.value}"


def _strings(items):
    arr = (ctypes.c_char_p * max(len(items), 1))()
    for i, s in enumerate(items):
        arr[i] = s.encode()
    return arr


def nvrtc_ptx(source: str, sm: int, headers=None, options=()) -> str:
    """PTX of ``source`` for ``compute_<sm>``; ``headers`` maps include
    names to their text.  Raises BuildError with NVRTC's log on failure."""
    lib = _nvrtc_lib()
    headers = dict(sorted((headers or {}).items()))
    prog = ctypes.c_void_p()
    # 186: "pointless comparison of unsigned integer with zero" in the
    # generic integer helpers, instantiated for unsigned types on purpose.
    opts = [
        f"--gpu-architecture=compute_{sm}",
        "--std=c++17",
        "--fmad=true",
        "-diag-suppress=186",
        *options,
    ]
    if True:  # separate programs compile concurrently (NVRTC is thread-safe)
        rc = lib.nvrtcCreateProgram(
            ctypes.byref(prog),
            source.encode(),
            b"aotgraph_kernels.cu",
            len(headers),
            _strings(list(headers.values())),
            _strings(list(headers)),
        )
        if rc != 0:
            raise BuildError(
                f"CUDA build: nvrtcCreateProgram failed: {lib.nvrtcGetErrorString(rc).decode()}"
            )
        try:
            rc = lib.nvrtcCompileProgram(prog, len(opts), _strings(opts))
            size = ctypes.c_size_t()
            lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
            log = ctypes.create_string_buffer(size.value)
            lib.nvrtcGetProgramLog(prog, log)
            if rc != 0:
                shown = _log_excerpt(log.value.decode("utf-8", "replace"))
                raise BuildError(
                    f"CUDA build: NVRTC failed for compute_{sm} "
                    f"({lib.nvrtcGetErrorString(rc).decode()}):\n{shown}"
                )
            lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
            ptx = ctypes.create_string_buffer(size.value)
            lib.nvrtcGetPTX(prog, ptx)
            return ptx.value.decode()
        finally:
            lib.nvrtcDestroyProgram(ctypes.byref(prog))


def _log_excerpt(text, limit=40):
    """The error lines of a compiler log (with the line after each), else its start."""
    lines = text.strip().splitlines()
    picked = []
    for i, line in enumerate(lines):
        if "error" in line:
            picked += lines[i : i + 3]
    picked = picked or lines
    return "\n".join(picked[:limit]) + ("\n..." if len(picked) > limit else "")


def ptxas_cubin(ptx: str, sm: int) -> bytes:
    """The cubin of ``ptx`` for ``sm_<sm>`` (ptxas -O3)."""
    with tempfile.TemporaryDirectory(prefix="aotgraph-cuda-") as tmp:
        src, out = os.path.join(tmp, "k.ptx"), os.path.join(tmp, "k.cubin")
        with open(src, "w", encoding="utf-8") as f:
            f.write(ptx)
        _run([find_ptxas(), f"-arch=sm_{sm}", "-O3", src, "-o", out], f"ptxas for sm_{sm}")
        with open(out, "rb") as f:
            return f.read()


def _run(cmd, what):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"CUDA build: cannot run {what} ({cmd[0]}): {exc}") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise BuildError(
            f"CUDA build: {what} failed (exit {proc.returncode}):\n" + "\n".join(lines[:40])
        )
    return proc


@functools.lru_cache(maxsize=None)
def _tool_version(path) -> str:
    proc = _run([path, "--version"], os.path.basename(path))
    return proc.stdout.strip().splitlines()[-1]


def compile_cuda(
    source: str, headers=None, archs=CUDA_ARCHS, compiler="nvrtc", options=()
) -> CudaBinaries:
    """Cubins of ``source`` for every sm in ``archs`` plus the PTX of the
    newest.  ``compiler`` is ``"nvrtc"`` (wheels) or ``"nvcc"`` (system)."""
    archs = tuple(sorted(set(int(a) for a in archs)))
    if not archs:
        raise BuildError("CUDA build: no architectures requested")
    if compiler == "nvcc":
        return _compile_nvcc(source, headers or {}, archs, options)
    if compiler != "nvrtc":
        raise BuildError(f"CUDA build: compiler must be 'nvrtc' or 'nvcc', got {compiler!r}")
    from concurrent.futures import ThreadPoolExecutor

    out = CudaBinaries(tools=f"{nvrtc_version()} | {_tool_version(find_ptxas())}")

    def one(sm):  # NVRTC (ctypes releases the GIL) and ptxas run per arch in parallel
        ptx = nvrtc_ptx(source, sm, headers, options)
        return sm, ptx, ptxas_cubin(ptx, sm)

    with ThreadPoolExecutor(max_workers=max(1, min(len(archs), os.cpu_count() or 1))) as pool:
        for sm, ptx, cubin in pool.map(one, archs):
            out.cubins[sm] = cubin
            out.ptx, out.ptx_sm = ptx, sm
    return out


def _compile_nvcc(source, headers, archs, options) -> CudaBinaries:
    nvcc = find_nvcc()
    out = CudaBinaries(tools=_tool_version(nvcc))
    with tempfile.TemporaryDirectory(prefix="aotgraph-nvcc-") as tmp:
        for name, text in headers.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        with open(os.path.join(tmp, "k.cu"), "w", encoding="utf-8") as f:
            f.write(source)
        base = [nvcc, "-std=c++17", "-O3", "-I.", *options]
        for sm in archs:
            _run_in(
                base + ["-cubin", f"-arch=sm_{sm}", "k.cu", "-o", "k.cubin"], tmp, f"nvcc sm_{sm}"
            )
            with open(os.path.join(tmp, "k.cubin"), "rb") as f:
                out.cubins[sm] = f.read()
        _run_in(
            base + ["-ptx", f"-arch=compute_{archs[-1]}", "k.cu", "-o", "k.ptx"], tmp, "nvcc ptx"
        )
        with open(os.path.join(tmp, "k.ptx"), encoding="utf-8") as f:
            out.ptx, out.ptx_sm = f.read(), archs[-1]
    return out


def _run_in(cmd, cwd, what):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"CUDA build: {what} failed:\n{(proc.stderr or proc.stdout)[:4000]}")


def image_c_source(symbol: str, module_name: str, binaries: CudaBinaries) -> str:
    """C definition of the ``ag_cu_image`` named ``symbol`` embedding the
    cubins and the PTX (small: tens of KB, so plain array literals)."""
    lines = ['#include "ag_cuda.h"']
    sms = sorted(binaries.cubins)
    for sm in sms:
        data = binaries.cubins[sm]
        body = ",".join(str(b) for b in data)
        lines.append(
            f"static const unsigned char {symbol}_sm{sm}[{max(len(data), 1)}] = {{{body}}};"
        )
    ptx = binaries.ptx.encode() + b"\0"
    lines.append(
        f"static const char {symbol}_ptx[{len(ptx)}] = {{{','.join(str(b) for b in ptx)}}};"
    )
    lines.append(
        f"static const int32_t {symbol}_sms[{max(len(sms), 1)}] = {{{', '.join(map(str, sms)) or '0'}}};"
    )
    lines.append(
        f"static const unsigned char *const {symbol}_cubins[{max(len(sms), 1)}] = "
        f"{{{', '.join(f'{symbol}_sm{sm}' for sm in sms) or '0'}}};"
    )
    sizes = ", ".join(f"{len(binaries.cubins[sm])}u" for sm in sms) or "0"
    lines.append(f"static const uint64_t {symbol}_sizes[{max(len(sms), 1)}] = {{{sizes}}};")
    lines.append(
        f'ag_cu_image {symbol} = {{"{module_name}", {len(sms)}, {symbol}_sms, '
        f"{symbol}_cubins, {symbol}_sizes, {symbol}_ptx, {binaries.ptx_sm}, 0}};"
    )
    return "\n".join(lines) + "\n"


# --- in-process cuda functions (ag.function(..., target="cuda")) ------------------

_HOST_PRELUDE = '#include "ag_cuda.h"\n#define AG_CU_IMAGE (&ag_cu_image_main)\nextern ag_cu_image ag_cu_image_main;\n'
_LOADED = {}
_LOADED_LOCK = threading.Lock()


def emulation_requested() -> bool:
    """``$AOTGRAPH_CUDA_EMULATION=1`` runs cuda functions through the CPU
    emulation (runtime_c/ag_cuda_emul.h) instead of the driver: slow, for tests."""
    return os.environ.get("AOTGRAPH_CUDA_EMULATION", "") not in ("", "0")


def compile_cuda_in_process(fgraph, allow_input_downcast=False, compiler="nvrtc"):
    """A :class:`~aotgraph.function.Function` running ``fgraph`` on the GPU.

    Kernels are compiled at once (NVRTC + ptxas, or the emulation); the
    driver is opened at the first call, which raises RuntimeError naming
    what is missing when there is no driver or GPU."""
    from aotgraph.emit.cuda_function import emit_cuda_function, unsupported
    from aotgraph.function import Function
    from aotgraph.ir import dump_ir, load_ir, module_to_ir

    doc, blobs = module_to_ir("_agcuda", {"function": fgraph}, {}, embed_shared=False)
    ir = load_ir(dump_ir(doc), blobs, verify_blobs=False)
    fir = ir.functions["function"]
    problems = unsupported(fir)
    if problems:
        raise BuildError(
            f"function {fgraph.name}: cannot compile for target 'cuda': "
            + "; ".join(problems)
            + " (use target='cpu')"
        )
    host, kernels = emit_cuda_function("ag_cuda_entry", fir, ir)
    lib, ffi = _build_library(host, kernels, compiler)
    runner = _CudaRunner(lib, ffi, fir, fgraph.name)
    fn = Function(fgraph, "cuda", allow_input_downcast, backend=runner)
    return fn


def _build_library(host, kernels, compiler, entries=("ag_cuda_entry",), out_path=None):
    from aotgraph.build.compiler import compiler_command
    from aotgraph.build.package import runtime_c_dir
    from aotgraph.emit.c_ops import C_PREAMBLE
    from aotgraph.emit.cuda_function import HOST_HELPERS
    from aotgraph.emit.cuda_ops import emulation_sources, kernel_source

    emulate = emulation_requested()
    rt = runtime_c_dir()
    sources = {"host.c": C_PREAMBLE + _HOST_PRELUDE + HOST_HELPERS + host}
    if emulate:
        units = emulation_sources(kernels, parts=1)
        sources.update({f"kernels{i}.cpp": u for i, u in enumerate(units)})
        sources["image.c"] = (
            '#include "ag_cuda.h"\nag_cu_image ag_cu_image_main = {"emulation", 0, 0, 0, 0, 0, 0, 0};\n'
        )
    else:
        with open(os.path.join(rt, "ag_cuda.h"), encoding="utf-8") as f:
            binaries = compile_cuda(
                kernel_source(kernels), {"ag_cuda.h": f.read()}, compiler=compiler
            )
        sources["image.c"] = image_c_source("ag_cu_image_main", "aotgraph", binaries)
    key = hashlib.sha256(repr((sorted(sources.items()), emulate)).encode()).hexdigest()[:24]
    with _LOADED_LOCK:
        if key in _LOADED and out_path is None:
            return _LOADED[key]
        tmp = tempfile.mkdtemp(prefix="aotgraph-cudafn-")
        for name, text in sources.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        cc = compiler_command()
        flags = ["-O2", "-fPIC", "-fno-math-errno", "-g0", f"-I{rt}", f"-ffile-prefix-map={tmp}=."]
        objs = []
        runtime = ["ag_runtime.c", "ag_workspace.c", "ag_threads.c"]
        runtime += [] if emulate else ["ag_cuda.c"]
        c_files = ["host.c", "image.c"] + [os.path.join(rt, r) for r in runtime]
        for i, src in enumerate(c_files):
            _run_in(cc + ["-std=gnu11", *flags, "-c", src, "-o", f"c{i}.o"], tmp, f"cc {src}")
            objs.append(f"c{i}.o")
        link = cc + ["-shared"]
        if emulate:
            for name in sorted(n for n in sources if n.endswith(".cpp")):
                obj = name[:-4] + ".o"
                _run_in(
                    ["g++", "-std=c++17", "-pthread", *flags, "-c", name, "-o", obj],
                    tmp,
                    "g++ (CUDA emulation)",
                )
                objs.append(obj)
            link = ["g++", "-shared", "-pthread"]
        _run_in(link + objs + ["-o", "libagcuda.so", "-ldl", "-lm", "-lpthread"], tmp, "link")
        if out_path is not None:
            shutil.copyfile(os.path.join(tmp, "libagcuda.so"), out_path)
            shutil.rmtree(tmp, ignore_errors=True)
            return None
        import cffi

        ffi = cffi.FFI()
        ffi.cdef(cuda_cdef(entries))
        lib = ffi.dlopen(os.path.join(tmp, "libagcuda.so"))
        _LOADED[key] = (lib, ffi)
        return lib, ffi


def cuda_cdef(entries) -> str:
    """cffi declarations of a cuda library with these entry points."""
    return CUDA_CDEF + "".join(f"int {e}(ag_buffer *io, ag_error *err);\n" for e in entries)


CUDA_CDEF = """
typedef struct ag_buffer { void *data; int32_t dtype; int32_t ndim;
    int64_t shape[16]; int64_t strides[16]; } ag_buffer;
typedef struct ag_error { int32_t code; char message[512]; } ag_error;
void ag_free(void *p);
"""
_ERRORS = {1: ValueError, 2: IndexError, 3: TypeError, 4: MemoryError, 5: RuntimeError}


class _CudaRunner:
    """Calls the entry with numpy inputs; returns numpy outputs."""

    def __init__(self, lib, ffi, fir, name, entry="ag_cuda_entry"):
        self.lib, self.ffi, self.fir, self.name = lib, ffi, fir, name
        self.entry = getattr(lib, entry)

    def __call__(self, arrays):
        import numpy as np

        from aotgraph.emit.cuda_function import DTYPE_CODE

        ffi, fir = self.ffi, self.fir
        n_in, n_out = len(fir.inputs), len(fir.outputs)
        io = ffi.new("ag_buffer[]", max(n_in + n_out, 1))
        keep = []
        for i, arr in enumerate(arrays):
            arr = np.ascontiguousarray(arr)
            keep.append(arr)
            io[i].data = ffi.cast("void *", arr.ctypes.data)
            io[i].dtype = DTYPE_CODE[arr.dtype.name]
            io[i].ndim = arr.ndim
            for d, n in enumerate(arr.shape):
                io[i].shape[d] = n
        err = ffi.new("ag_error *")
        rc = self.entry(io, err)
        try:
            if rc:
                msg = ffi.string(err.message).decode("utf-8", "replace")
                raise _ERRORS.get(rc, RuntimeError)(f"{self.name}: {msg}")
            outs = [
                self._take(io[n_in + j], fir.vars[v]["dtype"]) for j, v in enumerate(fir.outputs)
            ]
        finally:
            for j in range(n_out):
                if io[n_in + j].data != ffi.NULL:
                    self.lib.ag_free(io[n_in + j].data)
        return outs[0] if fir.single_output else outs

    def _take(self, b, dtype):
        import numpy as np

        shape = tuple(b.shape[d] for d in range(b.ndim))
        n = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        data = bytes(self.ffi.buffer(b.data, n)) if n else b""
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


# --- the cuda part of a built package (--target cpu,cuda) ---------------------

_PACKAGE_CUDA = """\
\"\"\"CUDA versions of this module's functions (generated by aotgraph).

Importing this needs no GPU: the NVIDIA driver (libcuda.so.1) is opened at
the first call, which raises RuntimeError naming what is missing.
Inputs are numpy arrays (copied to the device); outputs are numpy arrays.
\"\"\"
import json as _json
import os as _os

import numpy as _np
import cffi as _cffi

_ffi = _cffi.FFI()
_ffi.cdef({cdef!r})
_lib = _ffi.dlopen(_os.path.join(_os.path.dirname(__file__), {lib!r}))
_SPECS = _json.loads({specs!r})
_ERRORS = {{1: ValueError, 2: IndexError, 3: TypeError, 4: MemoryError, 5: RuntimeError}}
_CODES = {codes!r}


def _call(name, *args):
    spec = _SPECS[name]
    if len(args) != len(spec["inputs"]):
        raise TypeError(f"{{name}}: expected {{len(spec['inputs'])}} inputs, got {{len(args)}}")
    n_in, n_out = len(spec["inputs"]), len(spec["outputs"])
    io = _ffi.new("ag_buffer[]", max(n_in + n_out, 1))
    keep = []
    for i, (arg, (iname, dtype, shape)) in enumerate(zip(args, spec["inputs"])):
        arr = _np.ascontiguousarray(arg)
        if arr.dtype.name != dtype or arr.ndim != len(shape) or any(
                s is not None and s != n for s, n in zip(shape, arr.shape)):
            raise TypeError(f"{{name}}: input {{iname}} must be {{dtype}} of shape {{shape}}, got "
                            f"{{arr.dtype}} of shape {{arr.shape}}")
        keep.append(arr)
        io[i].data = _ffi.cast("void *", arr.ctypes.data)
        io[i].dtype = _CODES[dtype]
        io[i].ndim = arr.ndim
        for d, n in enumerate(arr.shape):
            io[i].shape[d] = n
    err = _ffi.new("ag_error *")
    rc = getattr(_lib, "ag_cuda_" + name)(io, err)
    try:
        if rc:
            msg = _ffi.string(err.message).decode("utf-8", "replace")
            raise _ERRORS.get(rc, RuntimeError)(f"{{name}} (cuda): {{msg}}")
        outs = []
        for j, dtype in enumerate(spec["outputs"]):
            b = io[n_in + j]
            shape = tuple(b.shape[d] for d in range(b.ndim))
            nbytes = int(_np.prod(shape, dtype=_np.int64)) * _np.dtype(dtype).itemsize
            data = bytes(_ffi.buffer(b.data, nbytes)) if nbytes else b""
            outs.append(_np.frombuffer(data, dtype=dtype).reshape(shape).copy())
    finally:
        for j in range(n_out):
            if io[n_in + j].data != _ffi.NULL:
                _lib.ag_free(io[n_in + j].data)
    return outs[0] if spec["single"] else outs

{functions}
"""


def build_cuda_package_part(module, pkg_dir, compiler="nvrtc"):
    """Write ``pkg_dir/cuda.py`` and its library: the module's functions on
    the GPU (``import pkg.cuda``).  Functions the cuda target cannot run
    yet are left out with a BuildError listing why when none can."""
    import json

    from aotgraph.build import module_ir
    from aotgraph.emit.cuda_function import DTYPE_CODE, emit_cuda_function, unsupported

    ir, _ = module_ir(module)
    hosts, kernels, specs, skipped = [], [], {}, {}
    for name, fir in ir.functions.items():
        problems = unsupported(fir)
        if problems:
            skipped[name] = problems
            continue
        host, ks = emit_cuda_function(f"ag_cuda_{name}", fir, ir)
        hosts.append(host)
        kernels += ks
        specs[name] = {
            "inputs": [
                [fir.vars[v].get("name", v), fir.vars[v]["dtype"], fir.vars[v]["shape"]]
                for v in fir.inputs
            ],
            "outputs": [fir.vars[v]["dtype"] for v in fir.outputs],
            "single": fir.single_output,
        }
    if not specs:
        raise BuildError(
            f"module {module.name}: no function can be built for --target cuda: "
            + "; ".join(f"{n}: {', '.join(p)}" for n, p in sorted(skipped.items()))
        )
    lib_name = "_aotgraph_cuda.so"
    _build_library("\n\n".join(hosts), kernels, compiler, out_path=os.path.join(pkg_dir, lib_name))
    funcs = "\n\n".join(
        f'def {n}(*args):\n    """{n} on the GPU."""\n    return _call({n!r}, *args)\n'
        for n in sorted(specs)
    )
    text = _PACKAGE_CUDA.format(
        cdef=cuda_cdef([f"ag_cuda_{n}" for n in sorted(specs)]),
        lib=lib_name,
        specs=json.dumps(specs, sort_keys=True),
        codes=DTYPE_CODE,
        functions=funcs,
    )
    with open(os.path.join(pkg_dir, "cuda.py"), "w", encoding="utf-8") as f:
        f.write(text)
    return skipped
