"""How long the optimizer takes (the issue's rewrite-time budget).

    python benchmarks/opt_time.py

Prints node counts before/after and the optimize time (median of a few
runs) for: the train step of a 3-layer MLP (784-256-128-10, relu, softmax
crossentropy, SGD updates; budget 1 s) and a graph of about 2,000 nodes
(the train step of a deep, 110-layer tanh MLP; budget 5 s).
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.fgraph import make_function_graph
from aotgraph.opt import optimize_graph
from aotgraph.opt.record import OptRecord


def mlp_train_step(sizes, hidden=at.nnet.relu):
    rng = np.random.default_rng(0)
    x = at.tensor("float32", shape=(None, sizes[0]), name="x")
    y = at.lvector("y")
    params, h = [], x
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = ag.shared(
            (rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype("float32"), name=f"W{i}"
        )
        b = ag.shared(np.zeros(n_out, "float32"), name=f"b{i}")
        params += [w, b]
        h = at.dot(h, w) + b
        if i < len(sizes) - 2:
            h = hidden(h)
    cost = at.nnet.categorical_crossentropy(at.nnet.softmax(h), y).mean()
    grads = ag.grad(cost, params)
    updates = [(p, p - np.float32(0.1) * g) for p, g in zip(params, grads)]
    return make_function_graph("train_step", [x, y], cost, updates)


def measure(name, fgraph, repeats=5):
    """Optimize ``fgraph`` ``repeats`` times; print node counts, the median
    wall time and the median CPU time of this process (the VM is shared:
    CPU time is the steadier figure)."""
    wall, cpu, record = [], [], None
    for _ in range(repeats):
        record = OptRecord()
        start, start_cpu = time.perf_counter(), time.process_time()
        optimize_graph(fgraph, record=record)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    before, after = record.node_counts[0][1], record.node_counts[-1][1]
    print(
        f"{name}: {before} nodes -> {after} nodes, optimize {statistics.median(wall):.3f} s wall, "
        f"{statistics.median(cpu):.3f} s cpu (median of {repeats})"
    )
    return record


def main():
    record = measure("3-layer MLP train step", mlp_train_step((784, 256, 128, 10)))
    print(record.summary())
    deep = mlp_train_step((64,) * 110 + (10,), hidden=at.tanh)
    measure("deep MLP train step (~2,000 nodes)", deep, repeats=3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
