"""C emitters of constructors and joining ops: make_vector, squeeze (a
view), alloc (broadcast copy), join (numpy's concatenate), arange, eye.

Dims patterns (alloc, arange, eye) hold static values or None for a value
read at run time from the next extra scalar input, as in ops/shape.py.
"""

from __future__ import annotations

from aotgraph.emit.c_common import (
    CTYPE,
    FLOATS,
    OpEmitter,
    as_tuple,
    c_literal,
    convert,
    dims_code,
    params,
    read_scalar,
    shape_text_args,
)
from aotgraph.emit.c_elemwise import emit_loop


def _dtypes(node, cx):
    return [cx.var(v)["dtype"] for v in node["inputs"]]


def _out_dtype(node, cx):
    return cx.var(node["outputs"][0])["dtype"]


# --- make_vector -----------------------------------------------------------


def _make_vector_shape(node, ins, outs, cx):
    return f"{outs[0]}.ndim = 1; {outs[0]}.shape[0] = {len(ins)};"


def _make_vector_body(node, ins, outs, cx):
    dt = _out_dtype(node, cx)
    ct = CTYPE[dt]
    lines = ["{", f"    {ct} *const o_ = ({ct} *){outs[0]}.data;"]
    for i, (b, d) in enumerate(zip(ins, _dtypes(node, cx))):
        lines.append(f"    o_[{i}] = {convert(f'*(const {CTYPE[d]} *){b}.data', d, dt)};")
    lines.append("    (void)o_;\n}")
    return "\n".join(lines)


# --- squeeze ---------------------------------------------------------------


def _squeeze_axes(node):
    return tuple(int(a) for a in as_tuple(params(node)["axis"]))


def _squeeze_shape(node, ins, outs, cx):
    x, out = ins[0], outs[0]
    axes = _squeeze_axes(node)
    ndim = len(cx.var(node["inputs"][0])["shape"])
    decls, args = shape_text_args([x], ["s0_"])
    lines = ["{"]
    for a in axes:
        lines.append(
            f'    if ({x}.shape[{a}] != 1) {{ {decls} return ag_fail(err, AG_ERR_VALUE, "squeeze: '
            f"axis {a} has length %lld at run time (input shape %s); only length-1 axes can be "
            f'squeezed", (long long){x}.shape[{a}], {args}); }}'
        )
    kept = [d for d in range(ndim) if d not in axes]
    lines.append(f"    {out}.ndim = {len(kept)};")
    lines += [f"    {out}.shape[{j}] = {x}.shape[{d}];" for j, d in enumerate(kept)]
    lines.append("}")
    return "\n".join(lines)


def _squeeze_body(node, ins, outs, cx):
    x, out = ins[0], outs[0]
    ndim = len(cx.var(node["inputs"][0])["shape"])
    kept = [d for d in range(ndim) if d not in _squeeze_axes(node)]
    lines = [f"{out}.data = {x}.data;"]
    lines += [f"{out}.strides[{j}] = {x}.strides[{d}];" for j, d in enumerate(kept)]
    return "\n".join(lines)


# --- alloc -----------------------------------------------------------------


def _alloc_shape(node, ins, outs, cx):
    v, out = ins[0], outs[0]
    pattern = as_tuple(params(node)["shape"])
    n = len(pattern)
    dtypes = _dtypes(node, cx)[1:]
    decls, args = shape_text_args([v, out], ["s0_", "s1_"])
    return "\n".join(
        [
            "{",
            f"    int64_t dims_[{max(n, 1)}];",
            dims_code(pattern, ins[1:], dtypes, "dims_", "alloc"),
            f"    {out}.ndim = {n};",
            f"    for (int d_ = 0; d_ < {n}; d_++) {out}.shape[d_] = dims_[d_];",
            f"    for (int d_ = 0; d_ < {v}.ndim; d_++) {{",
            f"        int64_t vl_ = {v}.shape[d_], ol_ = {out}.shape[{n} - {v}.ndim + d_];",
            "        if (vl_ != 1 && vl_ != ol_) {",
            f"            {decls}",
            '            return ag_fail(err, AG_ERR_VALUE, "alloc: cannot broadcast a value of shape %s '
            f'to shape %s", {args});',
            "        }",
            "    }",
            "}",
        ]
    )


def _alloc_body(node, ins, outs, cx):
    dv = _dtypes(node, cx)[0]
    dt = _out_dtype(node, cx)
    sub = {"op": "alloc", "inputs": node["inputs"][:1], "outputs": node["outputs"]}
    return emit_loop(
        cx, sub, ins[:1], outs[0], [dv], dt, lambda loads: ([], convert(loads[0], dv, dt))
    )


# --- join (concatenate) ------------------------------------------------------


def _join_shape(node, ins, outs, cx):
    axis = int(params(node)["axis"])
    out, first = outs[0], ins[0]
    lines = [
        "{",
        f"    {out}.ndim = {first}.ndim;",
        f"    for (int d_ = 0; d_ < {first}.ndim; d_++) {out}.shape[d_] = {first}.shape[d_];",
        f"    {out}.shape[{axis}] = 0;",
    ]
    for i, b in enumerate(ins):
        decls, args = shape_text_args([b, first], ["s0_", "s1_"])
        lines += [
            f"    for (int d_ = 0; d_ < {first}.ndim; d_++) if (d_ != {axis} && {b}.shape[d_] != "
            f'{first}.shape[d_]) {{ {decls} return ag_fail(err, AG_ERR_VALUE, "concatenate: tensor '
            f'{i} has shape %s, tensor 0 has %s; all axes but axis {axis} must match", {args}); }}',
            f"    {out}.shape[{axis}] += {b}.shape[{axis}];",
        ]
    lines.append("}")
    return "\n".join(lines)


