"""C emitters of the shape ops: views where the layout allows, copies
otherwise.

``dimshuffle`` and ``disconnected_grad`` are always views.  ``reshape`` is
a view of a C-contiguous input and otherwise copies the input into
workspace memory (C order) and views that.  ``shape_i`` writes one int64.
"""

from __future__ import annotations

from aotgraph.emit.c_common import OpEmitter, as_tuple, dims_code, params, shape_text_args

# --- dimshuffle ------------------------------------------------------------


def _pattern(node):
    return [p if p == "x" else int(p) for p in as_tuple(params(node)["pattern"])]


def _dimshuffle_shape(node, ins, outs, cx):
    x, out = ins[0], outs[0]
    pattern = _pattern(node)
    ndim = len(cx.var(node["inputs"][0])["shape"])
    lines = ["{", f"    {out}.ndim = {len(pattern)};"]
    for j, p in enumerate(pattern):
        lines.append(f"    {out}.shape[{j}] = " + ("1;" if p == "x" else f"{x}.shape[{p}];"))
    dropped = [a for a in range(ndim) if a not in pattern]
    if dropped:
        decls, args = shape_text_args([x], ["s0_"])
        cond = " || ".join(f"{x}.shape[{a}] != 1" for a in dropped)
        lines.append(
            f'    if ({cond}) {{ {decls} return ag_fail(err, AG_ERR_VALUE, "dimshuffle: '
            f"cannot drop axes {tuple(dropped)} of an input of shape %s (they must have "
            f'length 1)", {args}); }}'
        )
    lines.append("}")
    return "\n".join(lines)


def _dimshuffle_body(node, ins, outs, cx):
    x, out = ins[0], outs[0]
    lines = ["{", f"    {out}.data = {x}.data;"]
    for j, p in enumerate(_pattern(node)):
        lines.append(f"    {out}.strides[{j}] = " + ("0;" if p == "x" else f"{x}.strides[{p}];"))
    lines.append("}")
    return "\n".join(lines)


DIMSHUFFLE_EMITTER = OpEmitter(shape=_dimshuffle_shape, body=_dimshuffle_body, view=True)

# --- reshape ---------------------------------------------------------------


def _reshape_shape(node, ins, outs, cx):
    x, out = ins[0], outs[0]
    pattern = [None if d is None else int(d) for d in as_tuple(params(node)["shape"])]
    dtypes = [cx.var(v)["dtype"] for v in node["inputs"][1:]]
    n = len(pattern)
    decls, args = shape_text_args([x], ["s0_"])
    return "\n".join(
        [
            "{",
            f"    int64_t dims_[{max(n, 1)}];",
            dims_code(pattern, ins[1:], dtypes, "dims_", "reshape", allow_infer=True),
            f"    if (ag_resolve_reshape({n}, dims_, ag_size(&{x})) != 0) {{",
            f"        {decls} char t_[96];",
            '        return ag_fail(err, AG_ERR_VALUE, "reshape: cannot reshape an array of shape %s '
            f'into shape %s", {args}, ag_dims_text(dims_, {n}, t_, sizeof t_));',
            "    }",
            f"    {out}.ndim = {n};",
            f"    for (int d_ = 0; d_ < {n}; d_++) {out}.shape[d_] = dims_[d_];",
            "}",
        ]
    )


def _reshape_body(node, ins, outs, cx):
    x, out = ins[0], outs[0]
    return "\n".join(
        [
            "{",
            f"    if (ag_is_contiguous(&{x})) {{",
            f"        {out}.data = {x}.data;",
            f"        ag_set_contiguous(&{out});",
            "    } else {",
            "        ag_buffer tmp_ = " + x + ";",
            "        size_t nbytes_ = 0;",
            '        int rc_ = ag_nbytes(&tmp_, &nbytes_, "reshape", err);',
            "        if (rc_) return rc_;",
            "        ag_set_contiguous(&tmp_);",
            "        tmp_.data = ag_ws_alloc(ws, nbytes_);",
            "        if (!tmp_.data && nbytes_) return ag_fail(err, AG_ERR_MEMORY, "
            '"reshape: out of memory");',
            f"        ag_copy(&tmp_, &{x});",
            f"        {out}.data = tmp_.data;",
            f"        ag_set_contiguous(&{out});",
            "    }",
            "}",
        ]
    )


RESHAPE_EMITTER = OpEmitter(shape=_reshape_shape, body=_reshape_body, view=True)

# --- shape_i, disconnected_grad -------------------------------------------------


def _shape_i_shape(node, ins, outs, cx):
    return f"{outs[0]}.ndim = 0;"


def _shape_i_body(node, ins, outs, cx):
    axis = int(params(node)["axis"])
    return f"*(int64_t *){outs[0]}.data = {ins[0]}.shape[{axis}];"


SHAPE_I_EMITTER = OpEmitter(shape=_shape_i_shape, body=_shape_i_body)


def _identity_shape(node, ins, outs, cx):
    x, out = ins[0], outs[0]
    return (
        f"{out}.ndim = {x}.ndim;\n"
        f"for (int d_ = 0; d_ < {x}.ndim; d_++) {out}.shape[d_] = {x}.shape[d_];"
    )


def _identity_body(node, ins, outs, cx):
    x, out = ins[0], outs[0]
    return (
        f"{out}.data = {x}.data;\n"
        f"for (int d_ = 0; d_ < {x}.ndim; d_++) {out}.strides[d_] = {x}.strides[d_];"
    )


IDENTITY_EMITTER = OpEmitter(shape=_identity_shape, body=_identity_body, view=True)

SHAPE_C_OPS = {
    "dimshuffle": DIMSHUFFLE_EMITTER,
    "reshape": RESHAPE_EMITTER,
    "shape_i": SHAPE_I_EMITTER,
    "disconnected_grad": IDENTITY_EMITTER,
}
