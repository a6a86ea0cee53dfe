"""Neural-network functions (``at.nnet``), Theano's names.

>>> import numpy as np, aotgraph.tensor as at
>>> x = at.dmatrix("x")
>>> at.nnet.softmax(x).eval({x: [[0.0, np.log(3.0)]]})
array([[0.25, 0.75]])
"""

from __future__ import annotations

import math

from aotgraph.errors import AotgraphTypeError
from aotgraph.ops.elemwise import cast, elementwise
from aotgraph.ops.nnet import crossentropy_1hot, softmax_op
from aotgraph.tensor.basic import as_tensor, resolve_weak
from aotgraph.types import float_dtype_for, is_discrete


def _float(x):
    x = as_tensor(x)
    return cast(x, float_dtype_for(x.dtype)) if is_discrete(x.dtype) else x


def sigmoid(x):
    """``1 / (1 + exp(-x))``, stable for large ``|x|``."""
    return elementwise("sigmoid", x)


def softplus(x):
    """``log(1 + exp(x))``, stable for large ``|x|``."""
    return elementwise("softplus", x)


def relu(x, alpha=0):
    """``max(x, 0)``; with ``alpha``, a leaky relu ``max(x, alpha * x)``
    for 0 <= alpha <= 1.  The derivative at 0 is ``alpha`` (0 for the plain
    relu, as in PyTorch and TensorFlow).

    >>> import aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> relu(x, 0.1).eval({x: [-2.0, 3.0]})
    array([-0.2,  3. ])
    """
    x = as_tensor(x)
    # maximum gives ties to its first argument: the derivative at 0 is alpha.
    if alpha == 0:
        return elementwise("maximum", 0, x)
    return elementwise("maximum", alpha * x, x)


def elu(x, alpha=1.0):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    x = _float(x)
    # expm1 of min(x, 0): the branch not taken cannot overflow into a NaN gradient
    neg = alpha * elementwise("expm1", elementwise("minimum", x, 0))
    return elementwise("switch", elementwise("gt", x, 0), x, neg)


def gelu(x):
    """``x * Phi(x)`` with the exact normal CDF ``Phi`` (erf form)."""
    x = _float(x)
    return 0.5 * x * (1.0 + elementwise("erf", x * (1.0 / math.sqrt(2.0))))


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, computed with the max shifted out."""
    return softmax_op("softmax", _float(x), axis)


def log_softmax(x, axis=-1):
    """``log(softmax(x))`` along ``axis``, computed stably.

    >>> import aotgraph.tensor as at
    >>> x = at.dvector("x")
    >>> log_softmax(x).eval({x: [1000.0, 1000.0]})
    array([-0.69314718, -0.69314718])
    """
    return softmax_op("log_softmax", _float(x), axis)


def categorical_crossentropy(coding_dist, true_dist):
    """Theano's crossentropy of predicted ``coding_dist`` (rows of
    probabilities) against ``true_dist``: integer class indices give
    ``-log(coding_dist[arange(n), true_dist])``; a one-hot or probability
    matrix gives ``-sum(true_dist * log(coding_dist), axis=-1)``.

    >>> import numpy as np, aotgraph.tensor as at
    >>> p, y = at.dmatrix("p"), at.lvector("y")
    >>> categorical_crossentropy(p, y).eval({p: [[0.5, 0.5], [0.25, 0.75]], y: [0, 1]})
    array([0.69314718, 0.28768207])
    """
    p, t = as_tensor(coding_dist), as_tensor(true_dist)
    if t.ndim == p.ndim:
        return -(t * elementwise("log", p)).sum(axis=-1)
    if t.ndim == p.ndim - 1 and is_discrete(t.dtype) and t.dtype != "bool":
        return crossentropy_1hot(_float(p), t)
    raise AotgraphTypeError(
        f"categorical_crossentropy: true_dist must be integer class indices of ndim "
        f"{p.ndim - 1} or a distribution of ndim {p.ndim} like coding_dist "
        f"({p.type.short()}), got {t.type.short()}"
    )


def binary_crossentropy(output, target):
    """``-(target * log(output) + (1 - target) * log(1 - output))``, elementwise
    (Theano's formula: an output of exactly 0 or 1 gives ``0 * log(0)``, nan).

    >>> import aotgraph.tensor as at
    >>> o = at.dvector("o")
    >>> binary_crossentropy(o, 1.0).eval({o: [0.5, 0.25]})
    array([0.69314718, 1.38629436])
    """
    o, t = resolve_weak("binary_crossentropy", [output, target])  # a Python 0.5 stays weak
    return -(t * elementwise("log", o) + (1.0 - t) * elementwise("log", 1.0 - o))


__all__ = [
    "binary_crossentropy",
    "categorical_crossentropy",
    "elu",
    "gelu",
    "log_softmax",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
]
