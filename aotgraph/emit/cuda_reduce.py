"""CUDA kernels of the reductions (sum prod max min all any, argmax argmin),
of ``fused_elementwise`` (with or without a final reduction) and of
softmax/log_softmax.

Reductions: one block per output element (grid-stride over outputs); its
threads stride over the reduced elements, combine in registers, then the
block combines through warp shuffles and a shared-memory array of one
value per warp.  When there are few outputs and many elements each
(``n_keep < 64`` and ``n_red >= AG_CU_SPLIT_MIN``), ``gridDim.y`` blocks
share an output, write partial results to a device scratch array, and a
second kernel combines them (multi-block reduction).  A fused reduction
evaluates the elementwise steps on the fly, so the pre-reduction values
never reach memory.  Softmax rows are one block each: max, sum of
exponentials, then the normalized writes.
"""

from __future__ import annotations

import numpy as np

from aotgraph.emit.c_common import CTYPE, FLOATS, as_tuple, c_literal, convert, params
from aotgraph.emit.c_elemwise import fused_steps_code, scalar_expr
from aotgraph.emit.c_fused import FUSED_C_OPS
from aotgraph.emit.c_nnet import NNET_C_OPS
from aotgraph.emit.c_reduce import REDUCE_C_OPS
from aotgraph.emit.cuda_common import CudaKernel, CudaOpEmitter, kernel_base, launch_code
from aotgraph.emit.cuda_elemwise import elementwise_host, elementwise_kernel, operand_kinds

#: what a value of each dtype travels as through __shfl_*_sync
_SHUFFLE = {
    "bool": "int",
    "int8": "int",
    "int16": "int",
    "uint8": "int",
    "uint16": "int",
    "int32": "int",
    "uint32": "unsigned",
    "int64": "long long",
    "uint64": "unsigned long long",
    "float32": "float",
    "float64": "double",
}


def _limit(dtype, high):
    if dtype in FLOATS:
        return "INFINITY" if high else "(-INFINITY)"
    if dtype == "bool":
        return "1" if high else "0"
    info = np.iinfo(dtype)
    return c_literal(info.max if high else info.min, dtype)


def reduce_rule(op, val_dt, out_dt):
    """(accumulator dtype, identity literal, combine format with {0} {1})."""
    if op in ("all", "any"):
        return (
            "bool",
            ("1" if op == "all" else "0"),
            ("({0} & {1})" if op == "all" else "({0} | {1})"),
        )
    if op in ("sum", "prod"):
        acc = out_dt
        ident = c_literal(0 if op == "sum" else 1, acc)
        return (
            acc,
            ident,
            scalar_expr("add" if op == "sum" else "mul", [("{0}", acc), ("{1}", acc)], acc),
        )
    ident = _limit(val_dt, high=(op == "min"))
    name = "maximum" if op == "max" else "minimum"
    return val_dt, ident, scalar_expr(name, [("{0}", val_dt), ("{1}", val_dt)], val_dt)


def block_combine(acc, acc_dt, ident, combine, smem):
    """Statements combining ``acc`` over the block (result in thread 0)."""
    sh = _SHUFFLE[acc_dt]
    ct = CTYPE[acc_dt]
    # the shuffle goes to a temporary: every lane must call it exactly once
    # (a combine format may mention an operand twice, e.g. a > b ? a : b)
    shuffle = f"const {ct} o_ = ({ct})__shfl_down_sync(AG_FULL_MASK, ({sh}){acc}, d_);"
    step = f"{{ {shuffle} {acc} = {combine.format(acc, 'o_')}; }}"
    return [
        f"for (int d_ = 16; d_ > 0; d_ >>= 1) {step}",
        f"if ((threadIdx.x & 31) == 0) {smem}[threadIdx.x >> 5] = {acc};",
        "__syncthreads();",
        "if (threadIdx.x < 32) {",
        f"    {acc} = threadIdx.x < (blockDim.x >> 5) ? {smem}[threadIdx.x] : {ident};",
        f"    for (int d_ = 16; d_ > 0; d_ >>= 1) {step}",
        "}",
    ]


