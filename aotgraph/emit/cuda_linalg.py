"""CUDA kernels of ``matmul`` (np.matmul semantics: 1-d operands, broadcast
batch axes) and ``gemm`` (alpha/beta, transposes, broadcast bias ``c``).

One tiled kernel serves both: a block of AG_CU_TILE x AG_CU_TILE threads
computes a tile of the output, staging AG_CU_TILE-wide slabs of A and B in
shared memory (padded by one column against bank conflicts); tiles and
batch entries are walked grid-stride so any size fits the grid limits.
Operands are read through their strides (transposes and 1-d operands are
just strides, never copies) and converted to the accumulator dtype on
load.  The epilogue applies alpha, the bias ``beta * c`` and the output
cast.  Integer and bool products wrap as numpy's do.
"""

from __future__ import annotations

from aotgraph.emit.c_common import CTYPE, c_literal, convert, params
from aotgraph.emit.c_elemwise import scalar_expr
from aotgraph.emit.c_linalg import LINALG_C_OPS
from aotgraph.emit.cuda_common import CudaKernel, CudaOpEmitter, kernel_base, launch_code


def _acc_dtype(out_dt):
    return out_dt


def gemm_kernel(node, cx) -> CudaKernel:
    name = kernel_base(node)
    in_dt = [cx.var(v)["dtype"] for v in node["inputs"]]
    out_dt = cx.var(node["outputs"][0])["dtype"]
    acc = _acc_dtype(out_dt)
    at, ot = CTYPE[acc], CTYPE[out_dt]
    has_c = len(in_dt) > 2
    c_dt = in_dt[2] if has_c else out_dt
    fma = scalar_expr(
        "add",
        [
            ("acc_", acc),
            (scalar_expr("mul", [("As_[ty][kk]", acc), ("Bs_[kk][tx]", acc)], acc), acc),
        ],
        acc,
    )
    la = convert("a[oa_ + row * g.sa[0] + (k0 + tx) * g.sa[1]]", in_dt[0], acc)
    lb = convert("b[ob_ + (k0 + ty) * g.sb[0] + col * g.sb[1]]", in_dt[1], acc)
    result = "acc_"
    if node["op"] == "gemm":
        alpha = float(params(node).get("alpha", 1.0))
        if alpha != 1.0:
            result = scalar_expr("mul", [(c_literal(alpha, acc), acc), ("acc_", acc)], acc)
        if has_c:
            beta = float(params(node).get("beta", 0.0))
            cval = convert("c[oc_ + row * g.sc[0] + col * g.sc[1]]", c_dt, acc)
            bias = (
                cval
                if beta == 1.0
                else scalar_expr("mul", [(c_literal(beta, acc), acc), (cval, acc)], acc)
            )
            result = scalar_expr("add", [(result, acc), (bias, acc)], acc)
    ptypes = (
        f"{ot} *",
        f"const {CTYPE[in_dt[0]]} *",
        f"const {CTYPE[in_dt[1]]} *",
        f"const {CTYPE[c_dt]} *",
        "ag_cu_gemm",
    )
    lines = [
        f'extern "C" __global__ void {name}({ot} *out, const {CTYPE[in_dt[0]]} *a, '
        f"const {CTYPE[in_dt[1]]} *b, const {CTYPE[c_dt]} *c, ag_cu_gemm g)",
        "{",
        f"    __shared__ {at} As_[AG_CU_TILE][AG_CU_TILE + 1];",
        f"    __shared__ {at} Bs_[AG_CU_TILE][AG_CU_TILE + 1];",
        "    const int tx = threadIdx.x, ty = threadIdx.y;",
        "    const int64_t tiles_m = (g.m + AG_CU_TILE - 1) / AG_CU_TILE;",
        "    const int64_t tiles_n = (g.n + AG_CU_TILE - 1) / AG_CU_TILE;",
        "    (void)c;",
        "    for (int64_t bt = blockIdx.z; bt < g.nbatch; bt += gridDim.z) {",
        "        const int64_t oo_ = ag_cu_offset(g.batch, 0, bt), oa_ = ag_cu_offset(g.batch, 1, bt);",
        "        const int64_t ob_ = ag_cu_offset(g.batch, 2, bt), oc_ = ag_cu_offset(g.batch, 3, bt);",
        "        (void)oc_;",
        "        for (int64_t tm = blockIdx.y; tm < tiles_m; tm += gridDim.y)",
        "        for (int64_t tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {",
        "            const int64_t row = tm * AG_CU_TILE + ty, col = tn * AG_CU_TILE + tx;",
        f"            {at} acc_ = 0;",
        "            for (int64_t k0 = 0; k0 < g.k; k0 += AG_CU_TILE) {",
        f"                As_[ty][tx] = (row < g.m && k0 + tx < g.k) ? {la} : ({at})0;",
        f"                Bs_[ty][tx] = (k0 + ty < g.k && col < g.n) ? {lb} : ({at})0;",
        "                __syncthreads();",
        "                for (int kk = 0; kk < AG_CU_TILE; kk++)",
        f"                    acc_ = {fma};",
        "                __syncthreads();",
        "            }",
        "            if (row < g.m && col < g.n)",
        f"                out[oo_ + row * g.so[0] + col * g.so[1]] = {convert(result, acc, out_dt)};",
        "        }",
        "    }",
        "}",
    ]
    return CudaKernel(name, ptypes, "\n".join(lines))


def _matrix(buf, nd, left):
    """(rows, cols, row stride, col stride) C expressions of an operand."""
    if nd == 1:
        if left:
            return "1", f"{buf}.shape[0]", "0", f"{buf}.strides[0]"
        return f"{buf}.shape[0]", "1", f"{buf}.strides[0]", "0"
    return (
        f"{buf}.shape[{nd - 2}]",
        f"{buf}.shape[{nd - 1}]",
        f"{buf}.strides[{nd - 2}]",
        f"{buf}.strides[{nd - 1}]",
    )


