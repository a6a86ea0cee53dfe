"""Train the digits logistic regression of ``spec.py``, then deploy it.

    python examples/logreg/run.py [--out DIR] [--epochs N]

1. ``python -m aotgraph compile`` builds the package ``logreg_digits`` into
   DIR (default: a temporary directory);
2. this process imports it and runs the compiled ``train_step`` over
   mini-batches, then ``save``s the trained weights as .npz;
3. a *fresh* Python process (which imports neither aotgraph nor
   scikit-learn's model code) imports the package, ``load``s the weights
   and classifies the held-out digits: what a deployment does.
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

DEPLOYED = """
import json, sys
import numpy as np
import logreg_digits
logreg_digits.load(sys.argv[1])
x = np.load(sys.argv[2])
print(json.dumps({"labels": logreg_digits.predict(x).tolist(),
                  "aotgraph_imported": "aotgraph" in sys.modules}))
"""


def load_data(seed=1):
    """Digits scaled to [0, 1] as float32, shuffled, split 80/20."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], digits.target[order].astype("int64")
    n_train = int(0.8 * len(x))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def compile_module(out_dir):
    start = time.perf_counter()
    spec = os.path.join(HERE, "spec.py")
    subprocess.run([sys.executable, "-m", "aotgraph", "compile", spec, "-o", out_dir], check=True)
    return time.perf_counter() - start


def train(model, x, y, epochs, batch=32, lr=0.5):
    for epoch in range(epochs):
        costs = [
            float(model.train_step(x[i : i + batch], y[i : i + batch], np.float32(lr)))
            for i in range(0, len(x), batch)
        ]
        print(f"epoch {epoch + 1}: mean cost {np.mean(costs):.4f}")


def predict_deployed(out_dir, weights, x):
    """Labels for ``x`` from the built package in a fresh interpreter."""
    with tempfile.TemporaryDirectory() as tmp:
        x_path = os.path.join(tmp, "x.npy")
        np.save(x_path, x)
        env = dict(os.environ, PYTHONPATH=out_dir)
        run = subprocess.run(
            [sys.executable, "-c", DEPLOYED, weights, x_path],
            env=env,
            cwd=tmp,
            check=True,
            capture_output=True,
            text=True,
        )
    result = json.loads(run.stdout)
    return np.array(result["labels"]), result["aotgraph_imported"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="where to build (default: a temporary directory)")
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)
    out = os.path.abspath(args.out or tempfile.mkdtemp(prefix="aotgraph-logreg-"))
    print(f"compiled in {compile_module(out):.1f} s into {out}")
    sys.path.insert(0, out)
    model = importlib.import_module("logreg_digits")
    (x_train, y_train), (x_test, y_test) = load_data()
    start = time.perf_counter()
    train(model, x_train, y_train, args.epochs)
    print(f"trained in {time.perf_counter() - start:.2f} s")
    weights = os.path.join(out, "logreg_weights.npz")
    model.save(weights)
    labels, imported = predict_deployed(out, weights, x_test)
    accuracy = float(np.mean(labels == y_test))
    print(f"deployed model: test accuracy {accuracy:.3f} (aotgraph imported: {imported})")
    return {"accuracy": accuracy, "weights": weights, "labels": labels, "x_test": x_test}


if __name__ == "__main__":
    main()
