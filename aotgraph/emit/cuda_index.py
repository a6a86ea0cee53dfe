"""CUDA kernel of ``adv_subtensor`` in its most common form, ``x[i]`` with
one integer-array index on the first axis (embedding look-ups, batch
selection), with numpy's bounds rule checked on the device: a thread that
meets an index outside ``[-n, n)`` records it in a device flag, the host
reads the flag after the kernel and raises IndexError naming the index and
the axis length.  Other index forms are CPU-only for now
(:func:`gather_supported`).
"""

from __future__ import annotations

from aotgraph.emit.c_common import CTYPE, as_tuple, params
from aotgraph.emit.cuda_common import CudaKernel, CudaOpEmitter, kernel_base, launch_code


def gather_supported(node) -> bool:
    return as_tuple(params(node).get("idx")) == (("array",),)


def gather_kernel(node, cx) -> CudaKernel:
    name = kernel_base(node)
    t = CTYPE[cx.var(node["inputs"][0])["dtype"]]
    it = CTYPE[cx.var(node["inputs"][1])["dtype"]]
    lines = [
        f'extern "C" __global__ void {name}({t} *out, const {t} *x, const {it} *idx, int64_t n_idx,',
        "    int64_t len0, int64_t stride0, int64_t inner, ag_cu_index iw, ag_cu_index xw,",
        "    unsigned long long *bad)",
        "{",
        "    const int64_t n = n_idx * inner;",
        "    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;",
        "         i += (int64_t)blockDim.x * gridDim.x) {",
        "        const int64_t j = i / inner, r = i - j * inner;",
        "        const int64_t k0 = (int64_t)idx[ag_cu_offset(iw, 1, j)];",
        "        const int64_t k = k0 < 0 ? k0 + len0 : k0;",
        "        if (k < 0 || k >= len0) {",
        "            /* the first thread to fail records its index (flag 1 + value) */",
        "            if (atomicCAS(&bad[0], 0ull, 1ull) == 0ull) bad[1] = (unsigned long long)k0;",
        "            continue;",
        "        }",
        "        out[i] = x[k * stride0 + ag_cu_offset(xw, 2, r)];",
        "    }",
        "}",
    ]
    params_ = (
        f"{t} *",
        f"const {t} *",
        f"const {it} *",
        "int64_t",
        "int64_t",
        "int64_t",
        "int64_t",
        "ag_cu_index",
        "ag_cu_index",
        "unsigned long long *",
    )
    return CudaKernel(name, params_, "\n".join(lines))


def _gather_shape(node, ins, outs, cx):
    x, i, out = ins[0], ins[1], outs[0]
    return "\n".join(
        [
            "{",
            f'    if ({x}.ndim < 1) return ag_fail(err, AG_ERR_INDEX, "adv_subtensor: too many indices '
            'for a 0-d array");',
            f"    {out}.ndim = {i}.ndim + {x}.ndim - 1;",
            f"    for (int d_ = 0; d_ < {i}.ndim; d_++) {out}.shape[d_] = {i}.shape[d_];",
            f"    for (int d_ = 1; d_ < {x}.ndim; d_++) {out}.shape[{i}.ndim + d_ - 1] = {x}.shape[d_];",
            "}",
        ]
    )


def _gather_body(node, ins, outs, cx):
    kernel = gather_kernel(node, cx)
    (x, i), out = ins, outs[0]
    t = CTYPE[cx.var(node["inputs"][0])["dtype"]]
    it = CTYPE[cx.var(node["inputs"][1])["dtype"]]
    lines = [
        "{",
        f"    if ({i}.ndim > AG_CU_MAXND || {x}.ndim - 1 > AG_CU_MAXND)",
        '        return ag_fail(err, AG_ERR_VALUE, "adv_subtensor: the CUDA target supports at most '
        '%d axes", AG_CU_MAXND);',
        f"    int64_t n_idx_ = ag_size(&{i}), inner_ = 1;",
        f"    for (int d_ = 1; d_ < {x}.ndim; d_++) inner_ *= {x}.shape[d_];",
        f"    {t} *o_ = ({t} *){out}.data;",
        f"    const {t} *x_ = (const {t} *){x}.data;",
        f"    const {it} *i_ = (const {it} *){i}.data;",
        f"    int64_t len0_ = {x}.shape[0], st0_ = {x}.strides[0];",
        "    /* iw_ walks the index array (operand 1), xw_ x's trailing axes (operand 2) */",
        "    ag_cu_index iw_, xw_;",
        "    memset(&iw_, 0, sizeof iw_);",
        "    memset(&xw_, 0, sizeof xw_);",
        f"    iw_.ndim = {i}.ndim;",
        f"    for (int d_ = 0; d_ < {i}.ndim; d_++) {{ iw_.shape[d_] = {i}.shape[d_]; "
        f"iw_.strides[1][d_] = {i}.strides[d_]; }}",
        f"    xw_.ndim = {x}.ndim - 1;",
        f"    for (int d_ = 1; d_ < {x}.ndim; d_++) {{ xw_.shape[d_ - 1] = {x}.shape[d_]; "
        f"xw_.strides[2][d_ - 1] = {x}.strides[d_]; }}",
        "    unsigned long long *bad_ = NULL, hbad_[2] = {0, 0};",
        "    if (n_idx_ * inner_ > 0) {",
        "        if (ag_cu_malloc((void **)&bad_, sizeof hbad_, err)) return err->code;",
        "        if (ag_cu_memset0(bad_, sizeof hbad_, err)) { ag_cu_free(bad_); return err->code; }",
        launch_code(
            kernel,
            ["o_", "x_", "i_", "n_idx_", "len0_", "st0_", "inner_", "iw_", "xw_", "bad_"],
            ("ag_cu_blocks(n_idx_ * inner_, AG_CU_THREADS)", "1", "1"),
            ("AG_CU_THREADS", "1", "1"),
        ).replace("return rc_;", "{ ag_cu_free(bad_); return rc_; }"),
        "        int rc_ = ag_cu_memcpy_dtoh(hbad_, bad_, sizeof hbad_, err);",
        "        ag_cu_free(bad_);",
        "        if (rc_) return rc_;",
        "        if (hbad_[0])",
        '            return ag_fail(err, AG_ERR_INDEX, "adv_subtensor: index %lld is out of bounds '
        'for axis 0 with size %lld", (long long)hbad_[1], (long long)len0_);',
        "    }",
        "}",
    ]
    return "\n".join(lines)


INDEX_CUDA_OPS = {
    "adv_subtensor": CudaOpEmitter(
        shape=_gather_shape, body=_gather_body, kernels=lambda node, cx: [gather_kernel(node, cx)]
    ),
}
