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
from aotgraph.function import Function, NanGuardError, function  # noqa: E402
from aotgraph.gradient import grad  # noqa: E402
from aotgraph.graph import Apply, Constant, SharedVariable, Variable, clone_replace  # noqa: E402
from aotgraph.tensor.basic import shared  # noqa: E402

# Public names that live in modules other engineers extend; resolved lazily
# so that importing aotgraph stays cheap and free of import cycles.
_LAZY = {
    "jacobian": "aotgraph.gradient",
    "hessian": "aotgraph.gradient",
    "Rop": "aotgraph.gradient",
    "Lop": "aotgraph.gradient",
    "gradient": None,
    "printing": None,
    "scan": "aotgraph.loops",
    "scan_until": "aotgraph.loops",
    "map": "aotgraph.loops",
    "reduce": "aotgraph.loops",
    "foldl": "aotgraph.loops",
    "foldr": "aotgraph.loops",
    "Module": "aotgraph.module",
}


def __getattr__(name):
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'aotgraph' has no attribute {name!r}")
    module = _LAZY[name]
    if module is None:
        return importlib.import_module(f"aotgraph.{name}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted(_LAZY) + [
    "AotgraphError",
    "AotgraphTypeError",
    "Apply",
    "BuildError",
    "Constant",
    "Function",
    "GradientError",
    "IRError",
    "MissingInputError",
    "NanGuardError",
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
