"""C emitter of the optimizer's ``fused_elementwise``: a chain of
elementwise steps in one loop (c_elemwise.emit_loop), optionally followed
by a reduction of the last step (``params["reduce"] = (op, axes,
keepdims)``) computed in the same loop nest without materializing the
elementwise result.

For the reduction form, the operands' strides are aligned to the
broadcast (pre-reduction) shape, split into kept and reduced axes and
coalesced jointly; each output element then evaluates the steps over its
reduced elements.  Float sums go through blocks of 256 values summed
pairwise in float64 (at least as accurate as numpy's pairwise sum).
"""

from __future__ import annotations

import numpy as np

from aotgraph.emit.c_common import (
    CTYPE,
    FLOATS,
    TAG,
    OpEmitter,
    as_tuple,
    c_literal,
    convert,
    params,
    shape_text_args,
)
from aotgraph.emit.c_elemwise import broadcast_shape_code, emit_loop, fused_steps_code
from aotgraph.emit.c_reduce import INT_LIMITS


def _reduce_spec(node):
    spec = as_tuple(params(node).get("reduce"))
    if spec is None:
        return None
    op, axes, keep = spec
    return op, tuple(int(a) for a in axes), bool(keep)


def _dtypes(node, cx):
    return [cx.var(v)["dtype"] for v in node["inputs"]], cx.var(node["outputs"][0])["dtype"]


def _step_dtype(node):
    return as_tuple(params(node)["steps"])[-1][1]


def _full_ndim(node, cx):
    return max((len(cx.var(v)["shape"]) for v in node["inputs"]), default=0)


def _fused_shape(node, ins, outs, cx):
    spec = _reduce_spec(node)
    if spec is None:
        return broadcast_shape_code(node, ins, outs[0], cx, label="fused_elementwise")
    op, axes, keep = spec
    out = outs[0]
    nd = _full_ndim(node, cx)
    n = len(ins)
    decls, args = shape_text_args(ins, [f"s{i}_" for i in range(n)])
    fmt = " ".join(["%s"] * n)
    lines = [
        "{",
        f"    const ag_buffer *ops_[{max(n, 1)}] = {{{', '.join('&' + b for b in ins)}}};",
        "    int64_t fsh_[AG_MAX_NDIM];",
        "    int axis_ = 0;",
        f"    if (ag_broadcast_shapes({n}, ops_, {nd}, fsh_, &axis_) != 0) {{",
        f"        {decls}",
        f'        return ag_fail(err, AG_ERR_VALUE, "fused_elementwise: operands could not be '
        f'broadcast together with shapes {fmt}", {args});',
        "    }",
        f"    {out}.ndim = {len(cx.var(node['outputs'][0])['shape'])};",
    ]
    j = 0
    for d in range(nd):
        if d in axes:
            if keep:
                lines.append(f"    {out}.shape[{j}] = 1;")
                j += 1
            continue
        lines.append(f"    {out}.shape[{j}] = fsh_[{d}];")
        j += 1
    if op in ("max", "min") and axes:
        cond = " || ".join(f"fsh_[{a}] == 0" for a in axes)
        lines.append(
            f'    if ({cond}) return ag_fail(err, AG_ERR_VALUE, "{op}: zero-size array '
            f'to reduction operation {op} which has no identity");'
        )
    lines.append("}")
    return "\n".join(lines)


def _element_acc(op, val_dt, out_dt):
    """(acc C type, init, per-element update of v_, final expression)."""
    if op == "sum" and val_dt in FLOATS:
        return (
            "double",
            "0",
            "buf_[nb_++] = (double)v_; if (nb_ == 256) { acc_ += ag_psum_f64(buf_, 256, 1); nb_ = 0; }",
            "acc_",
        )
    if op == "sum":
        return (
            CTYPE[out_dt],
            "0",
            f"acc_ = ag_add_{TAG[out_dt]}(acc_, {convert('v_', val_dt, out_dt)});",
            "acc_",
        )
    if op == "prod" and val_dt in FLOATS:  # own dtype: overflows to inf like numpy
        return CTYPE[val_dt], "1", "acc_ *= v_;", "acc_"
    if op == "prod":
        return (
            CTYPE[out_dt],
            "1",
            f"acc_ = ag_mul_{TAG[out_dt]}(acc_, {convert('v_', val_dt, out_dt)});",
            "acc_",
        )
    if op in ("max", "min"):
        cmp = ">" if op == "max" else "<"
        if val_dt in FLOATS:
            init = "-INFINITY" if op == "max" else "INFINITY"
            upd = f"acc_ = (acc_ != acc_) ? acc_ : ((v_ {cmp} acc_ || v_ != v_) ? v_ : acc_);"
            return CTYPE[val_dt], init, upd, "acc_"
        lo, hi = INT_LIMITS[val_dt]
        return (
            CTYPE[val_dt],
            lo if op == "max" else hi,
            f"acc_ = v_ {cmp} acc_ ? v_ : acc_;",
            "acc_",
        )
    if op == "all":
        return "int", "1", "acc_ &= (v_ != 0);", "acc_"
    if op == "any":
        return "int", "0", "acc_ |= (v_ != 0);", "acc_"
    raise NotImplementedError(f"C emitter: fused_elementwise cannot end in reduction {op!r}")


