"""Checking and converting call arguments of compiled functions.

This file depends on numpy only: it is copied verbatim into every built
module (as ``_aotgraph_callcheck.py``) so that the reference interpreter
and deployed modules check their inputs with the same code and messages.
"""

import numbers

import numpy as np

_KIND_ORDER = {"b": 0, "u": 1, "i": 1, "f": 2}
# the builtin dtypes by name: an array whose dtype ``is`` one of them needs no cast
_WANT = {
    d: np.dtype(d)
    for d in (
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
    )
}


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"{type(value).__name__} {value!r}"[:200]


def convert_input(fn, name, value, dtype, shape, allow_downcast=False):
    """``value`` as an ndarray of ``dtype`` fitting static ``shape``.

    Accepts arrays (safe casts only, unless ``allow_downcast``), Python
    scalars and nested lists (converted when the values survive the
    conversion, as Theano does for Python floats into float32).  Raises
    ``TypeError`` / ``ValueError`` naming the function and input.
    """
    if type(value) is np.ndarray and value.ndim == len(shape):
        # fast path: an array that already has the dtype, the dimensionality
        # and no static length to check is passed through unchanged
        want = _WANT.get(dtype)
        if value.dtype is want and shape.count(None) == len(shape):
            return value
    want = np.dtype(dtype)
    ndim = len(shape)
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        arr = np.asarray(value)
        if arr.dtype.kind not in "buif":
            raise TypeError(
                f"{fn}: input {name!r} has dtype {arr.dtype}; expected {want.name} "
                f"(a numeric array)"
            )
        if arr.dtype != want:
            _reject_bool(fn, name, arr.dtype, want, allow_downcast)
            if allow_downcast or np.can_cast(arr.dtype, want, casting="safe"):
                arr = arr.astype(want)
            else:
                raise TypeError(
                    f"{fn}: input {name!r} has dtype {arr.dtype}, which cannot be cast "
                    f"safely to {want.name}; pass a {want.name} array, or use "
                    f"allow_input_downcast=True"
                )
    elif value is None or isinstance(value, (str, bytes, dict, set)):
        raise TypeError(f"{fn}: input {name!r} is {_describe(value)}; expected {want.name} values")
    else:
        arr = _from_python(fn, name, value, want, allow_downcast)
    if arr.ndim != ndim:
        raise TypeError(
            f"{fn}: input {name!r} has {arr.ndim} dimension(s) (shape {arr.shape}); "
            f"expected {ndim} (static shape {_shape_text(shape)})"
        )
    for axis, (got, static) in enumerate(zip(arr.shape, shape)):
        if static is not None and got != static:
            raise ValueError(
                f"{fn}: input {name!r} has length {got} on axis {axis}; its type "
                f"requires {static} (static shape {_shape_text(shape)})"
            )
    return arr


def _from_python(fn, name, value, want, allow_downcast):
    if isinstance(value, (list, tuple)) or isinstance(value, numbers.Number):
        try:
            raw = np.asarray(value)
        except ValueError as exc:
            raise ValueError(f"{fn}: input {name!r} is a ragged nested sequence: {exc}") from None
    else:
        raise TypeError(f"{fn}: input {name!r} is {_describe(value)}; expected {want.name} values")
    if raw.dtype.kind not in "buif":
        raise TypeError(
            f"{fn}: input {name!r} holds {raw.dtype} values ({_describe(value)}); "
            f"expected {want.name} numbers"
        )
    _reject_bool(fn, name, raw.dtype, want, allow_downcast)
    if raw.dtype == want or allow_downcast or np.can_cast(raw.dtype, want, "safe"):
        return raw.astype(want)
    # Python numbers are weak: accept them when they fit the input's kind.
    if _KIND_ORDER.get(raw.dtype.kind, 9) <= _KIND_ORDER.get(want.kind, -1):
        with np.errstate(all="ignore"):
            arr = raw.astype(want)
        if want.kind in "iu" and not np.array_equal(arr, raw):
            raise ValueError(f"{fn}: input {name!r}: values {value!r} do not fit {want.name}")
        return arr
    if raw.dtype.kind == "f" and want.kind == "f":
        return raw.astype(want)
    raise TypeError(
        f"{fn}: input {name!r} holds {raw.dtype.name} values, which cannot be cast "
        f"safely to {want.name}; use allow_input_downcast=True"
    )


def _reject_bool(fn, name, got, want, allow_downcast):
    # numpy calls bool -> number a safe cast, but a mask passed where numbers
    # are expected is almost always a mistake: ask for it explicitly.
    if got.kind == "b" and want.kind != "b" and not allow_downcast:
        raise TypeError(
            f"{fn}: input {name!r} holds bool values; expected {want.name} numbers "
            f"(convert with .astype({want.name!r}), or use allow_input_downcast=True)"
        )


def _shape_text(shape):
    inner = ", ".join("?" if d is None else str(d) for d in shape)
    return "(" + inner + ("," if len(shape) == 1 else "") + ")"


def bind_args(fn, names, args, kwargs):
    """The call's arguments in input order: positional first, then by name."""
    if len(args) > len(names):
        raise TypeError(
            f"{fn}() takes {len(names)} input(s) ({', '.join(names) or 'none'}), got {len(args)}"
        )
    if not kwargs:
        if len(args) != len(names):
            missing = ", ".join(names[len(args) :])
            raise TypeError(f"{fn}() missing input(s): {missing}")
        return args
    bound = list(args) + [_MISSING] * (len(names) - len(args))
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(
                f"{fn}() got an unexpected keyword argument {key!r}; inputs are "
                f"{', '.join(names) or 'none'}"
            )
        i = names.index(key)
        if bound[i] is not _MISSING:
            raise TypeError(f"{fn}() got multiple values for input {key!r}")
        bound[i] = value
    missing = [n for n, v in zip(names, bound) if v is _MISSING]
    if missing:
        raise TypeError(f"{fn}() missing input(s): {', '.join(missing)}")
    return bound


_MISSING = object()