def _array_slots(kinds):
    slots, n = {}, 0
    for k, (kind, _) in enumerate(kinds):
        if kind == "array":
            n += 1
            slots[k] = n
    return slots


def _reduce_loads(kinds):
    slots = _array_slots(kinds)
    loads = []
    for k, (kind, lit) in enumerate(kinds):
        if kind == "const":
            loads.append(lit)
        elif kind == "scalar":
            loads.append(f"in{k}[0]")
        else:
            s = slots[k]
            loads.append(
                f"in{k}[kb{s}_ + ag_cu_offset_n(rx.red_shape, rx.red_strides[{s}], rx.red_ndim, j)]"
            )
    return loads, slots


def _node_value(node, cx, loads, in_dt):
    """(statements, value expression, value dtype) reduced by the node."""
    if node["op"] == "fused_elementwise":
        stmts, res = fused_steps_code(node, loads, in_dt)
        return stmts, res, as_tuple(params(node)["steps"])[-1][1]
    return [], loads[0], in_dt[0]


def reduce_kernels(node, cx, red_op):
    """(main kernel, finish kernel) of a value reduction."""
    name = kernel_base(node)
    in_dt = [cx.var(v)["dtype"] for v in node["inputs"]]
    out_dt = cx.var(node["outputs"][0])["dtype"]
    kinds = operand_kinds(node, cx)
    loads, slots = _reduce_loads(kinds)
    stmts, value, val_dt = _node_value(node, cx, loads, in_dt)
    acc_dt, ident, combine = reduce_rule(red_op, val_dt, out_dt)
    a, o = CTYPE[acc_dt], CTYPE[out_dt]
    ptypes = (f"{o} *", f"{a} *", *[f"const {CTYPE[d]} *" for d in in_dt], "ag_cu_reduce_index")
    pnames = ("out", "partial", *[f"in{k}" for k in range(len(in_dt))], "rx")
    sig = ", ".join(f"{t} {n}" for t, n in zip(ptypes, pnames))
    lines = [
        f'extern "C" __global__ void {name}({sig})',
        "{",
        f"    __shared__ {a} smem_[AG_CU_THREADS / 32];",
        "    const int64_t nsplit = gridDim.y;",
        "    const int64_t chunk = (rx.n_red + nsplit - 1) / nsplit;",
        "    const int64_t lo = blockIdx.y * chunk;",
        "    const int64_t hi = lo + chunk < rx.n_red ? lo + chunk : rx.n_red;",
        "    for (int64_t o = blockIdx.x; o < rx.n_keep; o += gridDim.x) {",
        "        const int64_t kb0_ = ag_cu_offset_n(rx.keep_shape, rx.keep_strides[0], rx.keep_ndim, o);",
        *[
            f"        const int64_t kb{s}_ = ag_cu_offset_n(rx.keep_shape, rx.keep_strides[{s}], "
            "rx.keep_ndim, o);"
            for s in slots.values()
        ],
        f"        {a} acc_ = {ident};",
        "        for (int64_t j = lo + threadIdx.x; j < hi; j += blockDim.x) {",
        *[f"            {s}" for s in stmts],
        f"            const {a} v_ = {convert(value, val_dt, acc_dt)};",
        f"            acc_ = {combine.format('acc_', 'v_')};",
        "        }",
        *[f"        {s}" for s in block_combine("acc_", acc_dt, ident, combine, "smem_")],
        "        if (threadIdx.x == 0) {",
        f"            if (nsplit == 1) out[kb0_] = {convert('acc_', acc_dt, out_dt)};",
        "            else partial[o * nsplit + blockIdx.y] = acc_;",
        "        }",
        "        __syncthreads();",
        "    }",
        "}",
    ]
    main = CudaKernel(name, ptypes, "\n".join(lines))
    fin = [
        f'extern "C" __global__ void {name}_finish({o} *out, const {a} *partial, int64_t n_keep, '
        "int64_t nsplit)",
        "{",
        "    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < n_keep;",
        "         o += (int64_t)blockDim.x * gridDim.x) {",
        f"        {a} acc_ = {ident};",
        "        for (int64_t s = 0; s < nsplit; s++) {",
        f"            const {a} v_ = partial[o * nsplit + s];",
        f"            acc_ = {combine.format('acc_', 'v_')};",
        "        }",
        f"        out[o] = {convert('acc_', acc_dt, out_dt)};",
        "    }",
        "}",
    ]
    finish = CudaKernel(
        f"{name}_finish", (f"{o} *", f"const {a} *", "int64_t", "int64_t"), "\n".join(fin)
    )
    return main, finish


