"""Time runtime_c/ag_math.h's float32 functions against numpy and a libm loop.

Usage:  python benchmarks/vecmath_bench.py [--n 10000000] [--repeat 7] [--avx2]

Each function runs over n float32 elements three ways: the ag_ loop, numpy's
ufunc (writing into a preallocated array) and the same plain loop calling
glibc's scalar function (expf, tanhf, ...), compiled with the same flags as
the ag_ loop.  The three are run alternately within each repetition (this
VM's clock speed drifts), and the table shows medians and ratios.
"""

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RUNTIME_C = Path(__file__).resolve().parents[1] / "runtime_c"
BASE_FLAGS = ["-O3", "-fno-math-errno"]

# name -> (libm C expression of x, input range)
FUNCS = {
    "exp": ("expf(x)", (-80.0, 80.0)),
    "log": ("logf(x)", (1e-6, 1e6)),
    "log1p": ("log1pf(x)", (-0.99, 100.0)),
    "expm1": ("expm1f(x)", (-20.0, 20.0)),
    "tanh": ("tanhf(x)", (-10.0, 10.0)),
    "sigmoid": ("1.0f / (1.0f + expf(-x))", (-20.0, 20.0)),
    "softplus": ("x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x))", (-20.0, 20.0)),
    "erf": ("erff(x)", (-5.0, 5.0)),
    "erfc": ("erfcf(x)", (-5.0, 10.0)),
}


def build(flags):
    import cffi

    ffi = cffi.FFI()
    cdef, src = [], ['#include "ag_math.h"']
    for name, (expr, _) in FUNCS.items():
        for kind, body in (("loop_ag", f"ag_{name}f(x)"), ("loop_libm", expr)):
            cdef.append(f"void {kind}_{name}(const float *, float *, size_t);")
            src.append(
                f"void {kind}_{name}(const float *restrict xs, float *restrict ys, "
                f"size_t n) {{ for (size_t i = 0; i < n; i++) "
                f"{{ float x = xs[i]; ys[i] = {body}; }} }}"
            )
    ffi.cdef("\n".join(cdef))
    ffi.set_source(
        "_ag_vecmath_bench",
        "\n".join(src) + "\n",
        include_dirs=[str(RUNTIME_C)],
        extra_compile_args=flags,
        libraries=["m"],
    )
    tmp = tempfile.mkdtemp(prefix="ag_vecmath_bench_")
    path = ffi.compile(tmpdir=tmp)
    spec = importlib.util.spec_from_file_location("_ag_vecmath_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.ffi, mod.lib


def numpy_versions():
    try:
        from scipy import special
    except ImportError:
        special = None

    def sigmoid(x, out):
        np.negative(x, out=out)
        np.exp(out, out=out)
        out += 1.0
        np.reciprocal(out, out=out)

    return {
        "exp": lambda x, out: np.exp(x, out=out),
        "log": lambda x, out: np.log(x, out=out),
        "log1p": lambda x, out: np.log1p(x, out=out),
        "expm1": lambda x, out: np.expm1(x, out=out),
        "tanh": lambda x, out: np.tanh(x, out=out),
        "sigmoid": sigmoid,
        "softplus": lambda x, out: np.logaddexp(np.float32(0), x, out=out),
        "erf": (lambda x, out: special.erf(x, out=out)) if special else None,
        "erfc": (lambda x, out: special.erfc(x, out=out)) if special else None,
    }


def runners(ffi, lib, name, numpy_fn, x, y):
    """Zero-argument callables computing f(x) into y, keyed by implementation."""
    px = ffi.cast("float *", ffi.from_buffer(x))
    py = ffi.cast("float *", ffi.from_buffer(y))
    ag_loop, libm_loop = getattr(lib, f"loop_ag_{name}"), getattr(lib, f"loop_libm_{name}")
    runs = {"ag": lambda: ag_loop(px, py, x.size), "libm": lambda: libm_loop(px, py, x.size)}
    if numpy_fn is not None:
        runs["numpy"] = lambda: numpy_fn(x, y)
    return runs


def seconds(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--avx2", action="store_true", help="also pass -mavx2 -mfma")
    args = ap.parse_args(argv)
    flags = BASE_FLAGS + (["-mavx2", "-mfma"] if args.avx2 else [])
    ffi, lib = build(flags)
    numpy_fns = numpy_versions()
    rng = np.random.default_rng(0)
    y = np.empty(args.n, dtype=np.float32)
    print(
        f"n = {args.n:.0e} float32, flags: {' '.join(flags)}, median of {args.repeat}; "
        f"numpy {np.__version__}, python {sys.version.split()[0]}"
    )
    header = (
        f"{'function':<10}{'ag ms':>9}{'numpy ms':>10}{'libm ms':>9}{'numpy/ag':>10}{'libm/ag':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, (_, (lo, hi)) in FUNCS.items():
        x = rng.uniform(lo, hi, args.n).astype(np.float32)
        runs = runners(ffi, lib, name, numpy_fns[name], x, y)
        times = {k: [] for k in runs}
        for fn in runs.values():
            fn()  # warm up: page in y, load code
        for _ in range(args.repeat):
            for k, fn in runs.items():
                times[k].append(seconds(fn))
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        ag = med["ag"]
        npy = med.get("numpy")
        npy_s = f"{npy:>10.1f}" if npy is not None else f"{'n/a':>10}"
        ratio_s = f"{npy / ag:>10.2f}" if npy is not None else f"{'n/a':>10}"
        print(f"{name:<10}{ag:>9.1f}{npy_s}{med['libm']:>9.1f}{ratio_s}{med['libm'] / ag:>9.2f}")


if __name__ == "__main__":
    main()
