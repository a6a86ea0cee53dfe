"""Neural-network functions (``at.nnet``), Theano's names."""

from __future__ import annotations

from aotgraph.ops.elemwise import elementwise
from aotgraph.tensor.basic import as_tensor


def sigmoid(x):
    """``1 / (1 + exp(-x))``, stable for large ``|x|``."""
    return elementwise("sigmoid", x)


def softplus(x):
    """``log(1 + exp(x))``, stable for large ``|x|``."""
    return elementwise("softplus", x)


def relu(x, alpha=0):
    """``max(x, 0)``; with ``alpha``, a leaky relu ``max(x, alpha * x)``
    for 0 <= alpha <= 1."""
    x = as_tensor(x)
    if alpha == 0:
        return elementwise("maximum", x, 0)
    return elementwise("maximum", x, alpha * x)


__all__ = ["sigmoid", "softplus", "relu"]
