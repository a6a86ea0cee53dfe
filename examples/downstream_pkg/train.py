"""Train the example's weights (softmax regression on scikit-learn's digits)
with an aotgraph train step and write specs/weights.npz.

    python examples/downstream_pkg/train.py
"""

import os

import numpy as np
from sklearn.datasets import load_digits

import aotgraph as ag
import aotgraph.tensor as at


def train(epochs=200, lr=0.5, seed=0):
    data = load_digits()
    xs = (data.data / 16.0).astype(np.float32)
    ys = data.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    x, y = at.fmatrix("x"), at.lvector("y")
    w = ag.shared(rng.normal(0, 0.01, (64, 10)).astype(np.float32), name="w")
    b = ag.shared(np.zeros(10, np.float32), name="b")
    loss = at.nnet.categorical_crossentropy(at.nnet.softmax(x @ w + b), y).mean()
    gw, gb = ag.grad(loss, [w, b])
    step = ag.function([x, y], loss, updates=[(w, w - lr * gw), (b, b - lr * gb)])
    for _ in range(epochs):
        step(xs, ys)
    return w.get_value(), b.get_value(), xs, ys


if __name__ == "__main__":
    w, b, xs, ys = train()
    acc = ((xs @ w + b).argmax(axis=1) == ys).mean()
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "specs", "weights.npz")
    np.savez(out, w=w, b=b)
    print(f"training accuracy {acc:.3f}; wrote {out}")
