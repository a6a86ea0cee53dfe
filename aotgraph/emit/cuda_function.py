"""Host C of one cuda function, from a :class:`~aotgraph.ir.FunctionIR`.

The entry ``int <name>(ag_buffer *io, ag_error *err)`` takes the inputs
(host memory, C-contiguous) in ``io[0..n_in)`` and returns the outputs in
``io[n_in..)`` as fresh host arrays (``ag_alloc``; the caller frees them
with ``ag_free``).  In between everything lives on the device: inputs and
constants are uploaded, each node's shape code runs on the host from
buffer metadata, non-view outputs are allocated with ``ag_cu_malloc``,
kernels are launched, and outputs that are strided views are made
contiguous on the device by an identity kernel before the download.
Every device allocation of the call is recorded and freed on every path,
failures included.

Not yet here: shared variables and updates (they would stay resident on
the device between calls), and inputs already on the device
(``__cuda_array_interface__``/DLPack); :func:`unsupported` names them.
"""

from __future__ import annotations

import numpy as np

from aotgraph.emit.c_common import CTYPE, c_literal
from aotgraph.emit.cuda_elemwise import elementwise_host, elementwise_kernel
from aotgraph.emit.cuda_index import gather_supported
from aotgraph.emit.cuda_ops import CUDA_OPS, CUDA_VIEW_OPS

DTYPE_CODE = {
    d: i
    for i, d in enumerate(
        [
            "bool",
            "int8",
            "int16",
            "int32",
            "int64",
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "float32",
            "float64",
        ]
    )
}


class FunctionContext:
    """The emitters' ``cx`` over a FunctionIR (constants from its module)."""

    def __init__(self, fir, module_ir):
        self.vars = dict(fir.vars)
        self.module_ir = module_ir

    def var(self, vid):
        return self.vars[vid]

    def const_value(self, vid):
        var = self.vars[vid]
        if var.get("kind") != "constant":
            return None
        return self.module_ir.blob_array(var["blob"])


def unsupported(fir) -> list:
    """Why the function cannot run on the cuda target (empty when it can)."""
    problems = []
    if fir.shared or fir.updates:
        problems.append("shared variables and updates are not supported on the cuda target yet")
    for node in fir.nodes:
        if node["op"] not in CUDA_OPS and node["op"] not in CUDA_VIEW_OPS:
            problems.append(f"op {node['op']!r} has no CUDA kernel yet")
        elif node["op"] == "adv_subtensor" and not gather_supported(node):
            problems.append(
                "adv_subtensor other than x[integer_array] is not supported on the cuda target yet"
            )
        elif node["op"] in ("reshape", "subtensor") and len(node["inputs"]) > 1:
            # their shape code reads lengths or indices from input data, which
            # lives in device memory here
            problems.append(
                f"{node['op']} with symbolic lengths or indices is not supported "
                "on the cuda target yet"
            )
    return sorted(set(problems))


def _idx(vid):
    return int(vid[1:])


def _constant_lines(vid, value, dtype):
    """Host data of a constant and its upload."""
    arr = np.ascontiguousarray(value, dtype=dtype)
    k = _idx(vid)
    vals = ", ".join(c_literal(v, dtype) for v in arr.reshape(-1).tolist()) or "0"
    lines = [
        f"    static const {CTYPE[dtype]} hc{k}_[{max(arr.size, 1)}] = {{{vals}}};",
        f"    B[{k}].dtype = {DTYPE_CODE[dtype]}; B[{k}].ndim = {arr.ndim};",
    ]
    lines += [f"    B[{k}].shape[{d}] = {n};" for d, n in enumerate(arr.shape)]
    lines += [f"    if ((rc_ = ag_cu_upload_(&B[{k}], hc{k}_, owned, err)) != 0) return rc_;"]
    return lines


def _alloc_lines(node, vid, cx):
    k = _idx(vid)
    return [
        f'    if ((rc_ = ag_cu_alloc_out_(&B[{k}], owned, "{node["op"]}", err)) != 0) return rc_;'
    ]


def _node_code(node, cx, key):
    keyed = {**node, "key": key}
    emitter = CUDA_OPS.get(node["op"]) or CUDA_VIEW_OPS[node["op"]]
    ins = [f"B[{_idx(v)}]" for v in node["inputs"]]
    outs = [f"B[{_idx(v)}]" for v in node["outputs"]]
    lines = [f"    /* {node['op']} */"]
    lines += [
        f"    B[{_idx(v)}].dtype = {DTYPE_CODE[cx.var(v)['dtype']]};" for v in node["outputs"]
    ]
    lines.append(emitter.shape(keyed, ins, outs, cx))
    if not emitter.view:
        for v in node["outputs"]:
            lines += _alloc_lines(node, v, cx)
    lines.append(emitter.body(keyed, ins, outs, cx))
    kernels = emitter.kernels(keyed, cx) if node["op"] in CUDA_OPS else []
    return lines, kernels


