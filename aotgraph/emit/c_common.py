"""Shared pieces of the C op emitters: the emitter record, C types of
dtypes, literals and conversions with numpy semantics.

Everything here is plain text generation from the IR (dtype names, params);
no Python objects of the spec are involved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

#: C type of each dtype (bool is one byte holding 0 or 1).
CTYPE = {
    "bool": "uint8_t",
    "int8": "int8_t",
    "int16": "int16_t",
    "int32": "int32_t",
    "int64": "int64_t",
    "uint8": "uint8_t",
    "uint16": "uint16_t",
    "uint32": "uint32_t",
    "uint64": "uint64_t",
    "float32": "float",
    "float64": "double",
}

#: Short tag of each dtype, the suffix of the ag_kernels.h helpers.
TAG = {
    "bool": "b",
    "int8": "i8",
    "int16": "i16",
    "int32": "i32",
    "int64": "i64",
    "uint8": "u8",
    "uint16": "u16",
    "uint32": "u32",
    "uint64": "u64",
    "float32": "f32",
    "float64": "f64",
}

FLOATS = frozenset({"float32", "float64"})


@dataclass(frozen=True)
class OpEmitter:
    """How one op becomes C (see the contract at the top of c_ops.py).

    ``shape(node, ins, outs, cx)`` and ``body(node, ins, outs, cx)`` return
    C statements; ``ins``/``outs`` are ``ag_buffer`` lvalue expressions.
    """

    shape: Callable
    body: Callable
    view: bool = False
    inplace_ok: tuple = ()


def kind(dtype: str) -> str:
    """``float``, ``bool`` or ``int``: which expression table row applies."""
    if dtype in FLOATS:
        return "float"
    return "bool" if dtype == "bool" else "int"


def c_literal(value, dtype: str) -> str:
    """A C literal of ``dtype`` for a Python/numpy scalar, exact for floats."""
    if dtype in FLOATS:
        v = float(value)
        if math.isnan(v):
            text = "NAN"
        elif math.isinf(v):
            text = "INFINITY" if v > 0 else "(-INFINITY)"
        else:
            text = float(np.float32(v)).hex() + "f" if dtype == "float32" else v.hex()
            return f"({text})"
        return f"(({CTYPE[dtype]}){text})"
    if dtype == "bool":
        return "1" if bool(value) else "0"
    v = int(value)
    if dtype == "int64" and v == -(2**63):
        return "((int64_t)(-9223372036854775807LL - 1))"
    suffix = "ULL" if dtype.startswith("u") else "LL"
    return f"(({CTYPE[dtype]}){v}{suffix})"


def convert(expr: str, src: str, dst: str) -> str:
    """``expr`` of dtype ``src`` as a ``dst`` value, as numpy's astype does
    (float to integer through the numpy-compatible ag_f2* helpers)."""
    if src == dst:
        return expr
    if dst == "bool":
        return f"(({expr}) != 0)"
    if src in FLOATS and dst not in FLOATS:
        return f"ag_f2{TAG[dst]}((double)({expr}))"
    return f"(({CTYPE[dst]})({expr}))"


def static_scalar(var) -> bool:
    """Whether a variable's static shape makes it a single element."""
    return all(d == 1 for d in var["shape"])


def shape_text_args(bufs, names):
    """printf arguments rendering buffers' shapes (ag_shape_text) and the
    declarations of their text buffers."""
    decls = " ".join(f"char {n}[96];" for n in names)
    args = ", ".join(f"ag_shape_text(&{b}, {n}, sizeof {n})" for b, n in zip(bufs, names))
    return decls, args


def params(node) -> dict:
    return node.get("params") or {}


def as_tuple(value):
    """IR params arrive as JSON lists or Python tuples."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return tuple(as_tuple(v) if isinstance(v, (list, tuple)) else v for v in value)
    return value


def read_scalar(buf: str, dtype: str, as_float=False) -> str:
    """C expression reading the single element of buffer ``buf``, as int64
    (or double when ``as_float``)."""
    target = "double" if as_float else "int64_t"
    return f"(({target})*(const {CTYPE[dtype]} *){buf}.data)"


def dims_code(pattern, ins, dtypes, target, where, allow_infer=False):
    """Statements filling C array ``target`` from a dims pattern: static
    ints, or (for None) the next extra integer-scalar input, checked to be
    >= 0 (>= -1 with ``allow_infer``)."""
    lines, k = [], 0
    low = -1 if allow_infer else 0
    for j, d in enumerate(pattern):
        if d is None:
            lines.append(f"    {target}[{j}] = {read_scalar(ins[k], dtypes[k])};")
            lines.append(
                f'    if ({target}[{j}] < {low}) return ag_fail(err, AG_ERR_VALUE, "{where}: a '
                f'symbolic length is %lld at run time, expected >= 0", (long long){target}[{j}]);'
            )
            k += 1
        else:
            lines.append(f"    {target}[{j}] = {int(d)};")
    return "\n".join(lines)
