"""Hardening of the JSON IR loader beyond tests/build/test_ir.py: cycles,
huge shapes, absurd nesting, byte-level damage of the text, whole-document
junk, and the emitter's robustness on every document the loader accepts.
The loader only ever raises :class:`IRError` and never runs code."""

from __future__ import annotations

import copy
import json
import os
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.errors import AotgraphError, IRError
from aotgraph.fgraph import make_function_graph
from aotgraph.ir import MAX_DIM, dump_ir, load_ir, module_to_ir


def _document():
    x = at.fmatrix("x")
    w = ag.shared(np.arange(6, dtype="float32").reshape(3, 2), name="w")
    h = at.tanh(x @ w).sum(axis=0) + np.float32(1.5)
    graphs = {"f": make_function_graph("f", [x], [h], updates={w: w * 2})}
    return module_to_ir("pkg.fuzzed", graphs)


DOC, BLOBS = _document()
TEXT = dump_ir(DOC)


def _fresh():
    return copy.deepcopy(DOC), dict(BLOBS)


def _loads_or_ir_error(doc, blobs=None):
    """Load; True when accepted, False on IRError; anything else fails."""
    try:
        load_ir(doc, BLOBS if blobs is None else blobs)
        return True
    except IRError:
        return False


def test_cycle_between_nodes_is_rejected():
    doc, blobs = _fresh()
    nodes = doc["functions"]["f"]["nodes"]
    nodes[0]["inputs"][0] = nodes[1]["outputs"][0]
    with pytest.raises(IRError, match="used before it is defined"):
        load_ir(doc, blobs)


def test_self_loop_is_rejected():
    doc, blobs = _fresh()
    node = doc["functions"]["f"]["nodes"][0]
    node["inputs"][0] = node["outputs"][0]
    with pytest.raises(IRError, match="used before it is defined"):
        load_ir(doc, blobs)


@pytest.mark.parametrize("shape", [[2**40, 2**40], [2**20] * 3, [2**30, 2**30, 0, 2**30]])
def test_huge_static_shapes_are_rejected(shape):
    doc, blobs = _fresh()
    doc["functions"]["f"]["vars"][0]["shape"] = shape
    with pytest.raises(IRError, match=f"over {MAX_DIM} elements|bad dimension"):
        load_ir(doc, blobs)


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_absurd_nesting_is_rejected(depth):
    with pytest.raises(IRError, match="not valid JSON"):
        load_ir("[" * depth + "]" * depth, {})
    text = TEXT.replace('"params": {}', '"params": {"a": ' + "[" * depth + "]" * depth + "}", 1)
    with pytest.raises(IRError):
        load_ir(text, BLOBS)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_json_literals_are_rejected(literal):
    text = TEXT.replace('"version": 1', f'"version": {literal}')
    with pytest.raises(IRError, match="version"):
        load_ir(text, BLOBS)
    text = TEXT.replace('"params": {}', '"params": {"alpha": ' + literal + "}", 1)
    with pytest.raises(IRError):
        load_ir(text, BLOBS)


HOSTILE_STRINGS = [
    "__import__('os').system('touch {canary}')",
    'x); system("touch {canary}"); (',
    '*/ system("touch {canary}"); /*',
    "a\nb",
    "os.path",
    "../../etc/passwd",
    "",
    "\u0000",
]


