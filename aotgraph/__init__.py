"""aotgraph: an ahead-of-time compiler for symbolic tensor graphs.

>>> import aotgraph as ag
>>> import aotgraph.tensor as at
>>> x = at.dvector("x")
>>> f = ag.function([x], (x ** 2).sum(), target="py")
>>> float(f([1.0, 2.0]))
5.0
"""

__version__ = "0.1.0"

from aotgraph import tensor  # noqa: E402  (installs the Variable methods)
from aotgraph.config import config  # noqa: E402
from aotgraph.errors import (  # noqa: E402
    AotgraphError,
    AotgraphTypeError,
    BuildError,
    GradientError,
    IRError,
    ShapeError,
)
from aotgraph.fgraph import MissingInputError, UnusedInputError  # noqa: E402
from aotgraph.function import Function, function  # noqa: E402
from aotgraph.graph import Apply, Constant, SharedVariable, Variable, clone_replace  # noqa: E402
from aotgraph.gradient import grad  # noqa: E402
from aotgraph.tensor.basic import shared  # noqa: E402

__all__ = [
    "AotgraphError",
    "AotgraphTypeError",
    "Apply",
    "BuildError",
    "Constant",
    "Function",
    "GradientError",
    "IRError",
    "MissingInputError",
    "ShapeError",
    "SharedVariable",
    "UnusedInputError",
    "Variable",
    "clone_replace",
    "config",
    "function",
    "grad",
    "shared",
    "tensor",
]
