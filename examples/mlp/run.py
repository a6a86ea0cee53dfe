"""Compile the digits MLP, train it for a few epochs and report accuracy.

    python examples/mlp/run.py [--out DIR] [--epochs N]

The built module needs numpy and cffi only; scikit-learn supplies the data.
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


def compile_module(out_dir):
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "aotgraph", "compile", os.path.join(HERE, "spec.py"), "-o", out_dir],
        check=True,
    )
    return time.perf_counter() - start


def load_data():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = np.eye(10, dtype="float32")[digits.target]
    order = np.random.default_rng(1).permutation(len(x))
    x, y, labels = x[order], y[order], digits.target[order]
    n_train = int(0.8 * len(x))
    return (x[:n_train], y[:n_train]), (x[n_train:], labels[n_train:])


def train(mlp, train_set, epochs, batch=32, lr=0.1):
    x, y = train_set
    for epoch in range(epochs):
        losses = [
            float(mlp.train_step(x[i : i + batch], y[i : i + batch], np.float32(lr)))
            for i in range(0, len(x), batch)
        ]
        print(f"epoch {epoch + 1}: mean loss {np.mean(losses):.4f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="where to build (default: a temporary directory)")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="aotgraph-mlp-")
    print(f"compiled in {compile_module(out):.2f} s into {out}")
    sys.path.insert(0, out)
    mlp = importlib.import_module("mlp_digits")
    train_set, (x_test, labels) = load_data()
    train(mlp, train_set, args.epochs)
    accuracy = float(np.mean(mlp.predict(x_test).argmax(axis=1) == labels))
    print(f"test accuracy: {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    main()
