"""C emitters of reductions: sum, prod, max, min, all, any, argmax,
argmin, sum_to_like.

One loop nest for all of them: the input's axes are split (at run time,
from a mask) into kept axes, which enumerate the contiguous output in C
order, and reduced axes; both groups are coalesced.  Each output element
accumulates its reduced elements row by row over the innermost reduced
axis.  OpenMP splits the outputs.  Float sums are pairwise with float64
accumulation (more accurate than numpy's float32 pairwise sums); float
products accumulate in their own dtype (overflowing to inf as numpy's do);
integer sums and products wrap like numpy's.  max/min/argmax/argmin
propagate NaN as numpy does (the first NaN wins).
"""

from __future__ import annotations

from aotgraph.emit.c_common import (
    CTYPE,
    FLOATS,
    TAG,
    OpEmitter,
    as_tuple,
    convert,
    params,
    shape_text_args,
)

INT_LIMITS = {
    "int8": ("INT8_MIN", "INT8_MAX"),
    "int16": ("INT16_MIN", "INT16_MAX"),
    "int32": ("INT32_MIN", "INT32_MAX"),
    "int64": ("INT64_MIN", "INT64_MAX"),
    "uint8": ("0", "UINT8_MAX"),
    "uint16": ("0", "UINT16_MAX"),
    "uint32": ("0", "UINT32_MAX"),
    "uint64": ("0", "UINT64_MAX"),
    "bool": ("0", "1"),
}


def _row_loop(body):
    """A loop over one row of ``n_`` elements; ``body`` formats ``{x}``
    (the element).  Unit-stride rows get their own loop, which vectorizes."""
    loop = "for (int64_t i_ = 0; i_ < n_; i_++) "
    return (
        f"if (s_ == 1) {{ {loop}{body.format(x='xr_[i_]')} }} "
        f"else {{ {loop}{body.format(x='xr_[i_ * s_]')} }}"
    )


def _accumulator(op, in_dt, out_dt):
    """(accumulator C type, initial value, inner-row statement, final expr).

    The row statement sees ``xr_`` (row start), ``n_`` (length), ``s_``
    (stride) and ``r_`` (row number), and updates ``acc_`` (and ``nan_``,
    set when a float max/min met a NaN: numpy's result is then NaN).
    """
    if op == "sum" and in_dt in FLOATS:
        return "double", "0", f"acc_ += ag_psum_{TAG[in_dt]}(xr_, n_, s_);", "acc_"
    if op in ("sum", "prod") and in_dt not in FLOATS:
        fn = "add" if op == "sum" else "mul"
        v = (
            convert("{x}", in_dt, out_dt)
            .replace("{", "{{")
            .replace("}", "}}")
            .replace("{{x}}", "{x}")
        )
        return (
            CTYPE[out_dt],
            "0" if op == "sum" else "1",
            _row_loop(f"acc_ = ag_{fn}_{TAG[out_dt]}(acc_, {v});"),
            "acc_",
        )
    if op == "prod":  # in the dtype itself: float32 overflows to inf like numpy's
        return CTYPE[in_dt], "1", _row_loop("acc_ *= {x};"), "acc_"
    if op in ("max", "min"):
        cmp = ">" if op == "max" else "<"
        ct = CTYPE[in_dt]
        if in_dt in FLOATS:  # lanes in ag_kernels.h; a NaN sets nan_
            init = "-INFINITY" if op == "max" else "INFINITY"
            step = f"acc_ = ag_{op}row_{TAG[in_dt]}(xr_, n_, s_, acc_, &nan_);"
            return ct, init, step, f"(nan_ ? ({ct})NAN : acc_)"
        lo, hi = INT_LIMITS[in_dt]
        step = f"{{{{ {ct} v_ = {{x}}; acc_ = v_ {cmp} acc_ ? v_ : acc_; }}}}"
        return ct, lo if op == "max" else hi, _row_loop(step), "acc_"
    if op == "all":
        return "int", "1", _row_loop("acc_ &= ({x} != 0);"), "acc_"
    if op == "any":
        return "int", "0", _row_loop("acc_ |= ({x} != 0);"), "acc_"
    raise NotImplementedError(f"C emitter: no reduction code for {op!r}")


