"""A small tanh RNN that learns to predict the next value of a sine wave.

The recurrence is one ``ag.scan`` over a (time, batch, 1) sequence; the
training step differentiates through it (back-propagation through time,
itself a reverse scan) and updates the shared weights with SGD.

Build it with ``python -m aotgraph compile examples/rnn/spec.py -o build``
(the whole loop, forward and reverse, runs as C inside the module);
``examples/rnn/run.py`` trains it in-process.  The module ``rnn_sine`` has

- ``predict(x)``: the predictions (time, batch, 1) for inputs (time, batch, 1);
- ``train_step(x, y, lr)``: one SGD step on a batch, returning the mean
  squared error before the step.
"""

import numpy as np

import aotgraph as ag
import aotgraph.tensor as at

N_IN, N_HIDDEN, N_OUT = 1, 16, 1
rng = np.random.default_rng(0)


def init(*shape, scale):
    return (rng.normal(size=shape) * scale).astype("float32")


W_in = ag.shared(init(N_IN, N_HIDDEN, scale=0.5), name="W_in")
W_rec = ag.shared(init(N_HIDDEN, N_HIDDEN, scale=0.3 / np.sqrt(N_HIDDEN)), name="W_rec")
b_h = ag.shared(np.zeros(N_HIDDEN, "float32"), name="b_h")
W_out = ag.shared(init(N_HIDDEN, N_OUT, scale=0.3), name="W_out")
b_out = ag.shared(np.zeros(N_OUT, "float32"), name="b_out")
params = [W_in, W_rec, b_h, W_out, b_out]


def step(x_t, h_prev):
    """One time step: the new hidden state and the prediction."""
    h = at.tanh(x_t @ W_in + h_prev @ W_rec + b_h)
    return h, h @ W_out + b_out


x = at.tensor("float32", shape=(None, None, N_IN), name="x")  # (time, batch, 1)
y = at.tensor("float32", shape=(None, None, N_OUT), name="y")
lr = at.fscalar("lr")

h0 = at.zeros((x.shape[1], N_HIDDEN), dtype="float32")  # (batch, hidden)
(hidden, predictions), _ = ag.scan(step, sequences=x, outputs_info=[h0, None])
loss = ((predictions - y) ** 2).mean()
grads = ag.grad(loss, params)
updates = [(p, p - lr * g) for p, g in zip(params, grads)]

mod = ag.Module("rnn_sine")
mod.function("predict", [x], predictions)
mod.function("train_step", [x, y, lr], loss, updates=updates)
