"""C emitters of ``matmul`` (np.matmul semantics: 1-d operands, broadcast
batch dimensions) and the optimizer's ``gemm``.

float32/float64 products go through ag_sgemm/ag_dgemm (runtime_c/ag_blas.c:
CBLAS when loaded, else the built-in blocked GEMM).  An operand whose
matrix is a transposed view is passed with the transpose flag instead of
being copied; any other layout (broadcast rows, negative strides) is copied
to workspace memory first.  Integer, bool and mixed-dtype products use a
direct loop with numpy's wrap-around integer arithmetic.
"""

from __future__ import annotations

from aotgraph.emit.c_common import (
    CTYPE,
    FLOATS,
    TAG,
    OpEmitter,
    c_literal,
    convert,
    params,
    shape_text_args,
)
from aotgraph.emit.c_elemwise import emit_loop

_GEMM = {"float32": "ag_sgemm", "float64": "ag_dgemm"}


def _dims(buf, ndim, is_left):
    """C expressions (rows, cols, row stride, col stride) of the matrices
    of operand ``buf``; 1-d operands are a row (left) or a column (right)."""
    if ndim == 1:
        if is_left:
            return "1", f"{buf}.shape[0]", "0", f"{buf}.strides[0]"
        return f"{buf}.shape[0]", "1", f"{buf}.strides[0]", "0"
    return (
        f"{buf}.shape[{ndim - 2}]",
        f"{buf}.shape[{ndim - 1}]",
        f"{buf}.strides[{ndim - 2}]",
        f"{buf}.strides[{ndim - 1}]",
    )


def _matmul_shape(node, ins, outs, cx):
    a, b = ins
    out = outs[0]
    na = len(cx.var(node["inputs"][0])["shape"])
    nb = len(cx.var(node["inputs"][1])["shape"])
    nbo = max(na - 2, nb - 2, 0)
    am, ak, _, _ = _dims(a, na, True)
    bk, bn, _, _ = _dims(b, nb, False)
    decls, args = shape_text_args([a, b], ["s0_", "s1_"])
    lines = ["{", f"    {out}.ndim = {len(cx.var(node['outputs'][0])['shape'])};"]
    fail = (
        f'{{ {decls} return ag_fail(err, AG_ERR_VALUE, "matmul: shapes %s and %s are not '
        f'aligned: {{what}}", {args}); }}'
    )
    lines.append(f"    if ({ak} != {bk}) " + fail.replace("{what}", "inner dimensions differ"))
    for d in range(nbo):
        ea = _batch_len(a, na, nbo, d)
        eb = _batch_len(b, nb, nbo, d)
        lines.append(
            f"    if ({ea} != 1 && {eb} != 1 && {ea} != {eb}) "
            + fail.replace("{what}", "batch dimensions cannot be broadcast")
        )
        lines.append(f"    {out}.shape[{d}] = {ea} != 1 ? {ea} : {eb};")
    j = nbo
    if na > 1:
        lines.append(f"    {out}.shape[{j}] = {am};")
        j += 1
    if nb > 1:
        lines.append(f"    {out}.shape[{j}] = {bn};")
    lines.append("}")
    return "\n".join(lines)


def _batch_len(buf, nd, nbo, d):
    ax = d - (nbo - max(nd - 2, 0))
    return f"{buf}.shape[{ax}]" if ax >= 0 else "1"


def _batch_stride(buf, nd, nbo, d):
    ax = d - (nbo - max(nd - 2, 0))
    return f"({buf}.shape[{ax}] == 1 ? 0 : {buf}.strides[{ax}])" if ax >= 0 else "0"


def _matmul_body(node, ins, outs, cx):
    a, b = ins
    out = outs[0]
    na = len(cx.var(node["inputs"][0])["shape"])
    nb = len(cx.var(node["inputs"][1])["shape"])
    da, db = (cx.var(v)["dtype"] for v in node["inputs"])
    dout = cx.var(node["outputs"][0])["dtype"]
    nbo = max(na - 2, nb - 2, 0)
    m, k, sam, sak = _dims(a, na, True)
    _, n, sbk, sbn = _dims(b, nb, False)
    lines = [
        "{",
        f"    const int64_t m_ = {m}, k_ = {k}, n_ = {n};",
        f"    const int64_t sam_ = {sam}, sak_ = {sak}, sbk_ = {sbk}, sbn_ = {sbn};",
        "    int64_t bsh_[AG_MAX_NDIM], bst_[2][AG_MAX_NDIM], nbatch_ = 1;",
    ]
    for d in range(nbo):
        lines.append(f"    bsh_[{d}] = {out}.shape[{d}]; nbatch_ *= bsh_[{d}];")
        lines.append(f"    bst_[0][{d}] = {_batch_stride(a, na, nbo, d)};")
        lines.append(f"    bst_[1][{d}] = {_batch_stride(b, nb, nbo, d)};")
    lines.append(f"    const int nbd_ = {nbo};")
    ta, tb = CTYPE[da], CTYPE[db]
    lines += [
        f"    const {ta} *const a0_ = (const {ta} *){a}.data;",
        f"    const {tb} *const b0_ = (const {tb} *){b}.data;",
        f"    {CTYPE[dout]} *const c0_ = ({CTYPE[dout]} *){out}.data;",
    ]
    if da == db == dout and dout in FLOATS:
        lines.append(_blas_batches(dout))
    else:
        lines.append(_loop_batches(da, db, dout))
    lines.append("}")
    return "\n".join(lines)


