"""Build spec: a softmax-regression digit classifier with trained weights.

Run at build time only (by aotgraph's setuptools hook); the wheel contains
the compiled module ``digitpkg.model`` with the weights inside it, not this
file nor weights.npz.
"""

import os

import numpy as np

import aotgraph as ag
import aotgraph.tensor as at

weights = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights.npz"))

x = at.fmatrix("x")  # (batch, 64) pixel intensities scaled to [0, 1]
w = ag.shared(weights["w"], name="w")
b = ag.shared(weights["b"], name="b")
probs = at.nnet.softmax(x @ w + b)

mod = ag.Module("digitpkg.model")
mod.function("predict_proba", [x], probs)
mod.function("predict", [x], at.argmax(probs, axis=1))