def _full_shape_code(node, ins, cx):
    """Host statements making ``full_`` the pre-reduction iteration shape."""
    if node["op"] != "fused_elementwise":
        return [f"    const ag_buffer full_ = {ins[0]};"]
    nd = max(len(cx.var(v)["shape"]) for v in node["inputs"])
    ops = ", ".join(f"&{b}" for b in ins)
    return [
        "    ag_buffer full_;",
        f"    const ag_buffer *all_[{len(ins)}] = {{{ops}}};",
        "    int axis_ = 0;",
        f"    full_.ndim = {nd};",
        f"    (void)ag_broadcast_shapes({len(ins)}, all_, {nd}, full_.shape, &axis_);",
    ]


def _reduce_index_code(node, ins, outs, cx, axes):
    kinds = operand_kinds(node, cx)
    arrays = [ins[k] for k, (kind, _) in enumerate(kinds) if kind == "array"]
    nd = max(len(cx.var(v)["shape"]) for v in node["inputs"])
    flags = ", ".join("1" if d in axes else "0" for d in range(nd)) or "0"
    nops = 1 + len(arrays)
    return _full_shape_code(node, ins, cx) + [
        f"    const ag_buffer *ops_[{nops}] = {{{', '.join('&' + b for b in [outs[0]] + arrays)}}};",
        f"    const uint8_t red_[{max(nd, 1)}] = {{{flags}}};",
        "    ag_cu_reduce_index rx_;",
        f"    if (ag_cu_fill_reduce(&rx_, {nops}, ops_, &full_, red_) != 0)",
        f'        return ag_fail(err, AG_ERR_VALUE, "{node["op"]}: the CUDA target supports at '
        'most %d kept and %d reduced axes", AG_CU_MAXND, AG_CU_MAXND);',
    ]


