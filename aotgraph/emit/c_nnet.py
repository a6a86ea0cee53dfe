"""C emitters of the neural-network ops: softmax and log_softmax along
one axis (max-shifted, as the reference), crossentropy_1hot and its
gradient (labels checked against the number of classes: IndexError).

softmax/log_softmax walk every "row" along the axis (all other axes
coalesced, rows split among OpenMP threads); each row is read three times
(max, sum of exponentials, output) and the sum accumulates in float64.
"""

from __future__ import annotations

from aotgraph.emit.c_common import CTYPE, OpEmitter, params, shape_text_args


def _same_shape(node, ins, outs, cx):
    x, out = ins[0], outs[0]
    return (
        f"{out}.ndim = {x}.ndim;\n"
        f"for (int d_ = 0; d_ < {x}.ndim; d_++) {out}.shape[d_] = {x}.shape[d_];"
    )


def _softmax_body(node, ins, outs, cx):
    x, out = ins[0], outs[0]
    axis = int(params(node)["axis"])
    dt = cx.var(node["inputs"][0])["dtype"]
    ct, f = CTYPE[dt], "f" if dt == "float32" else ""
    if node["op"] == "softmax":  # exponentials stored, then scaled: one exp per element
        store = f"y_[i_ * so_] = ({ct})e_;"
        write = f"y_[i_ * so_] = ({ct})((double)y_[i_ * so_] * inv_);"
    else:
        store = ""
        write = f"y_[i_ * so_] = ({ct})((xr_[i_ * sx_] - m_) - ({ct})log(s_));"
    return f"""{{
    int64_t ksh_[AG_MAX_NDIM], kst_[2][AG_MAX_NDIM];
    int nk_ = 0;
    for (int d_ = 0; d_ < {x}.ndim; d_++) {{
        if (d_ == {axis}) continue;
        ksh_[nk_] = {x}.shape[d_]; kst_[0][nk_] = {out}.strides[d_]; kst_[1][nk_] = {x}.strides[d_];
        nk_++;
    }}
    nk_ = ag_coalesce(2, nk_, ksh_, kst_);
    int64_t nrow_ = 1;
    for (int d_ = 0; d_ < nk_; d_++) nrow_ *= ksh_[d_];
    const int64_t n_ = {x}.shape[{axis}], sx_ = {x}.strides[{axis}], so_ = {out}.strides[{axis}];
    if (n_ == 0) nrow_ = 0;
    const {ct} *const x0_ = (const {ct} *){x}.data;
    {ct} *const y0_ = ({ct} *){out}.data;
    #pragma omp parallel for if(nrow_ * n_ >= AG_PAR_THRESHOLD / 4 && nrow_ > 1 && nthreads > 1) num_threads(nthreads > 0 ? nthreads : 1) schedule(static)
    for (int64_t r_ = 0; r_ < nrow_; r_++) {{
        int64_t off_[2];
        ag_row_offsets(2, nk_ + 1, ksh_, kst_, r_, off_);
        const {ct} *xr_ = x0_ + off_[1];
        {ct} *y_ = y0_ + off_[0];
        {ct} m_ = -INFINITY;
        for (int64_t i_ = 0; i_ < n_; i_++) {{
            {ct} v_ = xr_[i_ * sx_];
            m_ = (m_ != m_) ? m_ : ((v_ > m_ || v_ != v_) ? v_ : m_);
        }}
        double s_ = 0;
        for (int64_t i_ = 0; i_ < n_; i_++) {{
            const {ct} e_ = ag_exp{f}(xr_[i_ * sx_] - m_);
            s_ += (double)e_;
            {store}
        }}
        const double inv_ = 1.0 / s_;
        (void)inv_;
        for (int64_t i_ = 0; i_ < n_; i_++) {write}
    }}
}}"""


SOFTMAX_EMITTER = OpEmitter(shape=_same_shape, body=_softmax_body)


# --- crossentropy_1hot ---------------------------------------------------------


def _xent_check(node, p, y, op):
    decls, args = shape_text_args([p, y], ["s0_", "s1_"])
    return (
        f"    if ({y}.shape[0] != {p}.shape[0]) {{ {decls} return ag_fail(err, AG_ERR_VALUE, "
        f'"{op}: probabilities of shape %s but labels of shape %s", {args}); }}'
    )


