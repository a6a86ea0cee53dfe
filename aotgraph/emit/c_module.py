"""The C scaffold of a module: IR → generated translation units + headers.

For each function of a validated :class:`~aotgraph.ir.ModuleIR` this writes
an entry point ``agf_<name>(in_data, in_meta, outs, err)`` that binds the
inputs and shared values to ``ag_buffer``\\ s, then for each node in order
runs the op emitter's shape code, allocates its outputs (from the per-call
arena, or on the heap when the value is returned) and runs its body, and
finally hands the outputs and update values back.  Op kernels come from the
emitter table (``C_OPS`` of :mod:`aotgraph.emit.c_ops`); constants and
shared initial values are embedded with ``.incbin`` in ``ag_graph.c`` (see
``graph_data.c.j2``); each function is its own unit ``ag_fn_<name>.c``.

Output is deterministic: names are sorted, temporaries numbered per
function, and nothing depends on paths or time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jinja2

from aotgraph.errors import BuildError

#: dtype name -> ag_dtype code name (runtime_c/ag_runtime.h)
DTYPE_CODE = {
    "bool": "AG_BOOL",
    "int8": "AG_INT8",
    "int16": "AG_INT16",
    "int32": "AG_INT32",
    "int64": "AG_INT64",
    "uint8": "AG_UINT8",
    "uint16": "AG_UINT16",
    "uint32": "AG_UINT32",
    "uint64": "AG_UINT64",
    "float32": "AG_FLOAT32",
    "float64": "AG_FLOAT64",
}
from aotgraph.emit.c_common import CTYPE  # noqa: E402  (one table for both)

#: Prefix of everything the generated unit exports to the cffi wrapper.
PREFIX = "agm_"
FUNCTION_PREFIX = "agf_"
#: The IR document itself is embedded as this blob.
IR_BLOB = "ir"

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("aotgraph.emit", "templates"),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,
)


class EmitContext:
    """What an op emitter may ask about the function being emitted."""

    def __init__(self, module_ir, fn_ir):
        self.module = module_ir
        self.fn = fn_ir
        self._counter = 0

    def var(self, vid) -> dict:
        """``{"dtype", "shape", "kind", ...}`` of variable ``vid``."""
        return self.fn.vars[vid]

    def ctype(self, dtype) -> str:
        return CTYPE[dtype]

    def dtype_code(self, dtype) -> str:
        return DTYPE_CODE[dtype]

    def fresh(self, prefix="t") -> str:
        """A C identifier unique within the function (stable numbering)."""
        self._counter += 1
        return f"{prefix}_{self._counter}"

    def const_value(self, vid):
        """The numpy value of a constant input, else None."""
        v = self.fn.vars[vid]
        if v["kind"] != "constant":
            return None
        return self.module.blob_array(v["blob"])

    def buf(self, vid) -> str:
        """The ``ag_buffer`` lvalue holding ``vid``."""
        return f"B[{self.fn.var_index(vid)}]"


@dataclass
class BlobRef:
    name: str
    symbol: str
    path: str
    nbytes: int


@dataclass
class FunctionUnit:
    name: str
    symbol: str
    nvars: int
    nresults: int
    bindings: list = field(default_factory=list)
    constants: list = field(default_factory=list)
    nodes: list = field(default_factory=list)
    results: list = field(default_factory=list)
    profile: bool = False  # per-node timers (ag.function(..., profile=True))


@dataclass
class ModuleUnit:
    module: str
    version: str
    header_name: str
    guard: str
    prefix: str
    preamble: str
    blobs: list
    functions: list
    cdecls: str
    nan_guard: bool = False
    profile: bool = False


@dataclass
class EmittedC:
    """Generated sources: ``files`` (name → text), the cffi declarations,
    the runtime_c files to compile alongside, and blob name → file name."""

    files: dict
    cdef: str
    support_files: list
    blob_files: dict
    header_name: str


def load_c_ops():
    """``(C_OPS, C_PREAMBLE, C_SUPPORT_FILES)`` from aotgraph.emit.c_ops."""
    try:
        from aotgraph.emit import c_ops
    except ImportError as exc:
        raise BuildError(
            f"the C op emitters (aotgraph.emit.c_ops) cannot be imported: {exc}"
        ) from exc
    return (
        c_ops.C_OPS,
        getattr(c_ops, "C_PREAMBLE", ""),
        list(getattr(c_ops, "C_SUPPORT_FILES", [])),
    )


def emit_c_module(module_ir, ir_text, emitters=None) -> EmittedC:
    """C sources for a validated ModuleIR (``ir_text`` is embedded as blob
    ``ir``).  ``emitters`` overrides the op table: ``(C_OPS, preamble,
    support_files)``."""
    ops, preamble, support = emitters if emitters is not None else load_c_ops()
    blob_names = sorted(module_ir.doc["blobs"]) + [IR_BLOB]
    blob_files = {name: f"blobs/{name}.bin" for name in blob_names}
    sizes = {name: m["nbytes"] for name, m in module_ir.doc["blobs"].items()}
    sizes[IR_BLOB] = len(ir_text.encode())
    blobs = [BlobRef(n, _blob_symbol(n), blob_files[n], sizes[n]) for n in blob_names]
    functions = [
        _function_unit(module_ir, fn, ops) for _, fn in sorted(module_ir.functions.items())
    ]
    cdecls = "\n".join(
        [f"const void *{PREFIX}blob(const char *name, size_t *nbytes);"]
        + [
            f"int {f.symbol}(void **in_data, const int64_t *in_meta, ag_buffer *outs, ag_error *err);"
            for f in functions
        ]
        + [
            f"int {f.symbol}_profile(int64_t *ns, int64_t *calls, int32_t n);"
            for f in functions
            if f.profile
        ]
    )
    header = "ag_graph.h"
    unit = ModuleUnit(
        module=module_ir.name,
        version=_version(),
        header_name=header,
        guard="AG_GRAPH_H",
        prefix=PREFIX,
        preamble=preamble,
        blobs=blobs,
        functions=functions,
        cdecls=cdecls,
        nan_guard=any(node["checks"] for f in functions for node in f.nodes),
        profile=any(f.profile for f in functions),
    )
    files = {
        "ag_graph.c": _ENV.get_template("graph_data.c.j2").render(unit=unit),
        header: _ENV.get_template("graph.h.j2").render(unit=unit),
        "ag_graph_internal.h": _ENV.get_template("graph_internal.h.j2").render(unit=unit),
    }
    # one translation unit per function: the compiler driver builds them in parallel
    function_template = _ENV.get_template("graph_function.c.j2")
    for fn in functions:
        files[f"ag_fn_{fn.name}.c"] = function_template.render(unit=unit, fn=fn)
    return EmittedC(files, cdecls, sorted(set(support)), blob_files, header)


def _version():
    import aotgraph

    return aotgraph.__version__


def _blob_symbol(name):
    return "agb_" + name


def _function_unit(module_ir, fn, ops) -> FunctionUnit:
    results = fn.outputs + [u["value"] for u in fn.updates]
    unit = FunctionUnit(
        name=fn.name,
        symbol=FUNCTION_PREFIX + fn.name,
        nvars=max(len(fn.vars), 1),
        nresults=len(results),
        profile=bool(fn.doc.get("profile")),
    )
    meta = 0
    for arg, vid in enumerate(fn.inputs + _shared_vids(fn)):
        v = fn.vars[vid]
        what = (
            f"input {v['name']!r}" if v["kind"] == "input" else f"shared variable {v['shared']!r}"
        )
        unit.bindings.append(
            dict(
                index=fn.var_index(vid),
                arg=arg,
                meta_offset=meta,
                dtype_code=DTYPE_CODE[v["dtype"]],
                ndim=len(v["shape"]),
                what=c_string_body(what),
            )
        )
        meta += 2 * len(v["shape"])
    for vid, v in fn.vars.items():
        if v["kind"] == "constant":
            unit.constants.append(
                dict(
                    index=fn.var_index(vid),
                    symbol=_blob_symbol(v["blob"]),
                    dtype_code=DTYPE_CODE[v["dtype"]],
                    shape=v["shape"],
                )
            )
    slots = _owned_slots(fn, results, ops)
    donors = _inplace_donors(fn, results, ops, slots)
    cx = EmitContext(module_ir, fn)
    for i, node in enumerate(fn.nodes):
        unit.nodes.append(_node_unit(fn, i, node, ops, cx, slots, donors))
    for slot, vid in enumerate(results):
        what = (
            f"output {slot}"
            if slot < len(fn.outputs)
            else (f"update of {fn.updates[slot - len(fn.outputs)]['shared']!r}")
        )
        unit.results.append(
            dict(slot=slot, index=fn.var_index(vid), owned=slots.get(vid) == slot, what=what)
        )
    return unit


def c_string_body(text) -> str:
    """``text`` escaped for the inside of a C string literal (ASCII only)."""
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\?':
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


def _shared_vids(fn):
    n = len(fn.inputs)
    return [f"v{n + i}" for i in range(len(fn.shared))]


def _owned_slots(fn, results, ops):
    """var id -> result slot, for node outputs written straight into the
    memory handed to the caller (first slot of each non-view node output)."""
    producers = {}
    for node in fn.nodes:
        for vid in node["outputs"]:
            producers[vid] = node
    slots = {}
    for slot, vid in enumerate(results):
        node = producers.get(vid)
        if node is None or vid in slots:
            continue
        emitter = ops.get(node["op"])
        if emitter is not None and not getattr(emitter, "view", False):
            slots[vid] = slot
    return slots


def _inplace_donors(fn, results, ops, slots):
    """output vid -> index of a dead input whose arena buffer it may take over.

    The donor must be an intermediate written by a non-view node, read by
    no later node, by no view (which could alias it), only once by this
    node, never returned, and of the output's dtype; the emitter must allow
    it (``inplace_ok``).  Shapes are compared at run time."""
    is_view = lambda node: bool(getattr(ops.get(node["op"]), "view", False))  # noqa: E731
    last_reader, view_read, produced_by_view = {}, set(), set()
    for i, node in enumerate(fn.nodes):
        for vid in node["inputs"]:
            last_reader[vid] = i
            if is_view(node):
                view_read.add(vid)
        if is_view(node):
            produced_by_view.update(node["outputs"])
    returned, donors, donated = set(results), {}, set()
    for i, node in enumerate(fn.nodes):
        emitter = ops.get(node["op"])
        if emitter is None or is_view(node) or len(node["outputs"]) != 1:
            continue
        (out,) = node["outputs"]
        if out in slots:
            continue
        for pos in getattr(emitter, "inplace_ok", ()):
            if pos >= len(node["inputs"]):
                continue
            vid = node["inputs"][pos]
            v = fn.vars[vid]
            if (
                v["kind"] == "node"
                and vid not in produced_by_view
                and vid not in returned
                and vid not in view_read
                and vid not in donated
                and last_reader[vid] == i
                and node["inputs"].count(vid) == 1
                and v["dtype"] == fn.vars[out]["dtype"]
            ):
                donors[out] = fn.var_index(vid)
                donated.add(vid)
                break
    return donors


def _node_unit(fn, i, node, ops, cx, slots, donors) -> dict:
    op = node["op"]
    emitter = ops.get(op)
    if emitter is None:
        raise BuildError(
            f"function {fn.name!r}: no C emitter for op {op!r} (node {i}); "
            "add one to aotgraph/emit/c_ops.py or use target='py'"
        )
    ins = [cx.buf(v) for v in node["inputs"]]
    outs = [cx.buf(v) for v in node["outputs"]]
    try:
        shape_code = emitter.shape(node, ins, outs, cx)
        body_code = emitter.body(node, ins, outs, cx)
    except BuildError:
        raise
    except Exception as exc:  # an emitter bug or an unsupported case: say which node
        raise BuildError(
            f"function {fn.name!r}: the C emitter of {op!r} failed on node {i} "
            f"({', '.join(_type_text(fn.vars[v]) for v in node['inputs'])}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    args = ", ".join(node["inputs"])
    view = bool(getattr(emitter, "view", False))
    return dict(
        comment=f"node {i}: {op}({args}) -> {', '.join(node['outputs'])}",
        what=f"{fn.name}: {op} (node {i})",
        view=view,
        checks=[] if view or not fn.doc.get("nan_guard") else _finite_checks(fn, i, node),
        shape=_indent(shape_code),
        body=_indent(body_code),
        outputs=[
            dict(
                index=fn.var_index(v),
                dtype_code=DTYPE_CODE[fn.vars[v]["dtype"]],
                ndim=len(fn.vars[v]["shape"]),
                slot=slots.get(v),
                donor=donors.get(v),
            )
            for v in node["outputs"]
        ],
    )


def _type_text(v):
    dims = ",".join("?" if d is None else str(d) for d in v["shape"])
    return f"{v['dtype']}[{dims}]"


def _indent(code, prefix="        "):
    lines = (code or "").strip("\n").splitlines()
    return "\n".join(prefix + line if line.strip() else "" for line in lines)


def ir_node_label(node) -> str:
    """A short label of an IR node: its op, fused chains by their steps."""
    label = node["op"]
    if label == "fused_elementwise":
        reduction = node["params"].get("reduce")
        label += "{" + ",".join(s[0] for s in node["params"]["steps"])
        label += (f"|{reduction[0]}" if reduction else "") + "}"
    return label


def _finite_checks(fn, i, node) -> list:
    """nan_guard builds: the float outputs of node ``i`` to check, with the
    message around "NaN"/"Inf" naming the node, its op and the user's source
    line (``trace``, present in the IR of guard builds only)."""
    label = ir_node_label(node)
    where = node.get("trace") or "<unknown location>"
    checks = []
    for k, vid in enumerate(node["outputs"]):
        v = fn.vars[vid]
        if v["dtype"] not in ("float32", "float64"):
            continue
        out = f" output {k}" if len(node["outputs"]) > 1 else ""
        checks.append(
            dict(
                index=fn.var_index(vid),
                head=c_string_body(f"{fn.name}: nan_guard: node {i} ({label}){out} produced"),
                tail=c_string_body(
                    f"in its {_type_text(v)} result (expression created at {where})"
                ),
            )
        )
    return checks