def reduce_host(node, ins, outs, cx, red_op, axes) -> str:
    main, finish = reduce_kernels(node, cx, red_op)
    in_dt = [cx.var(v)["dtype"] for v in node["inputs"]]
    out_dt = cx.var(node["outputs"][0])["dtype"]
    acc = main.params[1].rstrip(" *")
    lines = ["{", *_reduce_index_code(node, ins, outs, cx, axes)]
    lines += [
        f"    {CTYPE[out_dt]} *o_ = ({CTYPE[out_dt]} *){outs[0]}.data;",
        f"    {acc} *part_ = NULL;",
    ]
    lines += [
        f"    const {CTYPE[d]} *i{k}_ = (const {CTYPE[d]} *){b}.data;"
        for k, (b, d) in enumerate(zip(ins, in_dt))
    ]
    lines += [
        "    int64_t nsplit_ = 1;",
        "    if (rx_.n_keep < 64 && rx_.n_red >= AG_CU_SPLIT_MIN) {",
        "        nsplit_ = (rx_.n_red + AG_CU_SPLIT_MIN / 2 - 1) / (AG_CU_SPLIT_MIN / 2);",
        "        if (nsplit_ > 256) nsplit_ = 256;",
        f"        if (ag_cu_malloc((void **)&part_, (size_t)(rx_.n_keep * nsplit_) * sizeof({acc}), "
        "err)) return err->code;",
        "    }",
        "    uint32_t gx_ = ag_cu_blocks(rx_.n_keep, 1), gy_ = (uint32_t)nsplit_;",
        "    if (rx_.n_keep > 0) {",
    ]
    args = ["o_", "part_"] + [f"i{k}_" for k in range(len(ins))] + ["rx_"]
    fail = "{ ag_cu_free(part_); return rc_; }"
    lines.append(
        launch_code(main, args, ("gx_", "gy_", "1"), ("AG_CU_THREADS", "1", "1")).replace(
            "return rc_;", fail
        )
    )
    lines += ["    }", "    if (nsplit_ > 1 && rx_.n_keep > 0) {"]
    lines.append(
        launch_code(
            finish,
            ["o_", "part_", "rx_.n_keep", "nsplit_"],
            ("ag_cu_blocks(rx_.n_keep, AG_CU_THREADS)", "1", "1"),
            ("AG_CU_THREADS", "1", "1"),
        ).replace("return rc_;", fail)
    )
    lines += ["    }", "    ag_cu_free(part_);", "}"]
    return "\n".join(lines)


def arg_kernel(node, cx):
    """argmax/argmin: (value, index) pairs; the first of equal values and
    the first NaN win, as numpy."""
    name = kernel_base(node)
    dt = cx.var(node["inputs"][0])["dtype"]
    t = CTYPE[dt]
    cmp = ">" if node["op"] == "argmax" else "<"
    loads, _ = _reduce_loads([("array", None)])
    pick = [
        f"static __device__ __forceinline__ void {name}_pick({t} &va, int64_t &ia, {t} vb, int64_t ib)",
        "{",
        "    if (ib < 0) return;",
        "    const int na = va != va, nb = vb != vb;",
        "    const int win = ia < 0 || (nb && !na) || (nb && na && ib < ia) ||",
        f"        (!nb && !na && (vb {cmp} va || (vb == va && ib < ia)));",
        "    if (win) { va = vb; ia = ib; }",
        "}",
    ]
    sh = _SHUFFLE[dt]
    shuffle = [
        "for (int d_ = 16; d_ > 0; d_ >>= 1) {",
        f"    {t} vb_ = ({t})__shfl_down_sync(AG_FULL_MASK, ({sh})v_, d_);",
        "    long long ib_ = __shfl_down_sync(AG_FULL_MASK, (long long)i_, d_);",
        f"    {name}_pick(v_, i_, vb_, ib_);",
        "}",
    ]
    lines = pick + [
        f'extern "C" __global__ void {name}(int64_t *out, const {t} *in0, ag_cu_reduce_index rx)',
        "{",
        f"    __shared__ {t} sv_[AG_CU_THREADS / 32];",
        "    __shared__ int64_t si_[AG_CU_THREADS / 32];",
        "    for (int64_t o = blockIdx.x; o < rx.n_keep; o += gridDim.x) {",
        "        const int64_t kb0_ = ag_cu_offset_n(rx.keep_shape, rx.keep_strides[0], rx.keep_ndim, o);",
        "        const int64_t kb1_ = ag_cu_offset_n(rx.keep_shape, rx.keep_strides[1], rx.keep_ndim, o);",
        f"        {t} v_ = 0;",
        "        int64_t i_ = -1;",
        "        for (int64_t j = threadIdx.x; j < rx.n_red; j += blockDim.x)",
        f"            {name}_pick(v_, i_, {loads[0]}, j);",
        *[f"        {s}" for s in shuffle],
        "        if ((threadIdx.x & 31) == 0) { sv_[threadIdx.x >> 5] = v_; si_[threadIdx.x >> 5] = i_; }",
        "        __syncthreads();",
        "        if (threadIdx.x < 32) {",
        "            const int w_ = threadIdx.x < (blockDim.x >> 5);",
        "            v_ = w_ ? sv_[threadIdx.x] : v_;",
        "            i_ = w_ ? si_[threadIdx.x] : -1;",
        *[f"            {s}" for s in shuffle],
        "            if (threadIdx.x == 0) out[kb0_] = i_ < 0 ? 0 : i_;",
        "        }",
        "        __syncthreads();",
        "    }",
        "}",
    ]
    return CudaKernel(name, ("int64_t *", f"const {t} *", "ag_cu_reduce_index"), "\n".join(lines))


