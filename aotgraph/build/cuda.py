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
_NVRTC_LOCK = threading.Lock()


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
        raise BuildError("CUDA build: compiler='nvcc' was requested but no nvcc was found "
                         "(set CUDA_HOME or put nvcc on PATH), or use compiler='nvrtc'")
    return path


@functools.lru_cache(maxsize=None)
def _nvrtc_lib():
    lib = ctypes.CDLL(find_nvrtc())
    c_char_pp = ctypes.POINTER(ctypes.c_char_p)
    lib.nvrtcCreateProgram.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p,
                                       ctypes.c_char_p, ctypes.c_int, c_char_pp, c_char_pp]
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
    opts = [f"--gpu-architecture=compute_{sm}", "--std=c++17", "--fmad=true",
            "-diag-suppress=186", *options]
    with _NVRTC_LOCK:
        rc = lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), b"aotgraph_kernels.cu",
                                    len(headers), _strings(list(headers.values())),
                                    _strings(list(headers)))
        if rc != 0:
            raise BuildError(f"CUDA build: nvrtcCreateProgram failed: {lib.nvrtcGetErrorString(rc).decode()}")
        try:
            rc = lib.nvrtcCompileProgram(prog, len(opts), _strings(opts))
            size = ctypes.c_size_t()
            lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
            log = ctypes.create_string_buffer(size.value)
            lib.nvrtcGetProgramLog(prog, log)
            if rc != 0:
                shown = _log_excerpt(log.value.decode("utf-8", "replace"))
                raise BuildError(f"CUDA build: NVRTC failed for compute_{sm} "
                                 f"({lib.nvrtcGetErrorString(rc).decode()}):\n{shown}")
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
            picked += lines[i:i + 3]
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
        raise BuildError(f"CUDA build: {what} failed (exit {proc.returncode}):\n" + "\n".join(lines[:40]))
    return proc


@functools.lru_cache(maxsize=None)
def _tool_version(path) -> str:
    proc = _run([path, "--version"], os.path.basename(path))
    return proc.stdout.strip().splitlines()[-1]


def compile_cuda(source: str, headers=None, archs=CUDA_ARCHS, compiler="nvrtc",
                 options=()) -> CudaBinaries:
    """Cubins of ``source`` for every sm in ``archs`` plus the PTX of the
    newest.  ``compiler`` is ``"nvrtc"`` (wheels) or ``"nvcc"`` (system)."""
    archs = tuple(sorted(set(int(a) for a in archs)))
    if not archs:
        raise BuildError("CUDA build: no architectures requested")
    if compiler == "nvcc":
        return _compile_nvcc(source, headers or {}, archs, options)
    if compiler != "nvrtc":
        raise BuildError(f"CUDA build: compiler must be 'nvrtc' or 'nvcc', got {compiler!r}")
    out = CudaBinaries(tools=f"{nvrtc_version()} | {_tool_version(find_ptxas())}")
    for sm in archs:
        ptx = nvrtc_ptx(source, sm, headers, options)
        out.cubins[sm] = ptxas_cubin(ptx, sm)
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
            _run_in(base + ["-cubin", f"-arch=sm_{sm}", "k.cu", "-o", "k.cubin"], tmp, f"nvcc sm_{sm}")
            with open(os.path.join(tmp, "k.cubin"), "rb") as f:
                out.cubins[sm] = f.read()
        _run_in(base + ["-ptx", f"-arch=compute_{archs[-1]}", "k.cu", "-o", "k.ptx"], tmp, "nvcc ptx")
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
        lines.append(f"static const unsigned char {symbol}_sm{sm}[{max(len(data), 1)}] = {{{body}}};")
    ptx = binaries.ptx.encode() + b"\0"
    lines.append(f"static const char {symbol}_ptx[{len(ptx)}] = {{{','.join(str(b) for b in ptx)}}};")
    lines.append(f"static const int32_t {symbol}_sms[{max(len(sms), 1)}] = {{{', '.join(map(str, sms)) or '0'}}};")
    lines.append(f"static const unsigned char *const {symbol}_cubins[{max(len(sms), 1)}] = "
                 f"{{{', '.join(f'{symbol}_sm{sm}' for sm in sms) or '0'}}};")
    sizes = ", ".join(f"{len(binaries.cubins[sm])}u" for sm in sms) or "0"
    lines.append(f"static const uint64_t {symbol}_sizes[{max(len(sms), 1)}] = {{{sizes}}};")
    lines.append(f"ag_cu_image {symbol} = {{\"{module_name}\", {len(sms)}, {symbol}_sms, "
                 f"{symbol}_cubins, {symbol}_sizes, {symbol}_ptx, {binaries.ptx_sm}, 0}};")
    return "\n".join(lines) + "\n"
