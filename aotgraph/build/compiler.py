"""The compiler driver: cffi wrapper generation and platform-compiler runs.

The cffi wrapper (API mode) is generated with cffi's ``make_c_source``; the
wrapper, the generated unit and the runtime are compiled in parallel (one
process per source, up to the number of CPUs) and linked by the platform C
compiler (``$CC``, else Python's configured compiler) in the build
directory, with relative file names and ``-ffile-prefix-map`` so that no
path reaches the binary.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass, field

from aotgraph.errors import BuildError

#: Portable defaults: no -march=native (a module built here must not die
#: with SIGILL elsewhere), no -ffast-math (it breaks NaN/Inf handling).
BASE_FLAGS = (
    "-O3",
    "-fno-math-errno",
    "-fno-trapping-math",
    # The kernels branch to unit-stride loops themselves; gcc's extra stride
    # versioning of every strided loop made -O3 builds of the MLP 3x slower.
    "-fno-version-loops-for-strides",
    "-fPIC",
    "-fvisibility=hidden",
    "-std=gnu11",
    "-DNDEBUG",
    "-g0",
    "-Werror=implicit-function-declaration",
)
LINK_FLAGS = ("-shared", "-Wl,-Bsymbolic", "-lm", "-ldl")
BLAS_MODES = ("auto", "openblas", "none")

#: cffi declarations of the runtime shared by every module.
RUNTIME_CDEF = """
typedef struct ag_buffer {
    void *data;
    int32_t dtype;
    int32_t ndim;
    int64_t shape[16];
    int64_t strides[16];
} ag_buffer;
typedef struct ag_error {
    int32_t code;
    char message[512];
} ag_error;
void ag_free(void *p);
int ag_abi_version(void);
void ag_set_num_threads(int n);
int ag_get_num_threads(void);
"""
BLAS_CDEF = """
int ag_blas_load(const char *path, ag_error *err);
int ag_blas_loaded(void);
"""


@dataclass(frozen=True)
class BuildOptions:
    """How to compile: ``native`` adds -march=native, ``openmp`` -fopenmp,
    ``blas`` is auto (load scipy-openblas32 when installed), openblas
    (require it at build time) or none (built-in GEMM only)."""

    native: bool = False
    openmp: bool = True
    blas: str = "auto"
    extra_flags: tuple = field(default_factory=tuple)

    def __post_init__(self):
        if self.blas not in BLAS_MODES:
            raise BuildError(
                f"build: blas must be one of {', '.join(BLAS_MODES)}, got {self.blas!r}"
            )

    def flags(self) -> list:
        flags = list(BASE_FLAGS)
        if self.native:
            flags.append("-march=native")
        if self.openmp:
            flags.append("-fopenmp")
        if self.blas == "none":
            flags.append("-DAG_BLAS_NONE")
        return flags + list(self.extra_flags) + sanitizer_flags()


#: Sanitizers ``$AOTGRAPH_SANITIZE`` may name (comma-separated).
SANITIZERS = ("address", "undefined")


def sanitizer_names() -> list:
    """The sanitizers ``$AOTGRAPH_SANITIZE`` asks for (e.g. ``address,undefined``)."""
    names = [n.strip() for n in os.environ.get("AOTGRAPH_SANITIZE", "").split(",") if n.strip()]
    unknown = sorted(set(names) - set(SANITIZERS))
    if unknown:
        raise BuildError(
            f"AOTGRAPH_SANITIZE: unknown sanitizer(s) {', '.join(unknown)}; use a comma-separated "
            f"list of {', '.join(SANITIZERS)}"
        )
    return sorted(set(names))


def sanitizer_flags() -> list:
    """Compile and link flags of the sanitizer build mode (part of the cache
    key through the flags, so sanitized builds never mix with plain ones)."""
    names = sanitizer_names()
    if not names:
        return []
    # -O1: the sanitizers' recommended level (builds several times faster than -O3)
    return [f"-fsanitize={','.join(names)}", "-fno-omit-frame-pointer", "-O1"]


def sanitizer_env(env=None) -> dict:
    """Environment for a Python process that imports sanitized modules: the
    sanitizer runtimes must be loaded first (``LD_PRELOAD``), since the
    interpreter itself is not instrumented; leak checks are off (CPython
    keeps memory alive until exit)."""
    env = dict(os.environ if env is None else env)
    libs = {"address": "libasan.so", "undefined": "libubsan.so"}
    names = sanitizer_names()
    preload = []
    for name in names:
        if name == "undefined" and "address" in names:
            continue  # libasan brings the UBSan runtime along in gcc
        out = subprocess.run(
            compiler_command() + [f"-print-file-name={libs[name]}"], capture_output=True, text=True
        ).stdout.strip()
        if not os.path.isabs(out):
            raise BuildError(f"AOTGRAPH_SANITIZE: the compiler has no {libs[name]}")
        preload.append(out)
    if preload:
        env["LD_PRELOAD"] = " ".join(preload + [env.get("LD_PRELOAD", "")]).strip()
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0:exitcode=86")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


def compiler_command() -> list:
    """The C compiler as an argv prefix: ``$CC`` or Python's configured one."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    argv = shlex.split(cc)
    if not argv or shutil.which(argv[0]) is None:
        raise BuildError(
            f"no C compiler found (tried {cc!r}): install gcc or clang, or set CC "
            "to the compiler to use"
        )
    return argv