def _arg_axes(node, cx):
    ndim = len(cx.var(node["inputs"][0])["shape"])
    axis = params(node).get("axis")
    return tuple(range(ndim)) if axis is None else (int(axis),)


def arg_host(node, ins, outs, cx) -> str:
    kernel = arg_kernel(node, cx)
    t = CTYPE[cx.var(node["inputs"][0])["dtype"]]
    lines = [
        "{",
        *_reduce_index_code(node, ins, outs, cx, _arg_axes(node, cx)),
        f"    int64_t *o_ = (int64_t *){outs[0]}.data;",
        f"    const {t} *i0_ = (const {t} *){ins[0]}.data;",
        "    if (rx_.n_keep > 0) {",
        launch_code(
            kernel,
            ["o_", "i0_", "rx_"],
            ("ag_cu_blocks(rx_.n_keep, 1)", "1", "1"),
            ("AG_CU_THREADS", "1", "1"),
        ),
        "    }",
        "}",
    ]
    return "\n".join(lines)


def _reduce_spec(node):
    spec = as_tuple(params(node).get("reduce"))
    return None if spec is None else (spec[0], tuple(int(a) for a in spec[1]))


def _fused_host(node, ins, outs, cx):
    spec = _reduce_spec(node)
    if spec is None:
        return elementwise_host(node, ins, outs, cx)
    return reduce_host(node, ins, outs, cx, spec[0], spec[1])


def _fused_kernels(node, cx):
    spec = _reduce_spec(node)
    if spec is None:
        return [elementwise_kernel(node, cx)]
    return list(reduce_kernels(node, cx, spec[0]))


def _reduce_axes(node):
    return tuple(int(a) for a in as_tuple(params(node)["axis"]))


def _value_emitter(op):
    return CudaOpEmitter(
        shape=REDUCE_C_OPS[op].shape,
        body=lambda node, ins, outs, cx: reduce_host(node, ins, outs, cx, op, _reduce_axes(node)),
        kernels=lambda node, cx: list(reduce_kernels(node, cx, op)),
    )


