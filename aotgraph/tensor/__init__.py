"""The numpy-like symbolic tensor API (``import aotgraph.tensor as at``).

>>> import aotgraph.tensor as at
>>> x = at.vector("x", dtype="float64")
>>> y = at.exp(x) * 2
>>> y.eval({x: [0.0]})
array([2.])
"""

from aotgraph.ops.elemwise import cast
from aotgraph.tensor import methods as _methods
from aotgraph.tensor.basic import CONSTRUCTORS, as_tensor, constant, shared, tensor
from aotgraph.tensor.indexing import *  # noqa: F403
from aotgraph.tensor.indexing import __all__ as _indexing_all
from aotgraph.tensor.linalg import *  # noqa: F403
from aotgraph.tensor.linalg import __all__ as _linalg_all
from aotgraph.tensor.math import *  # noqa: F403
from aotgraph.tensor.math import __all__ as _math_all
from aotgraph.tensor.shape import *  # noqa: F403
from aotgraph.tensor.shape import __all__ as _shape_all

_methods.install()
globals().update(CONSTRUCTORS)
as_tensor_variable = as_tensor

from aotgraph.tensor import nnet  # noqa: E402

__all__ = (
    ["as_tensor", "as_tensor_variable", "cast", "constant", "shared", "tensor", "nnet"]
    + list(CONSTRUCTORS)
    + list(_math_all)
    + list(_shape_all)
    + list(_linalg_all)
    + list(_indexing_all)
)