@functools.lru_cache(maxsize=8)
def _identity(argv: tuple) -> str:
    try:
        proc = subprocess.run(
            list(argv) + ["--version"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"cannot run the C compiler {argv[0]!r}: {exc}") from None
    if proc.returncode != 0:
        raise BuildError(
            f"the C compiler {' '.join(argv)!r} does not work ({proc.stderr.strip()[:300]}); "
            "set CC to a working compiler"
        )
    return proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else argv[0]


def compiler_identity() -> str:
    """``"<argv> | <first line of --version>"``: part of every cache key."""
    argv = tuple(compiler_command())
    return f"{' '.join(argv)} | {_identity(argv)}"


#: Preprocessor macros of x86 instruction-set extensions -> the flag naming
#: the same feature in Linux's /proc/cpuinfo (what a built module checks).
ISA_MACROS = {
    "__SSE3__": "pni",
    "__SSSE3__": "ssse3",
    "__SSE4_1__": "sse4_1",
    "__SSE4_2__": "sse4_2",
    "__POPCNT__": "popcnt",
    "__AVX__": "avx",
    "__AVX2__": "avx2",
    "__FMA__": "fma",
    "__F16C__": "f16c",
    "__BMI__": "bmi1",
    "__BMI2__": "bmi2",
    "__LZCNT__": "abm",
    "__MOVBE__": "movbe",
    "__AES__": "aes",
    "__PCLMUL__": "pclmulqdq",
    "__SHA__": "sha_ni",
    "__ADX__": "adx",
    "__RDRND__": "rdrand",
    "__RDSEED__": "rdseed",
    "__GFNI__": "gfni",
    "__VAES__": "vaes",
    "__VPCLMULQDQ__": "vpclmulqdq",
    "__AVXVNNI__": "avx_vnni",
    "__AVX512F__": "avx512f",
    "__AVX512CD__": "avx512cd",
    "__AVX512BW__": "avx512bw",
    "__AVX512DQ__": "avx512dq",
    "__AVX512VL__": "avx512vl",
    "__AVX512IFMA__": "avx512ifma",
    "__AVX512VBMI__": "avx512vbmi",
    "__AVX512VBMI2__": "avx512_vbmi2",
    "__AVX512VNNI__": "avx512_vnni",
    "__AVX512BITALG__": "avx512_bitalg",
    "__AVX512VPOPCNTDQ__": "avx512_vpopcntdq",
    "__AVX512BF16__": "avx512_bf16",
    "__AVX512FP16__": "avx512_fp16",
}


@functools.lru_cache(maxsize=16)
def _isa_features(argv: tuple, isa_flags: tuple) -> frozenset:
    """/proc/cpuinfo names of the ISA extensions the compiler may use with ``isa_flags``."""
    try:
        proc = subprocess.run(
            list(argv) + list(isa_flags) + ["-dM", "-E", "-x", "c", "-"],
            input="",
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"cannot run the C compiler {argv[0]!r}: {exc}") from None
    if proc.returncode != 0:
        raise BuildError(
            f"the C compiler rejected {' '.join(isa_flags)!r}: {proc.stderr.strip()[:300]}"
        )
    defined = {line.split()[1] for line in proc.stdout.splitlines() if line.startswith("#define ")}
    return frozenset(ISA_MACROS[m] for m in defined if m in ISA_MACROS)


def target_isa(flags) -> tuple:
    """``(description, required_features)`` of code built with ``flags``:
    the CPU features (/proc/cpuinfo names, sorted) the code may use beyond
    the compiler's baseline, e.g. ``("x86-64 (baseline)", [])`` or
    ``("x86-64 -march=native: avx, avx2, ...", ["avx", "avx2", ...])``."""
    import platform

    machine = platform.machine() or "unknown"
    x86 = machine.lower() in ("x86_64", "amd64")
    arch = "x86-64" if x86 else machine
    isa_flags = tuple(f for f in flags if f.startswith("-m") and f != "-m64")
    if not x86 or not isa_flags:
        return f"{arch} (baseline)", []
    argv = tuple(compiler_command())
    extra = sorted(_isa_features(argv, isa_flags) - _isa_features(argv, ()))
    if not extra:
        return f"{arch} (baseline)", []
    return f"x86-64 {' '.join(isa_flags)}: {', '.join(extra)}", extra


def python_include() -> str:
    return sysconfig.get_paths()["include"]


def extension_suffix() -> str:
    return ".abi3.so"


def cffi_wrapper(ext_name, cdef, headers) -> str:
    """The cffi API-mode wrapper source for the generated entry points."""
    import tempfile

    import cffi
    from cffi.recompiler import make_c_source

    ffi = cffi.FFI()
    ffi.cdef(cdef)
    with tempfile.TemporaryDirectory(prefix="aotgraph-cffi-") as tmp:
        path = os.path.join(tmp, "wrapper.c")
        source = "".join(f'#include "{h}"\n' for h in headers)
        make_c_source(ffi, ext_name, source, path, verbose=False)
        with open(path, encoding="utf-8") as f:
            return f.read()


def compile_extension(build_dir, sources, output, options: BuildOptions, verbose=False):
    """Compile ``sources`` (relative to ``build_dir``) to objects in parallel,
    then link them into ``output``.  Returns the commands run."""
    from concurrent.futures import ThreadPoolExecutor

    argv = compiler_command()
    build_dir = os.path.abspath(build_dir)
    common = (
        argv
        + options.flags()
        + [
            f"-ffile-prefix-map={build_dir}=.",
            f"-ffile-prefix-map={python_include()}=python-include",
            "-I.",
            f"-I{python_include()}",
        ]
    )
    objects = [os.path.splitext(src)[0] + ".o" for src in sources]
    compiles = [common + ["-c", src, "-o", obj] for src, obj in zip(sources, objects)]
    # the largest (generated) sources first, so they start at once
    compiles.sort(key=lambda cmd: -os.path.getsize(os.path.join(build_dir, cmd[-3])))
    workers = max(1, min(len(compiles), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda c: _run(c, build_dir, output, verbose), compiles))
    link = argv + options.flags() + objects + ["-o", output] + list(LINK_FLAGS)
    _run(link, build_dir, output, verbose)
    for obj in objects:
        os.remove(os.path.join(build_dir, obj))
    return compiles + [link]


def _run(cmd, build_dir, output, verbose):
    if verbose:
        print("aotgraph: " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    env = dict(os.environ)
    env.setdefault("LC_ALL", "C")
    try:
        proc = subprocess.run(cmd, cwd=build_dir, capture_output=True, text=True, env=env)
    except OSError as exc:
        raise BuildError(f"cannot run the C compiler {cmd[0]!r}: {exc}") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        shown = "\n".join(lines[:40]) + ("\n..." if len(lines) > 40 else "")
        raise BuildError(
            f"the C compiler failed (exit {proc.returncode}) building {output} in {build_dir}:\n"
            f"{shown}"
        )
    return cmd