def _output_copy(vid, cx, cname, j):
    """A contiguous device copy of output ``vid`` (an identity cast node)."""
    k = _idx(vid)
    tmp = f"v{900000 + j}"
    node = {
        "op": "cast",
        "params": {"dtype": cx.var(vid)["dtype"]},
        "inputs": [vid],
        "outputs": [tmp],
        "key": f"{cname}_out{j}",
    }
    cx.vars[tmp] = {"dtype": cx.var(vid)["dtype"], "shape": cx.var(vid)["shape"]}
    body = elementwise_host(node, [f"B[{k}]"], ["C_"], cx)
    lines = [
        "    {",
        "        ag_buffer C_ = B[" + str(k) + "];",
        "        ag_set_contiguous(&C_);",
        '        if ((rc_ = ag_cu_alloc_out_(&C_, owned, "output", err)) != 0) return rc_;',
        body,
        f"        B[{k}] = C_;",
        "    }",
    ]
    return lines, [elementwise_kernel(node, cx)]


def emit_cuda_function(cname, fir, module_ir):
    """``(host C source text, kernels)`` of one cuda function."""
    cx = FunctionContext(fir, module_ir)
    nvars = len(fir.vars)
    lines = [
        f"static int {cname}_run(ag_buffer *io, ag_buffer *B, void **owned, ag_error *err)",
        "{",
        "    int rc_ = 0;",
    ]
    for i, vid in enumerate(fir.inputs):
        lines.append(
            f"    if ((rc_ = ag_cu_upload_(&B[{_idx(vid)}], io[{i}].data, owned, err)) != 0) "
            "return rc_;"
        )
    for vid, var in fir.vars.items():
        if var.get("kind") == "constant":
            lines += _constant_lines(vid, cx.const_value(vid), var["dtype"])
    kernels = []
    for i, node in enumerate(fir.nodes):
        code, ks = _node_code(node, cx, f"{cname}_{i}")
        lines += code
        kernels += ks
    n_in = len(fir.inputs)
    for j, vid in enumerate(fir.outputs):
        k = _idx(vid)
        lines.append(f"    if (!ag_is_contiguous(&B[{k}])) {{")
        copy, ks = _output_copy(vid, cx, cname, j)
        lines += copy + ["    }"]
        kernels += ks
        lines.append(
            f"    if ((rc_ = ag_cu_download_(&io[{n_in + j}], &B[{k}], err)) != 0) return rc_;"
        )
    lines += ["    return 0;", "}", ""]
    inputs_meta = "\n".join(f"    B[{_idx(v)}] = io[{i}];" for i, v in enumerate(fir.inputs))
    lines += [
        f"AG_EXPORT int {cname}(ag_buffer *io, ag_error *err)",
        "{",
        f"    ag_buffer *B = (ag_buffer *)calloc({max(nvars, 1)}, sizeof(ag_buffer));",
        f"    void **owned = (void **)calloc({nvars + len(fir.outputs) + 2}, sizeof(void *));",
        "    if (!B || !owned) { free(B); free(owned); "
        'return ag_fail(err, AG_ERR_MEMORY, "out of memory"); }',
        inputs_meta,
        f"    int rc = {cname}_run(io, B, owned, err);",
        "    for (void **p = owned; *p; p++) ag_cu_free(*p);",
        "    free(owned);",
        "    free(B);",
        "    return rc;",
        "}",
    ]
    return "\n".join(lines), kernels


#: Helpers of the generated host code (device buffers of one call).
HOST_HELPERS = r"""
/* Record a device allocation of this call (freed at its end). */
static void ag_cu_own_(void **owned, void *p) { while (*owned) owned++; *owned = p; }

/* Make `b` a contiguous device copy of host data `src` (b's shape is set). */
static int ag_cu_upload_(ag_buffer *b, const void *src, void **owned, ag_error *err)
{
    size_t nb = 0;
    ag_set_contiguous(b);
    int rc = ag_nbytes(b, &nb, "input", err);
    if (rc) return rc;
    void *d = NULL;
    if ((rc = ag_cu_malloc(&d, nb, err)) != 0) return rc;
    ag_cu_own_(owned, d);
    b->data = d;
    return ag_cu_memcpy_htod(d, src, nb, err);
}

/* Allocate `b` (shape set) contiguous on the device. */
static int ag_cu_alloc_out_(ag_buffer *b, void **owned, const char *what, ag_error *err)
{
    size_t nb = 0;
    ag_set_contiguous(b);
    int rc = ag_nbytes(b, &nb, what, err);
    if (rc) return rc;
    void *d = NULL;
    if ((rc = ag_cu_malloc(&d, nb, err)) != 0) return rc;
    ag_cu_own_(owned, d);
    b->data = d;
    return 0;
}

/* Copy contiguous device buffer `b` into a fresh host array `out`. */
static int ag_cu_download_(ag_buffer *out, const ag_buffer *b, ag_error *err)
{
    size_t nb = 0;
    *out = *b;
    ag_set_contiguous(out);
    int rc = ag_nbytes(out, &nb, "output", err);
    if (rc) return rc;
    out->data = ag_alloc(nb ? nb : 1);
    if (!out->data) return ag_fail(err, AG_ERR_MEMORY, "out of memory for an output");
    rc = ag_cu_memcpy_dtoh(out->data, b->data, nb, err);
    if (rc) { ag_free(out->data); out->data = NULL; }
    return rc;
}
"""
