"""CUDA kernels of the elementwise ops and of ``fused_elementwise``
without a reduction: one grid-stride kernel per node.

The host code fills an :c:type:`ag_cu_index` (operands aligned by numpy
broadcasting, adjacent axes coalesced); when every array operand is
C-contiguous over the output the kernel indexes them directly (consecutive
threads touch consecutive addresses: coalesced loads), and float32 outputs
whose pointers are 16-byte aligned go through ``float4`` loads and stores.
Otherwise each thread unravels its linear index into per-operand offsets.
Single-element operands are read once per thread, scalar constants are
inlined.  Integer ``pow`` with a negative exponent sets a device flag read
back by the host, which raises numpy's ValueError.
"""

from __future__ import annotations

import numpy as np

from aotgraph.emit.c_common import CTYPE, as_tuple, c_literal, params, static_scalar
from aotgraph.emit.c_elemwise import ELEMENTWISE_C_OPS, fused_steps_code, scalar_expr
from aotgraph.emit.cuda_common import CUDA_EXPR, CudaKernel, CudaOpEmitter, kernel_base, launch_code

_BAD_VALUE_MESSAGE = "Integers to negative integer powers are not allowed."


def operand_kinds(node, cx):
    """Per input: ("const", literal), ("scalar", None) or ("array", None)."""
    kinds = []
    for vid in node["inputs"]:
        var = cx.var(vid)
        value = cx.const_value(vid)
        if value is not None and np.size(value) == 1:
            lit = c_literal(np.asarray(value).reshape(()).item(), var["dtype"])
            kinds.append(("const", lit))
        elif static_scalar(var):
            kinds.append(("scalar", None))
        else:
            kinds.append(("array", None))
    return kinds


def _compute(node, cx, loads, in_dt):
    """(statements, result, out dtype) of the node's scalar code."""
    if node["op"] == "fused_elementwise":
        stmts, result = fused_steps_code(node, loads, in_dt)
        return stmts, result, as_tuple(params(node)["steps"])[-1][1]
    out_dt = cx.var(node["outputs"][0])["dtype"]
    if node["op"] == "cast":
        out_dt = params(node).get("dtype", out_dt)
    return [], scalar_expr(node["op"], list(zip(loads, in_dt)), out_dt, table=CUDA_EXPR), out_dt


def _loads(kinds, index):
    """Load expressions per input, with ``index(k, slot)`` giving the
    element index of array operand k (slot = its operand number)."""
    loads, slot = [], 0
    for k, (kind, lit) in enumerate(kinds):
        if kind == "const":
            loads.append(lit)
        elif kind == "scalar":
            loads.append(f"in{k}[0]")
        else:
            slot += 1
            loads.append(f"in{k}[{index(k, slot)}]")
    return loads


def elementwise_kernel(node, cx) -> CudaKernel:
    """The kernel of an elementwise or fused (no reduction) node."""
    name = kernel_base(node)
    in_dt = [cx.var(v)["dtype"] for v in node["inputs"]]
    kinds = operand_kinds(node, cx)
    contiguous = _loads(kinds, lambda k, s: "i")
    strided = _loads(kinds, lambda k, s: f"ag_cu_offset(ix, {s}, i)")
    stmts_c, res_c, out_dt = _compute(node, cx, contiguous, in_dt)
    stmts_s, res_s, _ = _compute(node, cx, strided, in_dt)
    ot = CTYPE[out_dt]
    ptypes = (
        [f"{ot} *"] + [f"const {CTYPE[d]} *" for d in in_dt] + ["int64_t", "ag_cu_index", "int *"]
    )
    pnames = ["out"] + [f"in{k}" for k in range(len(in_dt))] + ["n", "ix", "bad"]
    sig = ", ".join(
        f"{t} {'__restrict__ ' if t.endswith('*') and p != 'bad' else ''}{p}"
        for t, p in zip(ptypes, pnames)
    )
    vec = _float4_lines(kinds, in_dt, out_dt, node, cx)
    lines = [
        f'extern "C" __global__ void {name}({sig})',
        "{",
        "    int bad_ = 0;",
        "    const int64_t start = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;",
        "    const int64_t step = (int64_t)blockDim.x * gridDim.x;",
        "    if (ix.contiguous) {",
        *vec,
        "        for (int64_t i = start; i < n; i += step) {",
        *[f"            {s}" for s in stmts_c],
        f"            out[i] = {res_c};",
        "        }",
        "    } else {",
        "        for (int64_t i = start; i < n; i += step) {",
        *[f"            {s}" for s in stmts_s],
        f"            out[ag_cu_offset(ix, 0, i)] = {res_s};",
        "        }",
        "    }",
        "    if (bad_) atomicOr(bad, 1);",
        "}",
    ]
    return CudaKernel(name, tuple(ptypes), "\n".join(lines))