@pytest.mark.parametrize(
    "place", ["module", "function", "op", "input name", "shared name", "blob name", "dtype"]
)
@pytest.mark.parametrize("payload", range(len(HOSTILE_STRINGS)))
def test_hostile_names_are_rejected(tmp_path, place, payload):
    canary = tmp_path / "canary"
    text = HOSTILE_STRINGS[payload].format(canary=canary)
    doc, blobs = _fresh()
    f = doc["functions"]["f"]
    if place == "module":
        doc["module"] = text
    elif place == "function":
        doc["functions"][text] = doc["functions"].pop("f")
    elif place == "op":
        f["nodes"][0]["op"] = text
    elif place == "input name":
        f["vars"][0]["name"] = text
    elif place == "shared name":
        doc["shared"][text] = doc["shared"].pop("w")
    elif place == "blob name":
        blobs[text] = blobs.pop("s_w")
        doc["blobs"][text] = doc["blobs"].pop("s_w")
        doc["shared"]["w"]["value"] = text
    else:
        f["vars"][0]["dtype"] = text
    accepted = _loads_or_ir_error(doc, blobs)
    assert not canary.exists()
    if accepted:
        _emit_or_aotgraph_error(load_ir(doc, blobs), doc, tmp_path)


def _emit_or_aotgraph_error(module, doc, tmp_path):
    """An accepted document emits C (or fails with an AotgraphError), and a
    hostile name reaches the sources only escaped (inside a C string)."""
    from aotgraph.emit.c_module import emit_c_module

    try:
        emitted = emit_c_module(module, json.dumps(doc))
    except AotgraphError:
        return
    for name, source in emitted.files.items():
        assert 'system("touch' not in source, name
        assert '\nb"' not in source and "\nb " not in source, name


def _mutated_texts():
    """Byte-level damage of the canonical text: (position, replacement)."""
    return st.tuples(
        st.integers(0, len(TEXT) - 1),
        st.integers(0, 40),
        st.text(alphabet='{}[]",:0123456789-eE.nulltruefalseNaIfiy v\\', max_size=6),
    )


@given(_mutated_texts())
def test_damaged_text_raises_only_ir_errors(mutation):
    pos, cut, insert = mutation
    text = TEXT[:pos] + insert + TEXT[pos + cut :]
    before = set(sys.modules)
    _loads_or_ir_error(text)
    assert set(sys.modules) == before, "loading an IR document imported modules"


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["aotgraph-ir", "v0", "add", "float32", "f"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "format",
                    "version",
                    "module",
                    "functions",
                    "blobs",
                    "shared",
                    "vars",
                    "nodes",
                    "inputs",
                    "outputs",
                    "op",
                    "params",
                    "id",
                    "kind",
                    "dtype",
                    "shape",
                    "updates",
                    "x",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@given(_JSON)
def test_junk_documents_raise_only_ir_errors(junk):
    _loads_or_ir_error(junk if isinstance(junk, dict) else {"x": junk})


@given(st.sampled_from(["format", "version", "module", "functions", "blobs", "shared"]), _JSON)
def test_top_level_junk_raises_only_ir_errors(key, junk):
    doc, blobs = _fresh()
    doc[key] = junk
    if _loads_or_ir_error(doc, blobs):  # e.g. "functions": {} is a valid empty module
        _emit_or_aotgraph_error(load_ir(doc, blobs), doc, None)


@given(st.data())
def test_accepted_mutations_emit_cleanly(data):
    """Swap one node's op for another op of the same arity: whatever the
    loader accepts (it re-checks types), the C emitter must handle."""
    doc, blobs = _fresh()
    f = doc["functions"]["f"]
    i = data.draw(st.integers(0, len(f["nodes"]) - 1))
    f["nodes"][i]["op"] = data.draw(
        st.sampled_from(
            ["exp", "log", "tanh", "neg", "abs", "sqrt", "sum", "max", "add", "mul", "dot", "cast"]
        )
    )
    if _loads_or_ir_error(doc, blobs):
        _emit_or_aotgraph_error(load_ir(doc, blobs), doc, None)


def test_loader_reads_no_files(tmp_path, monkeypatch):
    """Loading never opens a file: blobs come from the caller only."""
    import builtins

    opened = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    monkeypatch.setattr(
        os, "open", lambda *a, **k: opened.append(a) or (_ for _ in ()).throw(OSError)
    )
    doc, blobs = _fresh()
    load_ir(dump_ir(doc), blobs)
    assert not opened
