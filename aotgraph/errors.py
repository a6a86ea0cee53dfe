"""Exceptions raised by aotgraph.

Every error a user can cause is one of these (or a built-in ``TypeError`` /
``ValueError`` subclass of them), with a message naming the function, the
argument and what was expected.
"""


class AotgraphError(Exception):
    """Base class of aotgraph's own exceptions."""


class AotgraphTypeError(AotgraphError, TypeError):
    """A value or variable has the wrong dtype, ndim or kind."""


class ShapeError(AotgraphError, ValueError):
    """Static or run-time shapes that cannot work together."""


class GradientError(AotgraphError, TypeError):
    """A gradient that cannot be taken (integer input, disconnected, ...)."""


class BuildError(AotgraphError):
    """Emitting or compiling a module failed."""


class IRError(AotgraphError, ValueError):
    """A JSON IR document is malformed or hostile."""
