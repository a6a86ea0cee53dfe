"""A digits classifier for batch inference on a Dask cluster.

The weights are fitted while the spec runs (a ridge-regularized least-squares
fit of one-hot targets, numpy only) and travel inside the built extension.
``python -m aotgraph compile examples/dask_inference/spec.py -o build``
builds the module ``dask_digits`` with

- ``predict(x)``: the class (int64) of each row of a float32 batch (n, 64);
- ``scores(x)``: the linear scores (n, 10).
"""

import numpy as np
from sklearn.datasets import load_digits

import aotgraph as ag
import aotgraph.tensor as at


def fit_ridge(x, y, alpha=1.0):
    """Weights (with the bias as last row) of ridge regression on one-hot targets."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    targets = np.eye(10)[y]
    gram = xb.T @ xb + alpha * np.eye(xb.shape[1])
    return np.linalg.solve(gram, xb.T @ targets).astype("float32")


digits = load_digits()
weights = fit_ridge(digits.data / 16.0, digits.target)
W = ag.shared(weights[:-1], name="W")
b = ag.shared(weights[-1], name="b")

x = at.tensor("float32", shape=(None, 64), name="x")
scores = x @ W + b

mod = ag.Module("dask_digits")
mod.function("scores", [x], scores)
mod.function("predict", [x], at.argmax(scores, axis=1))
