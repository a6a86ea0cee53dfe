"""Batch inference with a compiled predictor on a Dask LocalCluster.

    python examples/dask_inference/run.py [--out DIR] [--workers N] [--rows N]

Builds ``dask_digits`` with ``python -m aotgraph compile``, starts a
``dask.distributed.LocalCluster`` of worker *processes*, and maps the
compiled ``predict`` over the partitions of a dask array, twice: with
``map_blocks`` and with ``client.map`` over explicit partitions.  Compiled
functions pickle by reference (module name + function name), so the workers
must be able to import the module: here the build directory is put on the
workers' ``PYTHONPATH``; in production, install the wheel on every worker.
Needs ``pip install "dask[distributed]"``.
"""

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def build(out_dir):
    start = time.perf_counter()
    spec = os.path.join(HERE, "spec.py")
    subprocess.run([sys.executable, "-m", "aotgraph", "compile", spec, "-o", out_dir], check=True)
    return time.perf_counter() - start


def make_batch(rows, seed=0):
    """``rows`` noisy digits (float32, (rows, 64)) and their true classes."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(digits.data), size=rows)
    x = digits.data[pick] / 16.0 + rng.normal(scale=0.05, size=(rows, 64))
    return x.astype("float32"), digits.target[pick]


def infer(model, x, workers, chunk):
    """Labels from ``map_blocks`` and from ``client.map`` over partitions."""
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        start = time.perf_counter()
        blocks = da.from_array(x, chunks=(chunk, 64))
        labels = blocks.map_blocks(model.predict, drop_axis=1, dtype="int64").compute()
        print(
            f"map_blocks: {len(x)} rows in {blocks.numblocks[0]} partitions on {workers} "
            f"workers: {time.perf_counter() - start:.2f} s"
        )
        parts = client.scatter([x[i : i + chunk] for i in range(0, len(x), chunk)])
        futures = client.map(model.predict, parts)
        mapped = np.concatenate(client.gather(futures))
    return labels, mapped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="where to build (default: a temporary directory)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--chunk", type=int, default=2500)
    args = parser.parse_args(argv)
    out = os.path.abspath(args.out or tempfile.mkdtemp(prefix="aotgraph-dask-"))
    print(f"compiled in {build(out):.1f} s into {out}")
    # worker processes inherit the environment: let them import the package
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [out, os.environ.get("PYTHONPATH")]))
    sys.path.insert(0, out)
    model = importlib.import_module("dask_digits")
    x, truth = make_batch(args.rows)
    labels, mapped = infer(model, x, args.workers, args.chunk)
    print(f"accuracy on noisy digits: {np.mean(labels == truth):.3f}")
    return {"x": x, "labels": labels, "mapped": mapped, "module": model}


if __name__ == "__main__":
    main()
