"""Check aotgraph's CUDA target on a machine WITH an NVIDIA GPU.

    python benchmarks/gpu_check.py [--repeat N] [--size N]

No machine of the project has a GPU, so this is the script a user runs to
verify correctness and timing on the device.  For each workload it builds
``ag.function(..., target="cuda")`` (kernels compiled by NVRTC + ptxas
from the pip wheels: ``pip install 'aotgraph[cuda]'``), compares the
result with numpy (float32 within 1e-4 relative, float64 within 1e-10),
and times it against numpy and, when installed, CuPy (the numpy reference
functions run unchanged on CuPy arrays; torch would need its own versions
of them and is not timed yet).
Times include host->device and device->host copies for aotgraph (inputs
are numpy arrays), as for the numpy baseline; CuPy and torch are timed on
device-resident arrays (its best case).  Exit status 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _workloads(n):
    import aotgraph.tensor as at

    rng = np.random.default_rng(0)
    x = at.tensor("float32", shape=(None, None), name="x")
    w = at.tensor("float32", shape=(None, None), name="w")
    b = at.tensor("float32", shape=(None,), name="b")
    xd = at.tensor("float64", shape=(None, None), name="xd")
    X = rng.standard_normal((n, n)).astype("float32")
    W = (rng.standard_normal((n, n)) / np.sqrt(n)).astype("float32")
    B = rng.standard_normal(n).astype("float32")

    def np_softmax(a):
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return [
        (
            "elementwise tanh(x)*x+1",
            [x],
            lambda: at.tanh(x) * x + 1.0,
            (X,),
            lambda a: np.tanh(a) * a + 1,
        ),
        ("sum over rows", [x], lambda: at.sum(x, axis=1), (X,), lambda a: a.sum(axis=1)),
        ("max over all", [x], lambda: at.max(x), (X,), lambda a: a.max()),
        ("softmax", [x], lambda: at.nnet.softmax(x), (X,), np_softmax),
        (
            "log_softmax",
            [x],
            lambda: at.nnet.log_softmax(x),
            (X,),
            lambda a: np.log(np_softmax(a.astype("float64"))).astype("float32"),
        ),
        (
            "gemm + bias + tanh",
            [x, w, b],
            lambda: at.tanh(x @ w + b),
            (X, W, B),
            lambda a, c, d: np.tanh(a @ c + d),
        ),
        ("float64 matmul", [xd], lambda: xd @ xd.T, (X.astype("float64"),), lambda a: a @ a.T),
    ]


def _time(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _peers():
    peers = {}
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            peers["cupy"] = cupy
    except Exception:
        pass
    return peers


def _peer_time(lib_name, lib, np_fn, args, repeat):
    """Time the numpy reference code on CuPy device arrays."""
    dev = [lib.asarray(a) for a in args]
    return _time(lambda: (np_fn(*dev), lib.cuda.Device().synchronize()), repeat)  # noqa: B023


def main(argv=None) -> int:
    import aotgraph as ag

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args(argv)
    peers = _peers()
    failures = 0
    print(
        f"{'workload':28s} {'ok':>4s} {'aotgraph ms':>12s} {'numpy ms':>10s} "
        + " ".join(f"{p + ' ms':>10s}" for p in peers)
    )
    for name, ins, build, values, np_fn in _workloads(args.size):
        try:
            fn = ag.function(ins, build(), target="cuda")
            got = fn(*values)
        except RuntimeError as exc:
            print(f"cannot run on the GPU: {exc}")
            return 2
        want = np_fn(*values)
        tol = 1e-4 if np.asarray(want).dtype == np.float32 else 1e-10
        ok = np.allclose(got, want, rtol=tol, atol=tol * 10)
        failures += not ok
        t_ag = _time(lambda f=fn, v=values: f(*v), args.repeat) * 1e3
        t_np = _time(lambda f=np_fn, v=values: f(*v), args.repeat) * 1e3
        cols = []
        for pname, lib in peers.items():
            t = None
            if pname == "cupy":
                try:
                    t = _peer_time(pname, lib, np_fn, values, args.repeat)
                except Exception:
                    t = None
            cols.append(f"{t * 1e3:10.3f}" if t else f"{'-':>10s}")
        print(f"{name:28s} {'yes' if ok else 'NO':>4s} {t_ag:12.3f} {t_np:10.3f} " + " ".join(cols))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