def _arg_accumulator(op, in_dt):
    x = "xr_[i_ * s_]"
    cmp = ">" if op == "argmax" else "<"
    if in_dt in FLOATS:
        init = "-INFINITY" if op == "argmax" else "INFINITY"
        better = f"(v_ {cmp} best_ || (v_ != v_ && best_ == best_))"
    else:
        lo, hi = INT_LIMITS[in_dt]
        init = lo if op == "argmax" else hi
        better = f"(v_ {cmp} best_)"
    step = (
        "for (int64_t i_ = 0; i_ < n_; i_++) { "
        f"{CTYPE[in_dt]} v_ = {x}; "
        f"if ({better}) {{ best_ = v_; acc_ = r_ * n_ + i_; }} }}"
    )
    return init, step


def reduction_loop(x, out, in_dt, out_dt, mask_code, acc):
    """The loop nest: ``mask_code`` fills ``red_[d]`` (1 = reduced axis)."""
    ctype, init, step, final = acc[:4]
    best = acc[4] if len(acc) > 4 else None
    it, ot = CTYPE[in_dt], CTYPE[out_dt]
    lines = [
        "{",
        "    int red_[AG_MAX_NDIM] = {0};",
        mask_code,
        "    int64_t ksh_[AG_MAX_NDIM], kst_[1][AG_MAX_NDIM], rsh_[AG_MAX_NDIM], rst_[1][AG_MAX_NDIM];",
        "    int nk_ = 0, nr_ = 0;",
        f"    for (int d_ = 0; d_ < {x}.ndim; d_++) {{",
        f"        if (red_[d_]) {{ rsh_[nr_] = {x}.shape[d_]; rst_[0][nr_++] = {x}.strides[d_]; }}",
        f"        else {{ ksh_[nk_] = {x}.shape[d_]; kst_[0][nk_++] = {x}.strides[d_]; }}",
        "    }",
        "    nk_ = ag_coalesce(1, nk_, ksh_, kst_);",
        "    nr_ = ag_coalesce(1, nr_, rsh_, rst_);",
        "    int64_t nout_ = 1, nrow_ = 1;",
        "    for (int d_ = 0; d_ < nk_; d_++) nout_ *= ksh_[d_];",
        "    for (int d_ = 0; d_ < nr_ - 1; d_++) nrow_ *= rsh_[d_];",
        "    const int64_t n_ = rsh_[nr_ - 1], s_ = rst_[0][nr_ - 1];",
        "    if (n_ == 0) nrow_ = 0;",
        f"    const {it} *const x0_ = (const {it} *){x}.data;",
        f"    {ot} *const o_ = ({ot} *){out}.data;",
        "    #pragma omp parallel for if(nout_ * nrow_ * n_ >= AG_PAR_THRESHOLD && nout_ > 1 "
        "&& nthreads > 1) num_threads(nthreads > 0 ? nthreads : 1) schedule(static)",
        "    for (int64_t j_ = 0; j_ < nout_; j_++) {",
        "        int64_t base_, roff_;",
        "        ag_row_offsets(1, nk_ + 1, ksh_, kst_, j_, &base_);",
        f"        {ctype} acc_ = {init};",
        "        int nan_ = 0; (void)nan_;",
    ]
    if best is not None:
        lines.append(f"        {it} best_ = {best};")
    lines += [
        "        for (int64_t r_ = 0; r_ < nrow_; r_++) {",
        "            ag_row_offsets(1, nr_, rsh_, rst_, r_, &roff_);",
        f"            const {it} *xr_ = x0_ + base_ + roff_;",
        f"            {step}",
        "        }",
        f"        o_[j_] = ({ot})({final});",
        "    }",
        "}",
    ]
    return "\n".join(lines)


def _static_mask(axes):
    return "\n".join(f"    red_[{a}] = 1;" for a in axes) or "    (void)0;"


def _in_out(node, cx):
    return cx.var(node["inputs"][0])["dtype"], cx.var(node["outputs"][0])["dtype"]


