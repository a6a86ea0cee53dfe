"""Byte-for-byte reproducible builds: one spec built twice, in two
directories with two caches (and two working directories), gives identical
C sources and identical extension files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.build import build_module


def _spec():
    mod = ag.Module("agrepro.pkg.model")
    x = at.fmatrix("x")
    w = ag.shared(np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3), name="w")
    b = ag.shared(np.zeros(3, "float32"), name="b")
    y = at.exp(x @ w + b) * np.float32(0.5)
    mod.function("predict", [x], y)
    mod.function("nudge", [x], y.sum(), updates={b: b + 1.0})
    return mod


def _build(root, monkeypatch):
    cache, out, work = root / "cache", root / "out", root / "cwd"
    for d in (cache, out, work):
        d.mkdir(parents=True)
    monkeypatch.setenv("AOTGRAPH_CACHE", str(cache))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.chdir(work)
    pkg = build_module(_spec(), str(out))
    (entry,) = os.listdir(cache / "entries")
    return pkg, cache / "entries" / entry


def _build_in_subprocess(root):
    """The same build in a fresh interpreter with another hash seed (set
    iteration order differs between processes)."""
    cache, out, work = root / "cache", root / "out", root / "cwd"
    for d in (cache, out, work):
        d.mkdir(parents=True)
    here = os.path.dirname(os.path.abspath(__file__))
    script = (
        f"import sys; sys.path.insert(0, {here!r}); import test_reproducible as t; "
        "from aotgraph.build import build_module; "
        f"print(build_module(t._spec(), {str(out)!r}))"
    )
    root_dir = os.path.dirname(os.path.dirname(here))
    env = dict(
        os.environ,
        AOTGRAPH_CACHE=str(cache),
        PYTHONHASHSEED="12345",
        PYTHONPATH=os.pathsep.join(filter(None, [root_dir, os.environ.get("PYTHONPATH")])),
        SOURCE_DATE_EPOCH="1700000000",
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (entry,) = os.listdir(cache / "entries")
    return proc.stdout.strip().splitlines()[-1], cache / "entries" / entry


def _digests(path, skip=()):
    result = {}
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isfile(full) and name not in skip:
            with open(full, "rb") as f:
                result[name] = hashlib.sha256(f.read()).hexdigest()
    return result


def test_two_builds_are_identical(tmp_path, monkeypatch):
    pkg1, entry1 = _build(tmp_path / "first", monkeypatch)
    pkg2, entry2 = _build_in_subprocess(tmp_path / "second" / "deeper")
    sources1, sources2 = _digests(entry1), _digests(entry2)
    assert [n for n in sources1 if n.endswith(".c")] == [
        "ag_blas.c",
        "ag_fn_nudge.c",
        "ag_fn_predict.c",
        "ag_graph.c",
        "ag_runtime.c",
        "ag_threads.c",
        "ag_workspace.c",
        "ag_wrapper.c",
    ]
    assert sources1 == sources2, [n for n in sources1 if sources1[n] != sources2.get(n)]
    files1, files2 = _digests(pkg1), _digests(pkg2)
    assert any(n.endswith(".abi3.so") for n in files1)
    assert files1 == files2
    text = ""
    for name in ("ag_graph.c", "ag_fn_predict.c", "ag_graph_internal.h"):
        with open(os.path.join(entry1, name), encoding="utf-8") as f:
            text += f.read()
    assert str(tmp_path) not in text and "/tmp" not in text
    with open(os.path.join(pkg1, "__init__.py"), encoding="utf-8") as f:
        assert str(tmp_path) not in f.read()
    so = [n for n in files1 if n.endswith(".so")][0]
    with open(os.path.join(pkg1, so), "rb") as f:
        assert str(tmp_path).encode() not in f.read()
    assert int(os.stat(os.path.join(pkg1, so)).st_mtime) == 1700000000