def _blas_batches(dt):
    ct = CTYPE[dt]
    return f"""    if (m_ > 0 && n_ > 0) {{
        {ct} *pa_ = NULL, *pb_ = NULL;
        int ta_ = 0, tb_ = 0;
        int64_t lda_ = 0, ldb_ = 0;
        int ua_ = ag_gemm_layout(m_, k_, sam_, sak_, &ta_, &lda_);
        int ub_ = ag_gemm_layout(k_, n_, sbk_, sbn_, &tb_, &ldb_);
        if (!ua_ && m_ * k_ > 0) {{
            pa_ = ({ct} *)ag_ws_alloc(ws, sizeof({ct}) * (size_t)(m_ * k_));
            if (!pa_) return ag_fail(err, AG_ERR_MEMORY, "matmul: out of memory");
            ta_ = 0; lda_ = k_;
        }}
        if (!ub_ && k_ * n_ > 0) {{
            pb_ = ({ct} *)ag_ws_alloc(ws, sizeof({ct}) * (size_t)(k_ * n_));
            if (!pb_) return ag_fail(err, AG_ERR_MEMORY, "matmul: out of memory");
            tb_ = 0; ldb_ = n_;
        }}
        for (int64_t bi_ = 0; bi_ < nbatch_; bi_++) {{
            int64_t off_[2] = {{0, 0}};
            if (nbd_ > 0) ag_row_offsets(2, nbd_ + 1, bsh_, bst_, bi_, off_);
            const {ct} *ap_ = a0_ + off_[0], *bp_ = b0_ + off_[1];
            if (pa_) {{ ag_copy_matrix_{"f32" if dt == "float32" else "f64"}(pa_, ap_, m_, k_, sam_, sak_); ap_ = pa_; }}
            if (pb_) {{ ag_copy_matrix_{"f32" if dt == "float32" else "f64"}(pb_, bp_, k_, n_, sbk_, sbn_); bp_ = pb_; }}
            int rc_ = {_GEMM[dt]}(ta_, tb_, m_, n_, k_, 1, ap_, lda_, bp_, ldb_, 0,
                                  c0_ + bi_ * m_ * n_, n_, nthreads, err);
            if (rc_) return rc_;
        }}
    }}"""


def _loop_batches(da, db, dout):
    ct = CTYPE[dout]
    av = convert("a0_[off_[0] + i_ * sam_ + p_ * sak_]", da, dout)
    bv = convert("b0_[off_[1] + p_ * sbk_ + j_ * sbn_]", db, dout)
    if dout in FLOATS:
        acc_t, step, fin = "double", f"acc_ += (double){av} * (double){bv};", f"({ct})acc_"
    elif dout == "bool":
        acc_t, step, fin = "int", f"acc_ |= ({av} && {bv});", "acc_"
    else:
        t = TAG[dout]
        acc_t, step, fin = ct, f"acc_ = ag_add_{t}(acc_, ag_mul_{t}({av}, {bv}));", "acc_"
    return f"""    for (int64_t bi_ = 0; bi_ < nbatch_; bi_++) {{
        int64_t off_[2] = {{0, 0}};
        if (nbd_ > 0) ag_row_offsets(2, nbd_ + 1, bsh_, bst_, bi_, off_);
        {ct} *cp_ = c0_ + bi_ * m_ * n_;
        for (int64_t i_ = 0; i_ < m_; i_++)
            for (int64_t j_ = 0; j_ < n_; j_++) {{
                {acc_t} acc_ = 0;
                for (int64_t p_ = 0; p_ < k_; p_++) {step}
                cp_[i_ * n_ + j_] = {fin};
            }}
    }}"""


MATMUL_EMITTER = OpEmitter(shape=_matmul_shape, body=_matmul_body)


# --- gemm: alpha * op(a) @ op(b) + beta * c ---------------------------------


def _gemm_dims(node, ins):
    a, b = ins[0], ins[1]
    p = params(node)
    ta, tb = bool(p.get("trans_a")), bool(p.get("trans_b"))
    am = (
        (f"{a}.shape[1]", f"{a}.shape[0]", f"{a}.strides[1]", f"{a}.strides[0]")
        if ta
        else (f"{a}.shape[0]", f"{a}.shape[1]", f"{a}.strides[0]", f"{a}.strides[1]")
    )
    bm = (
        (f"{b}.shape[1]", f"{b}.shape[0]", f"{b}.strides[1]", f"{b}.strides[0]")
        if tb
        else (f"{b}.shape[0]", f"{b}.shape[1]", f"{b}.strides[0]", f"{b}.strides[1]")
    )
    return am, bm


