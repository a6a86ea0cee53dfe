"""aotgraph next to its peers, measured in one process run.

    python benchmarks/run.py [--quick] [--only W1,W2] [--markdown FILE]

Each workload is timed for aotgraph and for every peer that imports
(numpy, PyTensor default and C backends, JAX on the CPU, PyTorch on the
CPU), alternating between systems round by round, with warm-ups, and the
medians are printed with the ratio aotgraph/peer.  A peer that does not
import is listed as missing.  The machine's CPU speed drifts, so only
ratios measured in the same run mean anything.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import workloads  # noqa: E402


def timed_rounds(candidates, rounds, inner):
    """Median seconds per call for each candidate, interleaved round by round."""
    samples = {name: [] for name in candidates}
    for fn in candidates.values():  # warm-up (compiles, caches)
        fn()
        fn()
    for _ in range(rounds):
        for name, fn in candidates.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - t0) / inner)
    return {name: statistics.median(s) for name, s in samples.items()}


def fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:9.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:9.2f} ms"
    return f"{seconds:9.2f} s "


def environment():
    info = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "numpy": np.__version__,
    }
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = "; ".join(
            f"{p.get('internal_api')} {p.get('num_threads')} threads" for p in threadpool_info()
        )
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    try:
        load = os.getloadavg()[0]
        info["load"] = f"{load:.1f}" + (" (busy machine: ratios unreliable)" if load > 1.5 else "")
    except OSError:
        pass
    for var in (
        "OMP_NUM_THREADS",
        "OMP_WAIT_POLICY",
        "OPENBLAS_NUM_THREADS",
        "OPENBLAS_CORETYPE",
        "AOTGRAPH_NUM_THREADS",
    ):
        if var in os.environ:
            info[var] = os.environ[var]
    return info


def run_workload(wl, quick):
    systems, missing = {}, {}
    for peer, builder in wl.peers.items():
        try:
            systems[peer] = builder()
        except workloads.Missing as exc:
            missing[peer] = str(exc)
        except Exception as exc:  # a peer failing must not hide the others
            missing[peer] = f"failed: {type(exc).__name__}: {exc}"[:160]
    if "aotgraph" not in systems:
        return None, missing
    rounds = 5 if quick else wl.rounds
    medians = timed_rounds(systems, rounds, wl.inner)
    return medians, missing


def cold_start(quick):
    """W6: fresh process, empty cache, to the first train-step result; then warm."""
    import tempfile

    script = os.path.join(os.path.dirname(__file__), "cold_start.py")
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, AOTGRAPH_CACHE=os.path.join(cache, "c"))
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, script], check=True, env=env)
            out[label] = time.perf_counter() - t0
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--only", default="", help="comma-separated workload ids")
    parser.add_argument("--markdown", default=None, help="also write the table to FILE")
    args = parser.parse_args(argv)
    only = {w.strip() for w in args.only.split(",") if w.strip()}
    lines = ["| workload | system | median | aotgraph / system |", "|---|---|---|---|"]
    env = environment()
    print("environment:", ", ".join(f"{k}={v}" for k, v in env.items()))
    for wl in workloads.ALL:
        if only and wl.id not in only:
            continue
        medians, missing = run_workload(wl, args.quick)
        print(f"\n{wl.id} {wl.title}")
        if medians is None:
            print("  aotgraph failed:", missing.get("aotgraph"))
            continue
        ours = medians["aotgraph"]
        for name, t in medians.items():
            ratio = ours / t
            print(f"  {name:22s} {fmt_time(t)}   ratio {ratio:6.2f}")
            lines.append(f"| {wl.id} {wl.title} | {name} | {fmt_time(t).strip()} | {ratio:.2f} |")
        for name, why in missing.items():
            print(f"  {name:22s} missing ({why})")
            lines.append(f"| {wl.id} {wl.title} | {name} | missing | |")
    if not only or "W6" in only:
        times = cold_start(args.quick)
        print(
            f"\nW6 cold start to first train-step result: cold {times['cold']:.2f} s, warm {times['warm']:.2f} s"
        )
        lines.append(f"| W6 cold start | aotgraph | {times['cold']:.2f} s | |")
        lines.append(f"| W6 warm start | aotgraph | {times['warm']:.2f} s | |")
    if not only or "MEM" in only:
        mem = workloads.peak_memory_w2()
        print(f"\nW2 peak RSS growth: {mem}")
        for k, v in mem.items():
            lines.append(f"| W2 peak RSS growth | {k} | {v} | |")
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(", ".join(f"{k}: {v}" for k, v in env.items()) + "\n\n")
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
