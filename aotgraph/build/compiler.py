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
            raise BuildError(f"build: blas must be one of {', '.join(BLAS_MODES)}, got {self.blas!r}")

    def flags(self) -> list:
        flags = list(BASE_FLAGS)
        if self.native:
            flags.append("-march=native")
        if self.openmp:
            flags.append("-fopenmp")
        if self.blas == "none":
            flags.append("-DAG_BLAS_NONE")
        return flags + list(self.extra_flags)


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
    common = argv + options.flags() + [
        f"-ffile-prefix-map={build_dir}=.",
        f"-ffile-prefix-map={python_include()}=python-include",
        "-I.",
        f"-I{python_include()}",
    ]
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