def _gemm_shape(node, ins, outs, cx):
    am, bm = _gemm_dims(node, ins)
    out = outs[0]
    decls, args = shape_text_args(ins, [f"s{i}_" for i in range(len(ins))])
    fmt = " ".join(["%s"] * len(ins))
    lines = [
        "{",
        f"    {out}.ndim = 2; {out}.shape[0] = {am[0]}; {out}.shape[1] = {bm[1]};",
        f"    int bad_ = {am[1]} != {bm[0]};",
    ]
    if len(ins) > 2:
        c = ins[2]
        lines += [
            f"    for (int d_ = 0; d_ < {c}.ndim; d_++) {{",
            f"        int64_t cl_ = {c}.shape[d_], ol_ = {out}.shape[2 - {c}.ndim + d_];",
            "        if (cl_ != 1 && cl_ != ol_) bad_ = 1;",
            "    }",
        ]
    lines += [
        f'    if (bad_) {{ {decls} return ag_fail(err, AG_ERR_VALUE, "gemm: operands of shapes '
        f'{fmt} do not fit alpha * op(a) @ op(b) + beta * c", {args}); }}',
        "}",
    ]
    return "\n".join(lines)


def _gemm_body(node, ins, outs, cx):
    p = params(node)
    out = outs[0]
    dout = cx.var(node["outputs"][0])["dtype"]
    dtypes = [cx.var(v)["dtype"] for v in node["inputs"]]
    alpha, beta = float(p.get("alpha", 1.0)), float(p.get("beta", 0.0))
    am, bm = _gemm_dims(node, ins)
    lines = ["{"]
    if len(ins) > 2 and beta != 0:
        # out = c (broadcast), then BLAS scales it by beta and adds the product
        fill = emit_loop(
            _NoConst(cx),
            {"op": "gemm", "inputs": [node["inputs"][2]]},
            [ins[2]],
            out,
            [dtypes[2]],
            dout,
            lambda loads: ([], convert(loads[0], dtypes[2], dout)),
        )
        lines.append(fill)
    else:
        beta = 0.0
    ct = CTYPE[dout]
    if not (dtypes[0] == dtypes[1] == dout and dout in FLOATS):
        raise NotImplementedError(f"C emitter: gemm on dtypes {dtypes[:2]} -> {dout}")
    tag = TAG[dout]
    lines.append(f"""    const int64_t m_ = {am[0]}, k_ = {am[1]}, n_ = {bm[1]};
    if (m_ > 0 && n_ > 0) {{
        const {ct} *ap_ = (const {ct} *){ins[0]}.data, *bp_ = (const {ct} *){ins[1]}.data;
        int ta_ = 0, tb_ = 0;
        int64_t lda_ = 0, ldb_ = 0;
        if (!ag_gemm_layout(m_, k_, {am[2]}, {am[3]}, &ta_, &lda_) && m_ * k_ > 0) {{
            {ct} *t_ = ({ct} *)ag_ws_alloc(ws, sizeof({ct}) * (size_t)(m_ * k_));
            if (!t_) return ag_fail(err, AG_ERR_MEMORY, "gemm: out of memory");
            ag_copy_matrix_{tag}(t_, ap_, m_, k_, {am[2]}, {am[3]}); ap_ = t_; ta_ = 0; lda_ = k_;
        }}
        if (!ag_gemm_layout(k_, n_, {bm[2]}, {bm[3]}, &tb_, &ldb_) && k_ * n_ > 0) {{
            {ct} *t_ = ({ct} *)ag_ws_alloc(ws, sizeof({ct}) * (size_t)(k_ * n_));
            if (!t_) return ag_fail(err, AG_ERR_MEMORY, "gemm: out of memory");
            ag_copy_matrix_{tag}(t_, bp_, k_, n_, {bm[2]}, {bm[3]}); bp_ = t_; tb_ = 0; ldb_ = n_;
        }}
        int rc_ = {_GEMM[dout]}(ta_, tb_, m_, n_, k_, {c_literal(alpha, dout)}, ap_, lda_, bp_, ldb_,
                               {c_literal(beta, dout)}, ({ct} *){out}.data, n_, nthreads, err);
        if (rc_) return rc_;
    }}""")
    lines.append("}")
    return "\n".join(lines)


class _NoConst:
    """An emit context view that never inlines constants (the fill loop
    reads its operand from the buffer it is given)."""

    def __init__(self, cx):
        self._cx = cx

    def var(self, vid):
        return self._cx.var(vid)

    def const_value(self, vid):
        return None


GEMM_EMITTER = OpEmitter(shape=_gemm_shape, body=_gemm_body)

LINALG_C_OPS = {"matmul": MATMUL_EMITTER, "gemm": GEMM_EMITTER}
