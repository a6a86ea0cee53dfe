"""Operators and numpy-like methods of symbolic variables.

They are installed on :class:`aotgraph.graph.Variable` when
:mod:`aotgraph.tensor` is imported, so the graph core stays free of the op
families.
"""

from __future__ import annotations

from aotgraph.graph import Variable
from aotgraph.ops.elemwise import cast, elementwise
from aotgraph.types import is_discrete


def _binop(name, reflected=False):
    if reflected:

        def method(self, other):
            return elementwise(name, other, self)

    else:

        def method(self, other):
            if not _operand_ok(other):
                return NotImplemented
            return elementwise(name, self, other)

    return method


def _operand_ok(other):
    import numbers

    import numpy as np

    return isinstance(other, (Variable, numbers.Number, np.ndarray, np.generic, list, tuple))


def _logical_or_bitwise(logical, bitwise, reflected=False):
    def method(self, other):
        from aotgraph.tensor.basic import as_tensor

        a, b = (as_tensor(other), self) if reflected else (self, as_tensor(other))
        name = logical if a.dtype == "bool" and b.dtype == "bool" else bitwise
        return elementwise(name, a, b)

    return method


def _invert(self):
    return elementwise("logical_not" if self.dtype == "bool" else "invert", self)


def _matmul(self, other):
    from aotgraph.ops.linalg import matmul

    return matmul(self, other)


def _rmatmul(self, other):
    from aotgraph.ops.linalg import matmul

    return matmul(other, self)


def _getitem(self, index):
    from aotgraph.tensor.indexing import getitem

    return getitem(self, index)


def _shape(self):
    from aotgraph.tensor.shape import shape_vector

    return shape_vector(self)


def _size(self):
    from aotgraph.tensor import math as m
    from aotgraph.tensor.shape import shape_vector

    return m.prod(shape_vector(self))


def _T(self):
    from aotgraph.tensor.shape import transpose

    return transpose(self)


def _method(module, fname):
    def method(self, *args, **kwargs):
        import importlib

        mod = importlib.import_module(module)
        return getattr(mod, fname)(self, *args, **kwargs)

    method.__name__ = fname
    return method


def _astype(self, dtype):
    return cast(self, dtype)


def _truediv(self, other):
    if not _operand_ok(other):
        return NotImplemented
    return elementwise("true_div", self, other)


METHODS = {
    # numpy arrays and scalars on the left hand over to our reflected
    # operators (np.ones(3) + x is a graph, not an object array of graphs).
    "__array_ufunc__": None,
    "__add__": _binop("add"),
    "__radd__": _binop("add", True),
    "__sub__": _binop("sub"),
    "__rsub__": _binop("sub", True),
    "__mul__": _binop("mul"),
    "__rmul__": _binop("mul", True),
    "__truediv__": _truediv,
    "__rtruediv__": _binop("true_div", True),
    "__floordiv__": _binop("floor_div"),
    "__rfloordiv__": _binop("floor_div", True),
    "__mod__": _binop("mod"),
    "__rmod__": _binop("mod", True),
    "__pow__": _binop("pow"),
    "__rpow__": _binop("pow", True),
    "__lt__": _binop("lt"),
    "__le__": _binop("le"),
    "__gt__": _binop("gt"),
    "__ge__": _binop("ge"),
    "__neg__": lambda self: elementwise("neg", self),
    "__pos__": lambda self: self,
    "__abs__": lambda self: elementwise("abs", self),
    "__invert__": _invert,
    "__and__": _logical_or_bitwise("logical_and", "bitwise_and"),
    "__rand__": _logical_or_bitwise("logical_and", "bitwise_and", True),
    "__or__": _logical_or_bitwise("logical_or", "bitwise_or"),
    "__ror__": _logical_or_bitwise("logical_or", "bitwise_or", True),
    "__xor__": _logical_or_bitwise("logical_xor", "bitwise_xor"),
    "__rxor__": _logical_or_bitwise("logical_xor", "bitwise_xor", True),
    "__matmul__": _matmul,
    "__rmatmul__": _rmatmul,
    "__getitem__": _getitem,
    "shape": property(_shape),
    "size": property(_size),
    "T": property(_T),
    "astype": _astype,
    "sum": _method("aotgraph.tensor.math", "sum"),
    "prod": _method("aotgraph.tensor.math", "prod"),
    "mean": _method("aotgraph.tensor.math", "mean"),
    "var": _method("aotgraph.tensor.math", "var"),
    "std": _method("aotgraph.tensor.math", "std"),
    "max": _method("aotgraph.tensor.math", "max"),
    "min": _method("aotgraph.tensor.math", "min"),
    "argmax": _method("aotgraph.tensor.math", "argmax"),
    "argmin": _method("aotgraph.tensor.math", "argmin"),
    "all": _method("aotgraph.tensor.math", "all"),
    "any": _method("aotgraph.tensor.math", "any"),
    "dot": _method("aotgraph.tensor.math", "dot"),
    "clip": _method("aotgraph.tensor.math", "clip"),
    "exp": _method("aotgraph.tensor.math", "exp"),
    "log": _method("aotgraph.tensor.math", "log"),
    "round": _method("aotgraph.tensor.math", "round"),
    "reshape": _method("aotgraph.tensor.shape", "reshape_method"),
    "dimshuffle": _method("aotgraph.tensor.shape", "dimshuffle"),
    "transpose": _method("aotgraph.tensor.shape", "transpose_method"),
    "flatten": _method("aotgraph.tensor.shape", "flatten"),
    "squeeze": _method("aotgraph.tensor.shape", "squeeze"),
}


def install():
    for name, value in METHODS.items():
        setattr(Variable, name, value)
    # == and != stay identity comparisons (variables are dict keys); use
    # at.eq / at.neq for elementwise equality, as in Theano.
    _ = is_discrete