def _float4_lines(kinds, in_dt, out_dt, node, cx):
    """The float4 variant of the contiguous loop (float32 only): returns
    lines to put before the scalar loop, which then handles the tail."""
    if out_dt != "float32" or any(d != "float32" for d in in_dt):
        return []
    arrays = [k for k, (kind, _) in enumerate(kinds) if kind == "array"]
    if not arrays:
        return []
    out = ["        int vec4 = ((uintptr_t)out % 16) == 0;"]
    out += [f"        vec4 = vec4 && ((uintptr_t)in{k} % 16) == 0;" for k in arrays]
    out += [
        "        if (vec4) {",
        "            const int64_t n4 = n / 4;",
        "            for (int64_t i = start; i < n4; i += step) {",
    ]
    out += [f"                const float4 v{k}_ = ((const float4 *)in{k})[i];" for k in arrays]
    out.append("                float4 r_;")
    for comp in "xyzw":
        loads = _loads(kinds, lambda k, s: "0")
        loads = [f"v{k}_.{comp}" if kinds[k][0] == "array" else ld for k, ld in enumerate(loads)]
        stmts, res, _ = _compute(node, cx, loads, in_dt)
        out.append(f"                {{ {' '.join(stmts)} r_.{comp} = {res}; }}")
    out += [
        "                ((float4 *)out)[i] = r_;",
        "            }",
        "            for (int64_t i = n4 * 4 + start; i < n; i += step) {",
    ]
    stmts, res, _ = _compute(node, cx, _loads(kinds, lambda k, s: "i"), in_dt)
    out += [f"                {s}" for s in stmts]
    out += [f"                out[i] = {res};", "            }", "            return;", "        }"]
    return out


def elementwise_host(node, ins, outs, cx) -> str:
    """Host C launching the node's kernel (after the scaffold allocated
    the output on the device)."""
    kernel = elementwise_kernel(node, cx)
    kinds = operand_kinds(node, cx)
    in_dt = [cx.var(v)["dtype"] for v in node["inputs"]]
    out = outs[0]
    arrays = [ins[k] for k, (kind, _) in enumerate(kinds) if kind == "array"]
    ops = ", ".join(f"&{b}" for b in [out] + arrays)
    flags = kernel_flags(node, cx)
    lines = [
        "{",
        f"    const ag_buffer *ops_[{1 + len(arrays)}] = {{{ops}}};",
        "    ag_cu_index ix_;",
        f"    if (ag_cu_fill_index(&ix_, {1 + len(arrays)}, ops_) != 0)",
        f'        return ag_fail(err, AG_ERR_VALUE, "{node["op"]}: the CUDA target supports at '
        'most %d axes after merging", AG_CU_MAXND);',
        f"    int64_t n_ = ag_size(&{out});",
        f"    {CTYPE[_out_dtype(node, cx)]} *o_ = ({CTYPE[_out_dtype(node, cx)]} *){out}.data;",
    ]
    lines += [
        f"    const {CTYPE[d]} *i{k}_ = (const {CTYPE[d]} *){b}.data;"
        for k, (b, d) in enumerate(zip(ins, in_dt))
    ]
    lines += ["    int *bad_ = NULL;"]
    if flags:
        lines += [
            "    if (n_ > 0 && ag_cu_malloc((void **)&bad_, sizeof(int), err)) return err->code;",
            "    if (n_ > 0 && ag_cu_memset0(bad_, sizeof(int), err)) { ag_cu_free(bad_); "
            "return err->code; }",
        ]
    args = ["o_"] + [f"i{k}_" for k in range(len(ins))] + ["n_", "ix_", "bad_"]
    launch = launch_code(
        kernel, args, ("ag_cu_blocks(n_, AG_CU_THREADS)", "1", "1"), ("AG_CU_THREADS", "1", "1")
    )
    lines += [
        "    if (n_ > 0) {",
        launch.replace("return rc_;", "{ ag_cu_free(bad_); return rc_; }"),
        "    }",
    ]
    if flags:
        lines += [
            "    if (n_ > 0) {",
            "        int hbad_ = 0;",
            "        int rc_ = ag_cu_memcpy_dtoh(&hbad_, bad_, sizeof(int), err);",
            "        ag_cu_free(bad_);",
            "        if (rc_) return rc_;",
            f'        if (hbad_) return ag_fail(err, AG_ERR_VALUE, "{node["op"]}: '
            f'{_BAD_VALUE_MESSAGE}");',
            "    }",
        ]
    lines.append("}")
    return "\n".join(lines)


def kernel_flags(node, cx) -> bool:
    """Whether the node's scalar code can report a bad value (int pow)."""
    in_dt = [cx.var(v)["dtype"] for v in node["inputs"]]
    stmts, res, _ = _compute(node, cx, [f"x{k}" for k in range(len(in_dt))], in_dt)
    return "bad_" in " ".join(stmts + [res])


def _out_dtype(node, cx):
    if node["op"] == "fused_elementwise":
        return as_tuple(params(node)["steps"])[-1][1]
    if node["op"] == "cast":
        return params(node).get("dtype", cx.var(node["outputs"][0])["dtype"])
    return cx.var(node["outputs"][0])["dtype"]


def _kernels(node, cx):
    return [elementwise_kernel(node, cx)]


def cuda_elementwise_emitters():
    """``{name: emitter}`` for every elementwise op the C emitter knows."""
    table = {}
    for name, c_emitter in ELEMENTWISE_C_OPS.items():
        table[name] = CudaOpEmitter(
            shape=c_emitter.shape,
            body=elementwise_host,
            inplace_ok=c_emitter.inplace_ok,
            kernels=_kernels,
        )
    return table