def _label_loop(node, cx, p, y, op, body):
    """Loop over rows with the label checked; ``body`` sees i_, c_ (the
    label), prow_ (pointer to row i of p)."""
    pt = CTYPE[cx.var(node["inputs"][-2])["dtype"]]
    yt = CTYPE[cx.var(node["inputs"][-1])["dtype"]]
    return f"""    const {pt} *const p0_ = (const {pt} *){p}.data;
    const {yt} *const y0_ = (const {yt} *){y}.data;
    const int64_t k_ = {p}.shape[1];
    for (int64_t i_ = 0; i_ < {p}.shape[0]; i_++) {{
        {yt} lab_ = y0_[i_ * {y}.strides[0]];
        if (lab_ < 0 || (uint64_t)lab_ >= (uint64_t)k_)
            return ag_fail(err, AG_ERR_INDEX, "{op}: label %lld is out of range for %lld classes",
                           (long long)lab_, (long long)k_);
        const int64_t c_ = (int64_t)lab_;
        const {pt} *prow_ = p0_ + i_ * {p}.strides[0];
        {body}
    }}"""


def _xent_shape(node, ins, outs, cx):
    p, y = ins
    return "\n".join(
        [
            "{",
            _xent_check(node, p, y, "crossentropy_1hot"),
            f"    {outs[0]}.ndim = 1; {outs[0]}.shape[0] = {p}.shape[0];",
            "}",
        ]
    )


def _xent_body(node, ins, outs, cx):
    p, y = ins
    dt = cx.var(node["inputs"][0])["dtype"]
    ct, f = CTYPE[dt], "f" if dt == "float32" else ""
    body = f"(({ct} *){outs[0]}.data)[i_] = -ag_log{f}(prow_[c_ * {p}.strides[1]]);"
    return "{\n" + _label_loop(node, cx, p, y, "crossentropy_1hot", body) + "\n}"


def _xent_grad_shape(node, ins, outs, cx):
    g, p, y = ins
    decls, args = shape_text_args([g, p], ["s0_", "s1_"])
    return "\n".join(
        [
            "{",
            _xent_check(node, p, y, "crossentropy_1hot_grad"),
            f"    if ({g}.ndim == 1 && {g}.shape[0] != 1 && {g}.shape[0] != {p}.shape[0]) {{ {decls} "
            'return ag_fail(err, AG_ERR_VALUE, "crossentropy_1hot_grad: output gradient of shape %s '
            f'does not fit probabilities of shape %s", {args}); }}',
            f"    {outs[0]}.ndim = 2; {outs[0]}.shape[0] = {p}.shape[0]; {outs[0]}.shape[1] = {p}.shape[1];",
            "}",
        ]
    )


def _xent_grad_body(node, ins, outs, cx):
    g, p, y = ins
    dt = cx.var(node["inputs"][1])["dtype"]
    ct = CTYPE[dt]
    gstride = f"({g}.ndim == 1 && {g}.shape[0] != 1 ? {g}.strides[0] : 0)"
    body = f"o_[i_ * k_ + c_] = -g0_[i_ * gs_] / prow_[c_ * {p}.strides[1]];"
    return "\n".join(
        [
            "{",
            f"    {ct} *const o_ = ({ct} *){outs[0]}.data;",
            f"    const {ct} *const g0_ = (const {ct} *){g}.data;",
            f"    const int64_t gs_ = {gstride};",
            f"    if (ag_size(&{outs[0]}) > 0) memset(o_, 0, sizeof({ct}) * (size_t)ag_size(&{outs[0]}));",
            _label_loop(node, cx, p, y, "crossentropy_1hot_grad", body),
            "}",
        ]
    )


NNET_C_OPS = {
    "softmax": SOFTMAX_EMITTER,
    "log_softmax": SOFTMAX_EMITTER,
    "crossentropy_1hot": OpEmitter(shape=_xent_shape, body=_xent_body),
    "crossentropy_1hot_grad": OpEmitter(shape=_xent_grad_shape, body=_xent_grad_body),
}
