"""A small dense layer for the C-program example: ``predict(x) = tanh(x @ W + b)``
and ``nudge(delta)``, which moves the bias (an update of shared state).

    python -m aotgraph compile affine_spec.py --emit c-lib -o build
"""

import numpy as np

import aotgraph as ag
import aotgraph.tensor as at

rng = np.random.default_rng(7)
W = ag.shared((rng.standard_normal((4, 3)) * 0.5).astype("float32"), name="W")
b = ag.shared(np.array([0.1, -0.2, 0.05], dtype="float32"), name="b")

affine = ag.Module("affine")
x = at.tensor("float32", shape=(None, 4), name="x")
affine.function("predict", [x], at.tanh(at.dot(x, W) + b))
delta = at.tensor("float32", shape=(3,), name="delta")
affine.function("nudge", [delta], (b + delta).sum(), updates=[(b, b + delta)])
