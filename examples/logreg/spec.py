"""Multinomial logistic regression on scikit-learn's 8x8 digits (64 -> 10).

The Theano tutorial's logistic regression, written for aotgraph: the weights
are shared variables, the training step's ``updates`` apply one SGD step,
and the whole module is compiled ahead of time.  Build it with
``python -m aotgraph compile examples/logreg/spec.py -o build``; the module
``logreg_digits`` then has

- ``train_step(x, labels, lr)``: one SGD step on a float32 batch ``x``
  (n, 64) with int64 class ``labels`` (n,); returns the mean cross-entropy
  (plus ``l2`` times the squared weights) before the step;
- ``predict_proba(x)``: class probabilities (n, 10);
- ``predict(x)``: the most probable class of each row (int64).
"""

import numpy as np

import aotgraph as ag
import aotgraph.tensor as at

N_FEATURES, N_CLASSES = 64, 10
L2 = 1e-4

W = ag.shared(np.zeros((N_FEATURES, N_CLASSES), "float32"), name="W")
b = ag.shared(np.zeros(N_CLASSES, "float32"), name="b")

x = at.tensor("float32", shape=(None, N_FEATURES), name="x")
labels = at.lvector("labels")
lr = at.fscalar("lr")

p_y = at.nnet.softmax(x @ W + b)
one_hot = at.eye(N_CLASSES, dtype="float32")[labels]
cost = at.nnet.categorical_crossentropy(p_y, one_hot).mean() + L2 * (W**2).sum()
g_W, g_b = ag.grad(cost, [W, b])

mod = ag.Module("logreg_digits")
mod.function("train_step", [x, labels, lr], cost, updates=[(W, W - lr * g_W), (b, b - lr * g_b)])
mod.function("predict_proba", [x], p_y)
mod.function("predict", [x], at.argmax(p_y, axis=1))