def _row_invariant(var, nd, axes):
    """Whether static lengths make ``var`` constant along the reduced axes
    (length 1 or absent there), like a keepdims max in ``x - max``."""
    lead = nd - len(var["shape"])
    return all(a < lead or var["shape"][a - lead] == 1 for a in axes)


def _loads(node, ins, cx, axes):
    """Load expressions per input for the unit-stride loop and the strided
    loop, and the run-time condition for the unit-stride loop."""
    nd = _full_ndim(node, cx)
    unit, strided, cond = [], [], []
    for i, vid in enumerate(node["inputs"]):
        value = cx.const_value(vid)
        if value is not None and np.size(value) == 1:
            lit = c_literal(np.asarray(value).reshape(()).item(), cx.var(vid)["dtype"])
            unit.append(lit)
            strided.append(lit)
            continue
        invariant = _row_invariant(cx.var(vid), nd, axes)
        unit.append(f"x{i}_[0]" if invariant else f"x{i}_[i_]")
        strided.append(f"x{i}_[i_ * rst_[{i}][nr_ - 1]]")
        cond.append(f"rst_[{i}][nr_ - 1] == {0 if invariant else 1}")
    return unit, strided, " && ".join(cond) or "1"


def _split_setup(ins, nd, axes):
    """Strides of every operand aligned to the broadcast shape, split into
    kept (ksh_/kst_) and reduced (rsh_/rst_) axes, each group coalesced."""
    n = len(ins)
    mask = ", ".join("1" if d in axes else "0" for d in range(nd)) or "0"
    lines = [
        f"    const ag_buffer *ops_[{max(n, 1)}] = {{{', '.join('&' + b for b in ins)}}};",
        f"    int64_t fsh_[AG_MAX_NDIM], st_[{n}][AG_MAX_NDIM];",
        f"    int64_t ksh_[AG_MAX_NDIM], kst_[{n}][AG_MAX_NDIM], rsh_[AG_MAX_NDIM], rst_[{n}][AG_MAX_NDIM];",
        "    int axis_ = 0, nk_ = 0, nr_ = 0, bad_ = 0;",
        f"    ag_broadcast_shapes({n}, ops_, {nd}, fsh_, &axis_);",
    ]
    lines += [f"    ag_bcast_strides(&{b}, {nd}, fsh_, st_[{i}]);" for i, b in enumerate(ins)]
    return lines + [
        f"    static const int red_[{max(nd, 1)}] = {{{mask}}};",
        f"    for (int d_ = 0; d_ < {nd}; d_++) {{",
        "        if (red_[d_]) { rsh_[nr_] = fsh_[d_];",
        f"            for (int k_ = 0; k_ < {n}; k_++) rst_[k_][nr_] = st_[k_][d_];",
        "            nr_++; }",
        "        else { ksh_[nk_] = fsh_[d_];",
        f"            for (int k_ = 0; k_ < {n}; k_++) kst_[k_][nk_] = st_[k_][d_];",
        "            nk_++; }",
        "    }",
        f"    nk_ = ag_coalesce({n}, nk_, ksh_, kst_);",
        f"    nr_ = ag_coalesce({n}, nr_, rsh_, rst_);",
        "    int64_t nout_ = 1, nrow_ = 1;",
        "    for (int d_ = 0; d_ < nk_; d_++) nout_ *= ksh_[d_];",
        "    for (int d_ = 0; d_ < nr_ - 1; d_++) nrow_ *= rsh_[d_];",
        "    const int64_t n_ = rsh_[nr_ - 1];",
        "    if (n_ == 0) nrow_ = 0;",
    ]


