"""Tensor types: a dtype plus, per dimension, a static length or ``None``.

A length of ``None`` means "known only at run time".  A static length of 1
is what Theano called *broadcastable*; a ``None`` dimension may also turn out
to be 1 at run time and then broadcasts like numpy does.
"""

from __future__ import annotations

import numpy as np

from aotgraph.errors import AotgraphTypeError, ShapeError

#: dtypes a tensor may have (no float16 and no complex numbers).
SUPPORTED_DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
)
FLOAT_DTYPES = frozenset({"float32", "float64"})
INT_DTYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"})
DISCRETE_DTYPES = INT_DTYPES | {"bool"}


def as_dtype(dtype, where="dtype") -> str:
    """Return the canonical name of ``dtype`` or raise naming ``where``."""
    if isinstance(dtype, str) and dtype in SUPPORTED_DTYPES:
        return dtype  # fast path: np.dtype(...).name is slow and graphs build many types
    try:
        name = np.dtype(dtype).name
    except TypeError as exc:
        raise AotgraphTypeError(f"{where}: {dtype!r} is not a dtype") from exc
    if name not in SUPPORTED_DTYPES:
        raise AotgraphTypeError(
            f"{where}: dtype {name} is not supported; expected one of "
            + ", ".join(SUPPORTED_DTYPES)
        )
    return name


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


def is_discrete(dtype: str) -> bool:
    return dtype in DISCRETE_DTYPES


def float_dtype_for(dtype: str) -> str:
    """The float dtype a transcendental function of ``dtype`` returns.

    numpy returns float16 for 8-bit integers; we have no float16 and use
    float32 for every integer of 16 bits or fewer, float64 above.
    """
    if dtype in FLOAT_DTYPES:
        return dtype
    if dtype in ("bool", "int8", "uint8", "int16", "uint16"):
        return "float32"
    return "float64"


class TensorType:
    """The type of a symbolic tensor: ``TensorType("float32", (None, 784))``."""

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype, shape=()):
        dtype = as_dtype(dtype, "TensorType")
        try:
            shape = tuple(shape)
        except TypeError:
            raise AotgraphTypeError(
                f"TensorType: shape must be a tuple of ints or None, got {shape!r}"
            ) from None
        checked = []
        for d in shape:
            if d is None:
                checked.append(None)
                continue
            if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
                raise AotgraphTypeError(
                    f"TensorType: each dimension must be an int >= 0 or None, got {d!r}"
                )
            if d < 0:
                raise AotgraphTypeError(f"TensorType: dimension lengths must be >= 0, got {d}")
            checked.append(int(d))
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "shape", tuple(checked))

    def __setattr__(self, key, value):
        raise AttributeError("TensorType is immutable")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple:
        """Theano's view: which dimensions have static length 1."""
        return tuple(d == 1 for d in self.shape)

    def __eq__(self, other):
        return (
            isinstance(other, TensorType)
            and self.dtype == other.dtype
            and self.shape == other.shape
        )

    def __hash__(self):
        return hash((self.dtype, self.shape))

    def __repr__(self):
        return f"TensorType({self.dtype}, shape={self.shape})"

    def short(self) -> str:
        dims = ",".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]"

    def with_dtype(self, dtype) -> "TensorType":
        return TensorType(dtype, self.shape)

    def accepts_shape(self, shape) -> bool:
        """Whether a concrete ``shape`` fits this type's static lengths."""
        return len(shape) == self.ndim and all(
            s is None or s == d for s, d in zip(self.shape, shape)
        )

    def to_json(self) -> dict:
        return {"dtype": self.dtype, "shape": list(self.shape)}


def broadcast_static(shapes, what="operands", names=None):
    """numpy broadcasting over static shapes with ``None`` for unknown lengths.

    Raises ``ShapeError`` when two static lengths can never broadcast;
    ``names`` (a list, or a callable returning one) label the operands there.
    A ``None`` against a static ``n != 1`` gives ``n`` (the run time checks
    that the unknown one is ``n`` or 1); ``None`` against ``None`` stays
    ``None``.
    """
    ndim = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out = []
    for axis in range(ndim):
        dims = [p[axis] for p in padded]
        static = {d for d in dims if d is not None and d != 1}
        if len(static) > 1:
            shown = (names() if callable(names) else names) or [
                f"operand {i}" for i in range(len(shapes))
            ]
            desc = ", ".join(f"{n} with shape {_shape_str(s)}" for n, s in zip(shown, shapes))
            raise ShapeError(
                f"{what}: shapes cannot be broadcast together "
                f"(axis {axis - ndim} has lengths {sorted(static)}): {desc}"
            )
        if static:
            out.append(static.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def _shape_str(shape) -> str:
    return (
        "("
        + ", ".join("?" if d is None else str(d) for d in shape)
        + (",)" if len(shape) == 1 else ")")
    )


def shape_str(shape) -> str:
    """Human text for a static shape, ``?`` for unknown lengths."""
    return _shape_str(shape)
