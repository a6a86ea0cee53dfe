"""Digit classification with a compiled aotgraph module.

>>> import numpy as np, digitpkg
>>> digitpkg.classify(np.zeros((1, 64), np.float32)).shape
(1,)
"""

import numpy as np

from digitpkg import model

__all__ = ["classify", "model"]


def classify(images):
    """Class labels (0-9) of ``images``: an array of 8x8 digits as (n, 64)
    values in [0, 16], as in scikit-learn's digits data."""
    x = np.asarray(images, dtype=np.float32).reshape(-1, 64) / 16.0
    return model.predict(x)
