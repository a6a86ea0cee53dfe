"""The JSON IR: stable serialization, blobs, and validation of hostile documents."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.errors import IRError
from aotgraph.fgraph import make_function_graph
from aotgraph.function import interpret
from aotgraph.ir import IR_VERSION, dump_ir, load_ir, module_to_ir


def _graphs():
    x = at.fmatrix("x")
    w = ag.shared(np.arange(6, dtype="float32").reshape(3, 2), name="w")
    w2 = ag.shared(np.ones(2, "float32"), name="w")  # same name: made unique
    h = at.exp(x @ w) + w2 + np.float32(3.5)
    f = make_function_graph("f", [x], [h, x.T], updates={w: w * 2})
    g = make_function_graph("g", [x], (x @ w).sum())
    return {"f": f, "g": g}, w, w2


@pytest.fixture()
def ir():
    graphs, _, _ = _graphs()
    doc, blobs = module_to_ir("pkg.mod", graphs)
    return doc, blobs


def test_document_shape_and_ids(ir):
    doc, blobs = ir
    assert doc["format"] == "aotgraph-ir" and doc["version"] == IR_VERSION
    f = doc["functions"]["f"]
    assert [v["id"] for v in f["vars"]] == [f"v{i}" for i in range(len(f["vars"]))]
    kinds = [v["kind"] for v in f["vars"]]
    assert kinds[:3] == ["input", "shared", "shared"] and kinds.count("input") == 1
    assert f["shared"] == ["w", "w_1"] and sorted(doc["shared"]) == ["w", "w_1"]
    assert f["updates"] == [{"shared": "w", "value": f["vars"][-1]["id"]}]
    # shared variables are module-level: g refers to the same name
    assert doc["functions"]["g"]["shared"] == ["w"]
    # constants and initial values travel as blobs, not JSON lists
    const = [v for v in f["vars"] if v["kind"] == "constant"]
    assert const and all(v["blob"].startswith("k_") for v in const)
    assert np.frombuffer(blobs["s_w"], "<f4").tolist() == list(range(6))
    assert "3.5" not in dump_ir(doc)


def test_text_is_canonical_and_stable():
    texts = []
    for _ in range(2):
        graphs, _, _ = _graphs()
        doc, _ = module_to_ir("pkg.mod", graphs)
        texts.append(dump_ir(doc))
    assert texts[0] == texts[1]
    assert texts[0] == json.dumps(json.loads(texts[0]), sort_keys=True, indent=1)


def test_round_trip_evaluates_like_the_graph(ir):
    """Rebuild values from the loaded IR with the ops' numpy references
    (the oracle: the original graph run by the interpreter)."""
    from aotgraph.ops.base import Op

    doc, blobs = ir
    module = load_ir(dump_ir(doc), blobs)
    fn = module.functions["f"]
    x = np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3)
    env = {fn.inputs[0]: x}
    for vid, v in fn.vars.items():
        if v["kind"] == "shared":
            env[vid] = module.blob_array(module.shared[v["shared"]]["value"])
        elif v["kind"] == "constant":
            env[vid] = module.blob_array(v["blob"])
    for node in fn.nodes:
        op = Op(node["op"], **node["params"])
        out = op.defn.impl(op, *[env[i] for i in node["inputs"]])
        env[node["outputs"][0]] = np.asarray(out)
    graphs, _, _ = _graphs()
    expected = interpret(graphs["f"].all_outputs(), {graphs["f"].inputs[0].uid: x})
    for vid, want in zip(fn.outputs + [fn.updates[0]["value"]], expected):
        np.testing.assert_allclose(env[vid], want, rtol=1e-6)


def test_in_process_ir_leaves_shared_values_out():
    graphs, _, _ = _graphs()
    doc, blobs = module_to_ir("m", graphs, embed_shared=False)
    assert all(s["value"] is None for s in doc["shared"].values())
    assert not [b for b in blobs if b.startswith("s_")]
    load_ir(doc, blobs)


def _first_output(f):
    vid = f["nodes"][0]["outputs"][0]
    return f["vars"][int(vid[1:])]


def _mutations():
    """(description, mutate(doc, blobs), message fragment)."""

    def fn(d):
        return d["functions"]["f"]

    def set_node(key, value, i=0):
        return lambda d, b: fn(d)["nodes"][i].__setitem__(key, value)

    return [
        ("version", lambda d, b: d.__setitem__("version", 99), "version 99"),
        ("format", lambda d, b: d.__setitem__("format", "pickle"), "format"),
        (
            "module",
            lambda d, b: d.__setitem__("module", "m */ evil(); /*"),
            "dotted Python module name",
        ),
        ("unknown op", set_node("op", "system"), "unknown op 'system'"),
        (
            "use before def",
            lambda d, b: fn(d)["nodes"][0].__setitem__("inputs", [fn(d)["vars"][-1]["id"], "v1"]),
            "used before it is defined",
        ),
        ("undefined id", set_node("inputs", ["v999", "v1"]), "used before it is defined"),
        (
            "defined twice",
            lambda d, b: fn(d)["nodes"][1].__setitem__("outputs", fn(d)["nodes"][0]["outputs"]),
            "defined twice",
        ),
        ("bad dim", lambda d, b: fn(d)["vars"][0].__setitem__("shape", [-1, 3]), "bad dimension"),
        (
            "huge dim",
            lambda d, b: fn(d)["vars"][0].__setitem__("shape", [2**60, 3]),
            "bad dimension",
        ),
        ("ndim", lambda d, b: fn(d)["vars"][0].__setitem__("shape", [1] * 17), "bad shape"),
        ("dtype", lambda d, b: fn(d)["vars"][0].__setitem__("dtype", "object"), "unknown dtype"),
        (
            "params",
            set_node("params", {"x": {"__class__": object.__name__, "v": float("nan")}}),
            "not a plain JSON value",
        ),
        (
            "ill-typed",
            lambda d, b: _first_output(fn(d)).__setitem__("dtype", "int8"),
            "but its inputs give",
        ),
        ("blob size", lambda d, b: b.__setitem__("s_w", b["s_w"][:-4]), "bytes"),
        ("blob hash", lambda d, b: b.__setitem__("s_w", b"\0" * len(b["s_w"])), "sha256"),
        ("missing blob", lambda d, b: b.pop("s_w"), "missing"),
        ("update target", lambda d, b: fn(d)["updates"][0].__setitem__("shared", "nope"), "update"),
        ("output", lambda d, b: fn(d)["outputs"].append("v77"), "never defined"),
        (
            "fn name",
            lambda d, b: d["functions"].__setitem__("bad name", fn(d)),
            "bad function name",
        ),
        ("var id", lambda d, b: fn(d)["vars"][2].__setitem__("id", "v9"), "must have id 'v2'"),
    ]


@pytest.mark.parametrize("what,mutate,message", _mutations(), ids=[m[0] for m in _mutations()])
def test_validation_rejects(ir, what, mutate, message):
    doc, blobs = copy.deepcopy(ir[0]), dict(ir[1])
    mutate(doc, blobs)
    with pytest.raises(IRError, match=message.replace("(", r"\(").replace("'", "'")):
        load_ir(doc, blobs)


def test_not_json():
    with pytest.raises(IRError, match="not valid JSON"):
        load_ir("{nope", {})
    with pytest.raises(IRError, match="JSON object"):
        load_ir("[1, 2]", {})


def test_non_finite_values_stay_out_of_json():
    x = at.dvector("x")
    fg = make_function_graph("f", [x], at.maximum(x, -np.inf) * np.nan)
    doc, blobs = module_to_ir("m", {"f": fg})  # non-finite constants are blobs
    load_ir(dump_ir(doc), blobs)
    with pytest.raises(IRError, match="not representable"):
        dump_ir({"params": float("nan")})


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


_JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 2**62)
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
    | st.sampled_from(["v0", "v1", "v999", "add", "float32", "s_w", "w"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@given(data=st.data())
def test_fuzzed_documents_raise_only_ir_errors(data):
    graphs, _, _ = _graphs()
    doc, blobs = module_to_ir("pkg.mod", graphs)
    paths = sorted((p for p in _paths(doc) if p), key=repr)
    path = data.draw(st.sampled_from(paths))
    junk = data.draw(_JUNK)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = junk
    try:
        load_ir(json.loads(json.dumps(doc)), blobs)
    except IRError:
        pass