def softmax_kernel(node, cx):
    name = kernel_base(node)
    dt = cx.var(node["inputs"][0])["dtype"]
    t, f = CTYPE[dt], ("f" if dt == "float32" else "")
    tag = "f32" if dt == "float32" else "f64"
    mx = f"ag_max_{tag}({{0}}, {{1}})"
    add = "({0} + {1})"
    x = "in[ib_ + j * rs2_]"
    if node["op"] == "softmax":
        write = f"out[ob_ + j * rs1_] = ag_exp{f}({x} - m_) / s_;"
    else:
        write = f"out[ob_ + j * rs1_] = ({x} - m_) - ag_log{f}(s_);"
    lines = [
        f'extern "C" __global__ void {name}({t} *out, const {t} *in, ag_cu_reduce_index rx)',
        "{",
        f"    __shared__ {t} smem_[AG_CU_THREADS / 32];",
        f"    __shared__ {t} bcast_;",
        "    const int64_t rs1_ = rx.red_ndim ? rx.red_strides[1][0] : 0;",
        "    const int64_t rs2_ = rx.red_ndim ? rx.red_strides[2][0] : 0;",
        "    for (int64_t o = blockIdx.x; o < rx.n_keep; o += gridDim.x) {",
        "        const int64_t ob_ = ag_cu_offset_n(rx.keep_shape, rx.keep_strides[1], rx.keep_ndim, o);",
        "        const int64_t ib_ = ag_cu_offset_n(rx.keep_shape, rx.keep_strides[2], rx.keep_ndim, o);",
        f"        {t} m_ = -INFINITY, s_ = 0;",
        f"        for (int64_t j = threadIdx.x; j < rx.n_red; j += blockDim.x) m_ = {mx.format('m_', x)};",
        *[f"        {s}" for s in block_combine("m_", dt, "(-INFINITY)", mx, "smem_")],
        "        if (threadIdx.x == 0) bcast_ = m_;",
        "        __syncthreads();",
        "        m_ = bcast_;",
        f"        for (int64_t j = threadIdx.x; j < rx.n_red; j += blockDim.x) s_ += ag_exp{f}({x} - m_);",
        *[f"        {s}" for s in block_combine("s_", dt, "0", add, "smem_")],
        "        if (threadIdx.x == 0) bcast_ = s_;",
        "        __syncthreads();",
        "        s_ = bcast_;",
        f"        for (int64_t j = threadIdx.x; j < rx.n_red; j += blockDim.x) {write}",
        "    }",
        "}",
    ]
    return CudaKernel(name, (f"{t} *", f"const {t} *", "ag_cu_reduce_index"), "\n".join(lines))


def softmax_host(node, ins, outs, cx) -> str:
    kernel = softmax_kernel(node, cx)
    t = CTYPE[cx.var(node["inputs"][0])["dtype"]]
    x, out = ins[0], outs[0]
    nd = len(cx.var(node["inputs"][0])["shape"])
    axis = int(params(node)["axis"]) % max(nd, 1)
    flags = ", ".join("1" if d == axis else "0" for d in range(nd)) or "0"
    lines = [
        "{",
        f"    const ag_buffer *ops_[3] = {{&{x}, &{out}, &{x}}};",
        f"    const uint8_t red_[{max(nd, 1)}] = {{{flags}}};",
        "    ag_cu_reduce_index rx_;",
        f"    if (ag_cu_fill_reduce(&rx_, 3, ops_, &{x}, red_) != 0)",
        f'        return ag_fail(err, AG_ERR_VALUE, "{node["op"]}: the CUDA target supports at '
        'most %d axes", AG_CU_MAXND);',
        f"    {t} *o_ = ({t} *){out}.data;",
        f"    const {t} *i_ = (const {t} *){x}.data;",
        "    if (rx_.n_keep > 0 && rx_.n_red > 0) {",
        launch_code(
            kernel,
            ["o_", "i_", "rx_"],
            ("ag_cu_blocks(rx_.n_keep, 1)", "1", "1"),
            ("AG_CU_THREADS", "1", "1"),
        ),
        "    }",
        "}",
    ]
    return "\n".join(lines)


REDUCE_CUDA_OPS = {
    **{op: _value_emitter(op) for op in ("sum", "prod", "max", "min", "all", "any")},
    **{
        op: CudaOpEmitter(
            shape=REDUCE_C_OPS[op].shape,
            body=arg_host,
            kernels=lambda node, cx: [arg_kernel(node, cx)],
        )
        for op in ("argmax", "argmin")
    },
    "fused_elementwise": CudaOpEmitter(
        shape=FUSED_C_OPS["fused_elementwise"].shape,
        body=_fused_host,
        kernels=_fused_kernels,
        inplace_ok=FUSED_C_OPS["fused_elementwise"].inplace_ok,
    ),
    **{
        op: CudaOpEmitter(
            shape=NNET_C_OPS[op].shape,
            body=softmax_host,
            kernels=lambda node, cx: [softmax_kernel(node, cx)],
        )
        for op in ("softmax", "log_softmax")
    },
}