def _join_body(node, ins, outs, cx):
    axis = int(params(node)["axis"])
    out = outs[0]
    size = f"ag_itemsize({out}.dtype)"
    lines = ["{", "    int64_t start_ = 0;"]
    for b in ins:
        lines += [
            "    {",
            f"        ag_buffer dst_ = {b};",
            f"        for (int d_ = 0; d_ < {out}.ndim; d_++) dst_.strides[d_] = {out}.strides[d_];",
            f"        dst_.data = (char *){out}.data + (size_t)(start_ * {out}.strides[{axis}]) * {size};",
            f"        if (ag_size(&{b}) > 0) ag_copy(&dst_, &{b});",
            f"        start_ += {b}.shape[{axis}];",
            "    }",
        ]
    lines.append("}")
    return "\n".join(lines)


# --- arange and eye -----------------------------------------------------------


def _bounds(node, ins, cx, keys, as_float):
    """C expressions of the pattern values ``keys`` (params or inputs)."""
    p = params(node)
    dtypes = _dtypes(node, cx)
    out, k = [], 0
    for key in keys:
        if p.get(key) is None:
            out.append(read_scalar(ins[k], dtypes[k], as_float=as_float))
            k += 1
        else:
            out.append(
                c_literal(float(p[key]), "float64") if as_float else f"((int64_t){int(p[key])}LL)"
            )
    return out


def _arange_vals(node, ins, cx):
    dt = _out_dtype(node, cx)
    as_float = (
        dt in FLOATS
        or any(isinstance(params(node).get(k), float) for k in ("start", "stop", "step"))
        or any(d in FLOATS for d in _dtypes(node, cx))
    )
    return _bounds(node, ins, cx, ("start", "stop", "step"), as_float), as_float


def _arange_shape(node, ins, outs, cx):
    (start, stop, step), as_float = _arange_vals(node, ins, cx)
    t = "double" if as_float else "int64_t"
    return f"""{{
    const {t} a0_ = {start}, a1_ = {stop}, st_ = {step};
    if (st_ == 0) return ag_fail(err, AG_ERR_VALUE, "arange: step is zero at run time");
    double len_ = ceil(((double)a1_ - (double)a0_) / (double)st_);
    if (len_ != len_ || len_ > 9.0e18) return ag_fail(err, AG_ERR_VALUE, "arange: cannot compute the length of arange(%g, %g, %g)", (double)a0_, (double)a1_, (double)st_);
    {outs[0]}.ndim = 1;
    {outs[0]}.shape[0] = len_ > 0 ? (int64_t)len_ : 0;
}}"""


def _arange_body(node, ins, outs, cx):
    (start, _, step), as_float = _arange_vals(node, ins, cx)
    dt = _out_dtype(node, cx)
    ct = CTYPE[dt]
    if dt in FLOATS:
        # numpy: the first two values in the dtype, then start + i * delta
        value = f"({ct})(a0_ + (double)i_ * (double)(({ct})(a0_ + st_) - ({ct})a0_))"
        t = "double"
    else:
        t = "double" if as_float else "int64_t"
        value = (
            convert("(a0_ + (double)i_ * st_)", "float64", dt)
            if as_float
            else f"({ct})(uint64_t)((uint64_t)a0_ + (uint64_t)i_ * (uint64_t)st_)"
        )
    return f"""{{
    const {t} a0_ = {start}, st_ = {step};
    {ct} *const o_ = ({ct} *){outs[0]}.data;
    for (int64_t i_ = 0; i_ < {outs[0]}.shape[0]; i_++) o_[i_] = {value};
}}"""


def _eye_shape(node, ins, outs, cx):
    n, m, _ = _bounds(node, ins, cx, ("n", "m", "k"), False)
    return f"""{{
    const int64_t n_ = {n}, m_ = {m};
    if (n_ < 0 || m_ < 0) return ag_fail(err, AG_ERR_VALUE, "eye: lengths must be >= 0 at run time, got n=%lld, m=%lld", (long long)n_, (long long)m_);
    {outs[0]}.ndim = 2; {outs[0]}.shape[0] = n_; {outs[0]}.shape[1] = m_;
}}"""


def _eye_body(node, ins, outs, cx):
    _, _, k = _bounds(node, ins, cx, ("n", "m", "k"), False)
    dt = _out_dtype(node, cx)
    ct, out = CTYPE[dt], outs[0]
    return f"""{{
    const int64_t k_ = {k}, n_ = {out}.shape[0], m_ = {out}.shape[1];
    {ct} *const o_ = ({ct} *){out}.data;
    if (n_ * m_ > 0) memset(o_, 0, sizeof({ct}) * (size_t)(n_ * m_));
    for (int64_t i_ = 0; i_ < n_; i_++) {{
        int64_t j_ = i_ + k_;
        if (j_ >= 0 && j_ < m_) o_[i_ * m_ + j_] = {c_literal(1, dt)};
    }}
}}"""


CONSTRUCT_C_OPS = {
    "make_vector": OpEmitter(shape=_make_vector_shape, body=_make_vector_body),
    "squeeze": OpEmitter(shape=_squeeze_shape, body=_squeeze_body, view=True),
    "alloc": OpEmitter(shape=_alloc_shape, body=_alloc_body),
    "join": OpEmitter(shape=_join_shape, body=_join_body),
    "arange": OpEmitter(shape=_arange_shape, body=_arange_body),
    "eye": OpEmitter(shape=_eye_shape, body=_eye_body),
}
