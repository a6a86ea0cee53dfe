"""The JSON IR: optimized function graphs of one module as plain data.

:func:`module_to_ir` turns the optimized :class:`~aotgraph.fgraph.FunctionGraph`
of each function into one JSON document plus binary *blobs* (constants and
shared-variable initial values, raw little-endian C-order bytes).  The
emitters read only this document; :func:`load_ir` validates a document
(version, op names, types, definition order, sizes) before anything uses it.

Variable ids are ``v0, v1, ...`` per function in a fixed order: inputs (call
order), shared variables read, constants (first use), then node outputs in
topological order.  Shared variables are module-level, named after the
user's name (made unique deterministically).

>>> import aotgraph.tensor as at
>>> from aotgraph.fgraph import make_function_graph
>>> x = at.dvector("x")
>>> doc, blobs = module_to_ir("demo", {"f": make_function_graph("f", [x], x * 2.0)})
>>> [n["op"] for n in doc["functions"]["f"]["nodes"]]
['mul']
>>> load_ir(dump_ir(doc), blobs).functions["f"].outputs
['v2']
"""

from __future__ import annotations

import hashlib
import json
import math
import re

import numpy as np

from aotgraph.errors import IRError

IR_FORMAT = "aotgraph-ir"
IR_VERSION = 1
#: Ops the optimizer creates that may be absent from the op registry.
OPTIMIZER_OPS = frozenset({"fused_elementwise", "gemm"})
MAX_NDIM = 16
MAX_DIM = 1 << 40
MAX_NODES = 1 << 20
_VAR_ID = re.compile(r"^v(0|[1-9][0-9]{0,6})$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}(\.[A-Za-z_][A-Za-z0-9_]{0,99}){0,20}$")
_BLOB = re.compile(r"^[ks]_[A-Za-z0-9_]{1,100}$")


# --- writing --------------------------------------------------------------


def module_to_ir(name, functions, options=None, embed_shared=True):
    """``(doc, blobs)`` for a module: ``functions`` maps names to optimized
    FunctionGraphs; ``options`` maps function names to per-function options
    (``allow_input_downcast``).  With ``embed_shared=False`` the shared
    variables' current values are left out (in-process functions read them
    at each call)."""
    options = options or {}
    blobs, blob_meta = {}, {}
    shared_names = _name_shared(functions.values())
    shared_doc = {}
    for var, sname in shared_names.values():
        entry = {"dtype": var.type.dtype, "shape": list(var.type.shape), "value": None}
        if embed_shared:
            value = np.array(var.get_value(borrow=True), order="C")
            blob = "s_" + sname
            _add_blob(blobs, blob_meta, blob, value)
            entry["value"] = blob
        shared_doc[sname] = entry
    funcs = {}
    for fname, fg in functions.items():
        opts = options.get(fname, {})
        funcs[fname] = _function_to_ir(fg, opts, shared_names, blobs, blob_meta)
    doc = {
        "format": IR_FORMAT,
        "version": IR_VERSION,
        "module": name,
        "blobs": blob_meta,
        "shared": shared_doc,
        "functions": funcs,
    }
    return doc, blobs


def dump_ir(doc) -> str:
    """The canonical text of an IR document (sorted keys, no NaN)."""
    try:
        return json.dumps(doc, sort_keys=True, indent=1, allow_nan=False)
    except ValueError as exc:
        raise IRError(f"IR: a parameter is not representable in JSON ({exc})") from None


def ir_hash(doc) -> str:
    """sha256 of the canonical text (blob contents are covered by their hashes)."""
    return hashlib.sha256(dump_ir(doc).encode()).hexdigest()


def _name_shared(fgraphs):
    """uid -> (SharedVariable, unique name), in first-seen order."""
    result, taken = {}, set()
    for fg in fgraphs:
        for var in fg.shared_inputs():
            if var.uid in result:
                continue
            base = re.sub(r"[^A-Za-z0-9_]", "_", var.name or "")[:60] or "shared"
            if base[0].isdigit():
                base = "_" + base
            name, k = base, 1
            while name in taken:
                name, k = f"{base}_{k}", k + 1
            taken.add(name)
            result[var.uid] = (var, name)
    return result