def _batch_lines(bufs_nds, out, nbo):
    """Fill g_.batch over the nbo leading output axes (operands out, a, b, c)."""
    lines = [f"    g_.batch.ndim = {nbo};", "    g_.nbatch = 1;"]
    for d in range(nbo):
        lines += [
            f"    g_.batch.shape[{d}] = {out}.shape[{d}];",
            f"    g_.nbatch *= {out}.shape[{d}];",
            f"    g_.batch.strides[0][{d}] = {out}.strides[{d}];",
        ]
        for k, (buf, mat_nd, nd) in enumerate(bufs_nds, start=1):
            ad = d - (nbo - (nd - mat_nd))
            if buf is None or ad < 0:
                lines.append(f"    g_.batch.strides[{k}][{d}] = 0;")
            else:
                lines.append(
                    f"    g_.batch.strides[{k}][{d}] = {buf}.shape[{ad}] == 1 ? 0 : "
                    f"{buf}.strides[{ad}];"
                )
    return lines


def _matmul_setup(node, ins, outs, cx):
    a, b = ins
    out = outs[0]
    na = len(cx.var(node["inputs"][0])["shape"])
    nb = len(cx.var(node["inputs"][1])["shape"])
    nbo = max(na - 2, nb - 2, 0)
    am, ak, sam, sak = _matrix(a, na, True)
    bk, bn, sbk, sbn = _matrix(b, nb, False)
    no = len(cx.var(node["outputs"][0])["shape"])
    so = {
        (True, True): (f"{out}.strides[{no - 2}]", f"{out}.strides[{no - 1}]"),
        (False, True): ("0", f"{out}.strides[{no - 1}]"),
        (True, False): (f"{out}.strides[{no - 1}]", "0"),
        (False, False): ("0", "0"),
    }[(na > 1, nb > 1)]
    lines = [
        f"    g_.m = {am}; g_.k = {ak}; g_.n = {bn};",
        f"    g_.sa[0] = {sam}; g_.sa[1] = {sak}; g_.sb[0] = {sbk}; g_.sb[1] = {sbn};",
        f"    g_.so[0] = {so[0]}; g_.so[1] = {so[1]};",
        "    g_.alpha = 1; g_.beta = 0;",
    ]
    mats = [(a, min(na, 2), na), (b, min(nb, 2), nb), (None, 0, 0)]
    return lines + _batch_lines(mats, out, nbo)


def _gemm_setup(node, ins, outs, cx):
    a, b = ins[:2]
    out = outs[0]
    p = params(node)
    ta, tb = bool(p.get("trans_a")), bool(p.get("trans_b"))
    ra, ca = (1, 0) if ta else (0, 1)
    rb, cb = (1, 0) if tb else (0, 1)
    lines = [
        f"    g_.m = {a}.shape[{ra}]; g_.k = {a}.shape[{ca}]; g_.n = {b}.shape[{cb}];",
        f"    g_.sa[0] = {a}.strides[{ra}]; g_.sa[1] = {a}.strides[{ca}];",
        f"    g_.sb[0] = {b}.strides[{rb}]; g_.sb[1] = {b}.strides[{cb}];",
        f"    g_.so[0] = {out}.strides[0]; g_.so[1] = {out}.strides[1];",
        f"    g_.alpha = {float(p.get('alpha', 1.0))!r}; g_.beta = {float(p.get('beta', 0.0))!r};",
    ]
    if len(ins) > 2:
        c = ins[2]
        nc = len(cx.var(node["inputs"][2])["shape"])
        for j, d in ((0, nc - 2), (1, nc - 1)):
            if d < 0:
                lines.append(f"    g_.sc[{j}] = 0;")
            else:
                lines.append(f"    g_.sc[{j}] = {c}.shape[{d}] == 1 ? 0 : {c}.strides[{d}];")
    return lines + _batch_lines([], out, 0)


def gemm_host(node, ins, outs, cx) -> str:
    kernel = gemm_kernel(node, cx)
    setup = _gemm_setup if node["op"] == "gemm" else _matmul_setup
    ptrs = ["o_", "a_", "b_", "c_"]
    types = [t.rstrip() for t in kernel.params[:4]]
    srcs = [outs[0], ins[0], ins[1], ins[2] if len(ins) > 2 else None]
    lines = [
        "{",
        "    ag_cu_gemm g_;",
        "    memset(&g_, 0, sizeof g_);",
        *setup(node, ins, outs, cx),
    ]
    for name, t, src in zip(ptrs, types, srcs):
        lines.append(f"    {t}{name} = ({t}){src + '.data' if src else 'NULL'};")
    grid = (
        "ag_cu_blocks((g_.n + AG_CU_TILE - 1) / AG_CU_TILE, 1)",
        "ag_cu_blocks((g_.m + AG_CU_TILE - 1) / AG_CU_TILE, 1)",
        "(uint32_t)(g_.nbatch < 65535 ? (g_.nbatch > 0 ? g_.nbatch : 1) : 65535)",
    )
    lines += [
        "    if (g_.m > 0 && g_.n > 0 && g_.nbatch > 0) {",
        launch_code(kernel, ptrs + ["g_"], grid, ("AG_CU_TILE", "AG_CU_TILE", "1")),
        "    }",
        "}",
    ]
    return "\n".join(lines)


LINALG_CUDA_OPS = {
    op: CudaOpEmitter(
        shape=LINALG_C_OPS[op].shape,
        body=gemm_host,
        kernels=lambda node, cx: [gemm_kernel(node, cx)],
    )
    for op in ("matmul", "gemm")
}