def _element_loop(stmts, res, val_dt, update):
    lines = ["for (int64_t i_ = 0; i_ < n_; i_++) {"]
    lines += [f"    {s}" for s in stmts]
    return lines + [f"    const {CTYPE[val_dt]} v_ = {res};", f"    {update}", "}"]


def _output_loop(in_dt, out_dt, val_dt, codes, acc, red):
    """One output element per iteration: the steps evaluated over its
    reduced elements, accumulated with ``acc``; ``codes`` are the steps for
    the unit-stride and the strided loop."""
    acc_t, init, update, final = acc
    chunked = "buf_" in update
    n = len(in_dt)
    lines = [
        "    #pragma omp parallel for if(nout_ * nrow_ * n_ >= AG_PAR_THRESHOLD && nout_ > 1 "
        f"&& nthreads > 1) num_threads(nthreads > 0 ? nthreads : 1) schedule(static){red}",
        "    for (int64_t j_ = 0; j_ < nout_; j_++) {",
        f"        int64_t base_[{n}], roff_[{n}];",
        f"        ag_row_offsets({n}, nk_ + 1, ksh_, kst_, j_, base_);",
        f"        {acc_t} acc_ = {init};",
    ]
    if chunked:
        lines.append("        double buf_[256]; int nb_ = 0;")
    lines += [
        "        for (int64_t r_ = 0; r_ < nrow_; r_++) {",
        f"            ag_row_offsets({n}, nr_, rsh_, rst_, r_, roff_);",
    ]
    lines += [
        f"            const {CTYPE[d]} *x{i}_ = p{i}_ + base_[{i}] + roff_[{i}]; (void)x{i}_;"
        for i, d in enumerate(in_dt)
    ]
    (su, ru), (ss, rs) = codes
    lines.append("            if (unit_) {")
    lines += ["                " + t for t in _element_loop(su, ru, val_dt, update)]
    lines.append("            } else {")
    lines += ["                " + t for t in _element_loop(ss, rs, val_dt, update)]
    lines += ["            }", "        }"]
    if chunked:
        lines.append("        if (nb_) acc_ += ag_psum_f64(buf_, nb_, 1);")
    return lines + [f"        o_[j_] = ({CTYPE[out_dt]})({final});", "    }"]


def _fused_reduce_body(node, ins, outs, cx):
    op, axes, _ = _reduce_spec(node)
    in_dt, out_dt = _dtypes(node, cx)
    val_dt = _step_dtype(node)
    unit, strided, cond = _loads(node, ins, cx, axes)
    codes = (fused_steps_code(node, unit, in_dt), fused_steps_code(node, strided, in_dt))
    red = " reduction(|:bad_)" if any("bad_" in s for s in codes[0][0]) else ""
    lines = ["{"] + _split_setup(ins, _full_ndim(node, cx), axes)
    lines.append(f"    const int unit_ = {cond};")
    lines.append(f"    {CTYPE[out_dt]} *const o_ = ({CTYPE[out_dt]} *){outs[0]}.data;")
    lines += [
        f"    const {CTYPE[d]} *const p{i}_ = (const {CTYPE[d]} *){b}.data;"
        for i, (b, d) in enumerate(zip(ins, in_dt))
    ]
    lines += _output_loop(in_dt, out_dt, val_dt, codes, _element_acc(op, val_dt, out_dt), red)
    if red:
        lines.append(
            '    if (bad_) return ag_fail(err, AG_ERR_VALUE, "fused_elementwise: '
            'Integers to negative integer powers are not allowed.");'
        )
    lines += ["    (void)bad_; (void)axis_;", "}"]
    return "\n".join(lines)


def _fused_body(node, ins, outs, cx):
    if _reduce_spec(node) is not None:
        return _fused_reduce_body(node, ins, outs, cx)
    in_dt, out_dt = _dtypes(node, cx)

    def compute(loads):
        return fused_steps_code(node, loads, in_dt)

    return emit_loop(cx, node, ins, outs[0], in_dt, out_dt, compute, label="fused_elementwise")


FUSED_EMITTER = OpEmitter(shape=_fused_shape, body=_fused_body, inplace_ok=(0, 1, 2))

FUSED_C_OPS = {"fused_elementwise": FUSED_EMITTER}