def _add_blob(blobs, meta, name, value):
    data = value.astype(value.dtype.newbyteorder("<"), copy=False).tobytes()
    blobs[name] = data
    meta[name] = {
        "dtype": value.dtype.name,
        "shape": list(value.shape),
        "nbytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _constant_blob(blobs, meta, const):
    value = np.array(const.data, order="C")
    digest = hashlib.sha256(
        f"{value.dtype.name}{value.shape}".encode() + value.tobytes()
    ).hexdigest()[:24]
    name = "k_" + digest
    if name not in blobs:
        _add_blob(blobs, meta, name, value)
    return name


def _function_to_ir(fg, opts, shared_names, blobs, blob_meta):
    from aotgraph.graph import Constant, SharedVariable, toposort

    ids, var_docs = {}, []

    def define(var, kind, **extra):
        vid = f"v{len(var_docs)}"
        ids[var.uid] = vid
        var_docs.append(
            {
                "id": vid,
                "kind": kind,
                "dtype": var.type.dtype,
                "shape": list(var.type.shape),
                **extra,
            }
        )

    for var, iname in zip(fg.inputs, fg.input_names()):
        define(var, "input", name=iname)
    shared = fg.shared_inputs()
    for var in shared:
        define(var, "shared", shared=shared_names[var.uid][1])
    order = toposort(fg.all_outputs())
    loose = [v for v in fg.all_outputs() if v.owner is None]
    for var in [v for node in order for v in node.inputs] + loose:
        if var.uid in ids:
            continue
        if isinstance(var, Constant):
            define(var, "constant", blob=_constant_blob(blobs, blob_meta, var))
        elif not isinstance(var, SharedVariable) and var.owner is None:
            raise IRError(f"IR of {fg.name}: free variable {var!r} is not an input")
    nodes = []
    for node in order:
        for out in node.outputs:
            define(out, "node")
        nodes.append(
            {
                "op": node.op.name,
                "params": _plain(node.op.params, f"{fg.name}: {node.op.name}"),
                "inputs": [ids[v.uid] for v in node.inputs],
                "outputs": [ids[v.uid] for v in node.outputs],
            }
        )
    return {
        "inputs": [vid for vid in (ids[v.uid] for v in fg.inputs)],
        "shared": [shared_names[v.uid][1] for v in shared],
        "vars": var_docs,
        "nodes": nodes,
        "outputs": [ids[v.uid] for v in fg.outputs],
        # outputs=None gives no outputs (a list), as in Theano
        "single_output": bool(fg.single_output) and len(fg.outputs) == 1,
        "updates": [{"shared": shared_names[s.uid][1], "value": ids[v.uid]} for s, v in fg.updates],
        "allow_input_downcast": bool(opts.get("allow_input_downcast", False)),
    }


def _plain(value, where):
    """Op params as JSON values (tuples become lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise IRError(f"IR of {where}: parameter value {value!r} is not finite")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise IRError(f"IR of {where}: parameter value {value!r} is not a plain JSON value")


# --- reading and validation -----------------------------------------------


class FunctionIR:
    """One validated function of a :class:`ModuleIR` (attributes mirror the JSON)."""

    def __init__(self, name, doc):
        self.name = name
        self.doc = doc
        self.inputs = doc["inputs"]
        self.shared = doc["shared"]
        self.vars = {v["id"]: v for v in doc["vars"]}
        self.nodes = doc["nodes"]
        self.outputs = doc["outputs"]
        self.updates = doc["updates"]
        self.single_output = doc["single_output"]
        self.allow_input_downcast = doc["allow_input_downcast"]

    def var_index(self, vid) -> int:
        return int(vid[1:])


class ModuleIR:
    """A validated IR document and its blobs."""

    def __init__(self, doc, blobs):
        self.doc = doc
        self.blobs = blobs
        self.name = doc["module"]
        self.shared = doc["shared"]
        self.functions = {n: FunctionIR(n, f) for n, f in sorted(doc["functions"].items())}

    def blob_array(self, name):
        """A read-only numpy view of blob ``name`` with its dtype and shape."""
        meta = self.doc["blobs"][name]
        dtype = np.dtype(meta["dtype"]).newbyteorder("<")
        arr = np.frombuffer(self.blobs[name], dtype=dtype).reshape(meta["shape"])
        return arr.astype(arr.dtype.newbyteorder("="), copy=False)


def load_ir(text_or_dict, blobs, verify_blobs=True) -> ModuleIR:
    """Parse and validate an IR document; raises :class:`IRError` naming the problem."""
    if isinstance(text_or_dict, (str, bytes)):
        try:
            doc = json.loads(text_or_dict)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            raise IRError(f"IR: not valid JSON ({exc})") from None
    else:
        doc = text_or_dict
    _check(isinstance(doc, dict), "IR: the document must be a JSON object")
    try:
        _check_document(doc, blobs, verify_blobs)
    except (TypeError, KeyError, AttributeError, IndexError) as exc:
        # a value of the wrong JSON type somewhere the checks do not expect one
        raise IRError(f"IR: malformed document ({type(exc).__name__}: {exc})") from None
    return ModuleIR(doc, blobs)


def _check_document(doc, blobs, verify_blobs):
    _check(doc.get("format") == IR_FORMAT, f"IR: format must be {IR_FORMAT!r}")
    version = doc.get("version")
    _check(
        version == IR_VERSION,
        f"IR: version {version!r} is not supported (this aotgraph reads version {IR_VERSION})",
    )
    _check(
        isinstance(doc.get("module"), str) and bool(_MODULE.match(doc["module"])),
        "IR: 'module' must be a dotted Python module name",
    )
    _check_blobs(doc.get("blobs"), blobs, verify_blobs)
    _check_shared(doc.get("shared"), doc["blobs"])
    funcs = doc.get("functions")
    _check(isinstance(funcs, dict), "IR: 'functions' must be an object")
    for fname, fdoc in funcs.items():
        _check(bool(_NAME.match(str(fname))), f"IR: bad function name {fname!r}")
        _check_function(fname, fdoc, doc)


def _check(cond, message):
    if not cond:
        raise IRError(message)


def _check_type(where, dtype, shape):
    from aotgraph.types import SUPPORTED_DTYPES

    _check(dtype in SUPPORTED_DTYPES, f"IR: {where}: unknown dtype {dtype!r}")
    _check(isinstance(shape, list) and len(shape) <= MAX_NDIM, f"IR: {where}: bad shape {shape!r}")
    for d in shape:
        ok = d is None or (type(d) is int and 0 <= d <= MAX_DIM)
        _check(ok, f"IR: {where}: bad dimension {d!r} in shape {shape!r}")
    size = 1
    for d in shape:
        size *= d or 1
    _check(size <= MAX_DIM, f"IR: {where}: shape {shape!r} has over {MAX_DIM} elements")


def _check_blobs(meta, blobs, verify):
    _check(isinstance(meta, dict), "IR: 'blobs' must be an object")
    _check(isinstance(blobs, dict), "IR: blobs must be a dict of name -> bytes")
    for name, m in meta.items():
        where = f"blob {name!r}"
        _check(bool(_BLOB.match(name)) and isinstance(m, dict), f"IR: bad {where}")
        _check_type(where, m.get("dtype"), m.get("shape"))
        _check(None not in m["shape"], f"IR: {where}: shape must be static")
        expected = int(np.prod(m["shape"], dtype=np.int64)) * np.dtype(m["dtype"]).itemsize
        data = blobs.get(name)
        _check(isinstance(data, (bytes, bytearray, memoryview)), f"IR: {where} is missing")
        _check(
            len(data) == expected == m.get("nbytes"),
            f"IR: {where} has {len(data)} bytes; its dtype and shape need {expected}",
        )
        if verify:
            digest = hashlib.sha256(data).hexdigest()
            _check(digest == m.get("sha256"), f"IR: {where} does not match its sha256")


def _check_shared(shared, blob_meta):
    _check(isinstance(shared, dict), "IR: 'shared' must be an object")
    for name, s in shared.items():
        where = f"shared variable {name!r}"
        _check(bool(_NAME.match(name)) and isinstance(s, dict), f"IR: bad {where}")
        _check_type(where, s.get("dtype"), s.get("shape"))
        blob = s.get("value")
        if blob is None:
            continue
        m = blob_meta.get(blob) if isinstance(blob, str) else None
        _check(m is not None, f"IR: {where}: unknown blob {blob!r}")
        fits = (
            m["dtype"] == s["dtype"]
            and len(m["shape"]) == len(s["shape"])
            and all(a is None or a == b for a, b in zip(s["shape"], m["shape"]))
        )
        _check(fits, f"IR: {where}: initial value {m['dtype']}{m['shape']} does not fit its type")


def _check_function(fname, f, doc):
    where = f"function {fname!r}"
    _check(isinstance(f, dict), f"IR: {where} must be an object")
    for key, kind in (
        ("inputs", list),
        ("shared", list),
        ("vars", list),
        ("nodes", list),
        ("outputs", list),
        ("updates", list),
        ("single_output", bool),
        ("allow_input_downcast", bool),
    ):
        _check(isinstance(f.get(key), kind), f"IR: {where}: {key!r} must be a {kind.__name__}")
    _check(len(f["nodes"]) <= MAX_NODES, f"IR: {where}: too many nodes")
    types = _check_vars(where, f, doc)
    defined = {vid for vid, v in types.items() if v["kind"] != "node"}
    for i, node in enumerate(f["nodes"]):
        _check_node(f"{where} node {i}", node, types, defined)
    for vid in f["outputs"]:
        _check(
            isinstance(vid, str) and vid in defined, f"IR: {where}: output {vid!r} is never defined"
        )
    for u in f["updates"]:
        _check(
            isinstance(u, dict) and u.get("shared") in f["shared"],
            f"IR: {where}: update {u!r} names a shared variable the function does not use",
        )
        _check(
            isinstance(u.get("value"), str) and u["value"] in defined,
            f"IR: {where}: update value {u.get('value')!r} undefined",
        )
        s = doc["shared"][u["shared"]]
        v = types[u["value"]]
        _check(
            v["dtype"] == s["dtype"] and len(v["shape"]) == len(s["shape"]),
            f"IR: {where}: update of {u['shared']!r} has type {v['dtype']}{v['shape']}, "
            f"expected {s['dtype']}{s['shape']}",
        )
    if f["single_output"]:
        _check(len(f["outputs"]) == 1, f"IR: {where}: single_output needs exactly one output")


def _check_vars(where, f, doc):
    types = {}
    expected_kinds = ["input"] * len(f["inputs"]) + ["shared"] * len(f["shared"])
    for i, v in enumerate(f["vars"]):
        _check(
            isinstance(v, dict) and v.get("id") == f"v{i}",
            f"IR: {where}: var {i} must have id 'v{i}'",
        )
        vid = v["id"]
        _check_type(f"{where} {vid}", v.get("dtype"), v.get("shape"))
        kind = v.get("kind")
        if i < len(expected_kinds):
            _check(kind == expected_kinds[i], f"IR: {where}: {vid} must be an {expected_kinds[i]}")
        else:
            _check(kind in ("constant", "node"), f"IR: {where}: {vid} has bad kind {kind!r}")
        if kind == "input":
            name = v.get("name")
            ok = isinstance(name, str) and 0 < len(name) <= 200 and name.isprintable()
            _check(f["inputs"][i] == vid and ok, f"IR: {where}: input {vid} is malformed")
        elif kind == "shared":
            s = doc["shared"].get(v.get("shared")) if isinstance(v.get("shared"), str) else None
            _check(
                s is not None and f["shared"][i - len(f["inputs"])] == v["shared"],
                f"IR: {where}: {vid} names an unknown shared variable",
            )
            _check(
                s["dtype"] == v["dtype"] and s["shape"] == v["shape"],
                f"IR: {where}: {vid} does not match shared variable {v['shared']!r}",
            )
        elif kind == "constant":
            m = doc["blobs"].get(v.get("blob")) if isinstance(v.get("blob"), str) else None
            _check(
                m is not None and v.get("blob", "").startswith("k_"),
                f"IR: {where}: constant {vid} names an unknown blob",
            )
            _check(
                m["dtype"] == v["dtype"] and m["shape"] == v["shape"],
                f"IR: {where}: constant {vid} does not match its blob",
            )
        types[vid] = v
    return types


def _check_params(where, value, depth=0):
    _check(depth < 32, f"IR: {where}: params nested too deeply")
    if isinstance(value, dict):
        for k, v in value.items():
            _check(isinstance(k, str), f"IR: {where}: param keys must be strings")
            _check_params(where, v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_params(where, v, depth + 1)
    else:
        ok = (
            value is None
            or isinstance(value, (bool, int, str))
            or (isinstance(value, float) and math.isfinite(value))
        )
        _check(ok, f"IR: {where}: param {value!r} is not a plain JSON value")


def _registry():
    """The op registry with every family loaded, optimizer ops included."""
    import importlib

    from aotgraph.ops.base import OPS

    for name in ("aotgraph.tensor", "aotgraph.opt.ops"):
        try:
            importlib.import_module(name)
        except ImportError:  # an optional family not present in this tree
            pass
    return OPS


def _check_node(where, node, types, defined):
    OPS = _registry()

    _check(isinstance(node, dict), f"IR: {where} must be an object")
    op = node.get("op")
    _check(op in OPS or op in OPTIMIZER_OPS, f"IR: {where}: unknown op {op!r}")
    params = node.get("params")
    _check(isinstance(params, dict), f"IR: {where}: params must be an object")
    _check_params(f"{where} ({op})", params)
    ins, outs = node.get("inputs"), node.get("outputs")
    _check(
        isinstance(ins, list) and isinstance(outs, list) and outs,
        f"IR: {where}: bad inputs/outputs",
    )
    for vid in ins:
        _check(
            isinstance(vid, str) and vid in defined,
            f"IR: {where} ({op}): input {vid!r} is used before it is defined",
        )
    for vid in outs:
        _check(
            isinstance(vid, str) and vid in types and types[vid]["kind"] == "node",
            f"IR: {where} ({op}): output {vid!r} is not a node variable",
        )
        _check(vid not in defined, f"IR: {where} ({op}): {vid} is defined twice")
        defined.add(vid)
    if op in OPS:
        _check_node_types(where, op, params, [types[v] for v in ins], [types[v] for v in outs])


def _check_node_types(where, op, params, ins, outs):
    from aotgraph.errors import AotgraphError
    from aotgraph.ops.base import Op
    from aotgraph.types import TensorType

    try:
        inferred = Op(op, **params).defn.infer(
            Op(op, **params), [TensorType(v["dtype"], v["shape"]) for v in ins]
        )
    except AotgraphError as exc:
        raise IRError(f"IR: {where}: {op} rejects its inputs: {exc}") from None
    except Exception as exc:  # a type rule choking on hostile params is a rejection too
        raise IRError(
            f"IR: {where}: {op} rejects its params {params!r}: {type(exc).__name__}"
        ) from None
    _check(
        len(inferred) == len(outs),
        f"IR: {where}: {op} has {len(outs)} outputs, expected {len(inferred)}",
    )
    for t, v in zip(inferred, outs):
        ok = (
            t.dtype == v["dtype"]
            and t.ndim == len(v["shape"])
            and all(a is None or b is None or a == b for a, b in zip(t.shape, v["shape"]))
        )
        _check(
            ok,
            f"IR: {where}: {op} output {v['id']} is {v['dtype']}{v['shape']}, "
            f"but its inputs give {t.short()}",
        )
