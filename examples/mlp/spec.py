"""A small MLP classifier for scikit-learn's 8x8 digits: 64 -> 32 -> 10.

Build it with ``python -m aotgraph compile examples/mlp/spec.py -o build``;
the module ``mlp_digits`` then has

- ``predict(x)``: class probabilities for a float32 batch ``x`` of shape (n, 64);
- ``train_step(x, y, lr)``: one SGD step on a batch with one-hot ``y``
  (updates the shared weights) returning the mean cross-entropy before the step.
"""

import numpy as np

import aotgraph as ag
import aotgraph.tensor as at

N_IN, N_HIDDEN, N_OUT = 64, 32, 10
rng = np.random.default_rng(0)


def glorot(n_in, n_out):
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, size=(n_in, n_out)).astype("float32")


W1 = ag.shared(glorot(N_IN, N_HIDDEN), name="W1")
b1 = ag.shared(np.zeros(N_HIDDEN, "float32"), name="b1")
W2 = ag.shared(glorot(N_HIDDEN, N_OUT), name="W2")
b2 = ag.shared(np.zeros(N_OUT, "float32"), name="b2")
params = [W1, b1, W2, b2]


def log_softmax(z):
    """Written with core ops: z - m - log(sum(exp(z - m))), m = max(z).
    Returns the shift m too: the result does not depend on it, so the
    gradient may treat it as a constant."""
    m = z.max(axis=1, keepdims=True)
    shifted = z - m
    return shifted - at.log(at.exp(shifted).sum(axis=1, keepdims=True)), m


def logits(x):
    hidden = at.maximum(x @ W1 + b1, 0.0)  # relu
    return hidden @ W2 + b2


x = at.tensor("float32", shape=(None, N_IN), name="x")
y = at.tensor("float32", shape=(None, N_OUT), name="y")
lr = at.fscalar("lr")

log_probs, shift = log_softmax(logits(x))
loss = -(y * log_probs).sum(axis=1).mean()
grads = ag.grad(loss, params, consider_constant=[shift])

mod = ag.Module("mlp_digits")
mod.function("predict", [x], at.exp(log_probs))
mod.function(
    "train_step",
    [x, y, lr],
    loss,
    updates=[(p, p - lr * g) for p, g in zip(params, grads)],
)