def _reduce_shape(node, ins, outs, cx):
    p = params(node)
    op = node["op"]
    x, out = ins[0], outs[0]
    axes = _axes(node, cx)
    keep = bool(p.get("keepdims"))
    ndim = len(cx.var(node["inputs"][0])["shape"])
    lines = ["{", f"    {out}.ndim = {len(cx.var(node['outputs'][0])['shape'])};"]
    j = 0
    for d in range(ndim):
        if d in axes:
            if keep:
                lines.append(f"    {out}.shape[{j}] = 1;")
                j += 1
            continue
        lines.append(f"    {out}.shape[{j}] = {x}.shape[{d}];")
        j += 1
    if op in ("max", "min", "argmax", "argmin") and axes:
        decls, args = shape_text_args([x], ["s0_"])
        cond = " || ".join(f"{x}.shape[{a}] == 0" for a in axes)
        what = {"max": "maximum", "min": "minimum"}.get(op, op)
        lines += [
            f"    if ({cond}) {{",
            f"        {decls}",
            f'        return ag_fail(err, AG_ERR_VALUE, "{op}: zero-size array to reduction '
            f'operation {what} which has no identity (input shape %s)", {args});',
            "    }",
        ]
    lines.append("}")
    return "\n".join(lines)


def _axes(node, cx):
    ndim = len(cx.var(node["inputs"][0])["shape"])
    axis = as_tuple(params(node).get("axis"))
    if node["op"] in ("argmax", "argmin"):
        return tuple(range(ndim)) if axis is None else (int(axis),)
    return tuple(int(a) for a in axis)


def _reduce_body(node, ins, outs, cx):
    in_dt, out_dt = _in_out(node, cx)
    acc = _accumulator(node["op"], in_dt, out_dt)
    return reduction_loop(ins[0], outs[0], in_dt, out_dt, _static_mask(_axes(node, cx)), acc)


def _arg_body(node, ins, outs, cx):
    in_dt, out_dt = _in_out(node, cx)
    init, step = _arg_accumulator(node["op"], in_dt)
    acc = ("int64_t", "0", step, "acc_", init)
    return reduction_loop(ins[0], outs[0], in_dt, out_dt, _static_mask(_axes(node, cx)), acc)


REDUCE_EMITTER = OpEmitter(shape=_reduce_shape, body=_reduce_body)
ARG_EMITTER = OpEmitter(shape=_reduce_shape, body=_arg_body)


# --- sum_to_like -----------------------------------------------------------


def _sum_to_like_shape(node, ins, outs, cx):
    g, like = ins
    out = outs[0]
    decls, args = shape_text_args([g, like], ["s0_", "s1_"])
    return "\n".join(
        [
            "{",
            f"    int lead_ = {g}.ndim - {like}.ndim;",
            f"    {out}.ndim = {like}.ndim;",
            f"    for (int d_ = 0; d_ < {like}.ndim; d_++) {{",
            f"        int64_t gl_ = {g}.shape[lead_ + d_], ll_ = {like}.shape[d_];",
            "        if (ll_ != 1 && gl_ != ll_) {",
            f"            {decls}",
            '            return ag_fail(err, AG_ERR_VALUE, "sum_to_like: gradient of shape %s '
            f'cannot be summed to shape %s (axis %d)", {args}, d_);',
            "        }",
            f"        {out}.shape[d_] = ll_;",
            "    }",
            "}",
        ]
    )


def _sum_to_like_body(node, ins, outs, cx):
    g, like = ins
    in_dt = cx.var(node["inputs"][0])["dtype"]
    out_dt = cx.var(node["outputs"][0])["dtype"]
    mask = "\n".join(
        [
            f"    int lead_ = {g}.ndim - {like}.ndim;",
            f"    for (int d_ = 0; d_ < {g}.ndim; d_++)",
            f"        red_[d_] = d_ < lead_ || ({like}.shape[d_ - lead_] == 1 && {g}.shape[d_] != 1);",
        ]
    )
    # numpy sums then casts back to g's dtype: integers wrap in their own
    # width, bools become "any"
    acc = _accumulator("sum" if in_dt != "bool" else "any", in_dt, out_dt)
    return reduction_loop(g, outs[0], in_dt, out_dt, mask, acc)


SUM_TO_LIKE_EMITTER = OpEmitter(shape=_sum_to_like_shape, body=_sum_to_like_body)

REDUCE_C_OPS = {
    "sum": REDUCE_EMITTER,
    "prod": REDUCE_EMITTER,
    "max": REDUCE_EMITTER,
    "min": REDUCE_EMITTER,
    "all": REDUCE_EMITTER,
    "any": REDUCE_EMITTER,
    "argmax": ARG_EMITTER,
    "argmin": ARG_EMITTER,
    "sum_to_like": SUM_TO_LIKE_EMITTER,
}
