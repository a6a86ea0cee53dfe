"""The build cache: hits skip the compiler, concurrent builds compile once,
damaged entries are rebuilt, unsafe directories are refused, and large
shared values build quickly."""

from __future__ import annotations

import importlib
import os
import stat
import threading
import time

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.build import build_module
from aotgraph.build.cache import BuildCache, cache_dir
from aotgraph.errors import BuildError


def _module(name, scale):
    mod = ag.Module(name)
    x = at.dvector("x")
    mod.function("f", [x], x * scale + 1.0)
    return mod


def _tree(path):
    out = {}
    for root, _, files in os.walk(path):
        for f in files:
            if f.endswith(".pyc"):
                continue
            full = os.path.join(root, f)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, path)] = fh.read()
    return out


def test_second_build_does_not_compile(counting_cc, tmp_path, fresh_import_path):
    build_module(_module("agb_cache1.m", 3.0), str(tmp_path / "a"))
    assert counting_cc() == 1
    runs = counting_cc.total()
    assert runs > 1  # compiles and a link
    build_module(_module("agb_cache1.m", 3.0), str(tmp_path / "b"))
    assert counting_cc() == 1 and counting_cc.total() == runs  # the compiler never ran
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    build_module(_module("agb_cache1.m", 4.0), str(tmp_path / "c"))  # changed spec
    assert counting_cc() == 2
    fresh_import_path(tmp_path / "c")
    mod = importlib.import_module("agb_cache1.m")
    np.testing.assert_array_equal(mod.f(np.array([1.0, 2.0])), [5.0, 9.0])


def test_concurrent_builds_compile_once(counting_cc, tmp_path):
    errors = []

    def work(k):
        try:
            build_module(_module("agb_cache2.m", 5.0), str(tmp_path / f"out{k}"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert counting_cc() == 1
    trees = [_tree(tmp_path / f"out{k}") for k in range(4)]
    assert all(t == trees[0] for t in trees)


def test_damaged_entry_is_rebuilt(counting_cc, tmp_path, build_cache, fresh_import_path):
    build_module(_module("agb_cache3.m", 7.0), str(tmp_path / "a"))
    entries = os.path.join(build_cache, "entries")
    (entry,) = [
        e
        for e in os.listdir(entries)
        if any(f.startswith("_m.") for f in os.listdir(os.path.join(entries, e)))
        and "agb_cache3" in open(os.path.join(entries, e, "manifest.json")).read()
    ]
    so = [f for f in os.listdir(os.path.join(entries, entry)) if f.endswith(".so")][0]
    with open(os.path.join(entries, entry, so), "ab") as f:
        f.write(b"tampered")
    build_module(_module("agb_cache3.m", 7.0), str(tmp_path / "b"))
    assert counting_cc() == 2
    fresh_import_path(tmp_path / "b")
    mod = importlib.import_module("agb_cache3.m")
    np.testing.assert_array_equal(mod.f(np.array([1.0])), [8.0])


def test_cache_dir_is_created_private(tmp_path, monkeypatch):
    target = tmp_path / "new" / "cache"
    monkeypatch.setenv("AOTGRAPH_CACHE", str(target))
    assert cache_dir() == str(target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700


def test_unsafe_cache_dirs_are_refused(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv("AOTGRAPH_CACHE", str(shared))
    with pytest.raises(BuildError, match="writable by group or others.*chmod 700"):
        cache_dir()
    if os.getuid() == 0:
        theirs = tmp_path / "theirs"
        theirs.mkdir(mode=0o700)
        os.chown(theirs, 65534, 65534)
        monkeypatch.setenv("AOTGRAPH_CACHE", str(theirs))
        with pytest.raises(BuildError, match="owned by another user"):
            cache_dir()


def test_entry_layout(build_cache):
    cache = BuildCache()
    assert cache.root == build_cache
    for sub in ("entries", "locks", "tmp"):
        assert os.path.isdir(os.path.join(build_cache, sub))


def test_large_shared_values_build_fast(tmp_path, fresh_import_path):
    rng = np.random.default_rng(0)
    big = rng.standard_normal((5000, 5000)).astype("float32")  # 100 MB
    w = ag.shared(big, name="w")
    mod = ag.Module("agb_big.m")
    x = at.fvector("x")
    mod.function("project", [x], x @ w)
    start = time.perf_counter()
    build_module(mod, str(tmp_path))
    elapsed = time.perf_counter() - start
    assert elapsed < 30, f"building 100 MB of weights took {elapsed:.1f} s"
    fresh_import_path(tmp_path)
    built = importlib.import_module("agb_big.m")
    got = built.shared["w"].get_value(borrow=True)
    assert got.shape == big.shape and np.array_equal(got, big)
    x = np.linspace(-1, 1, 5000).astype("float32")
    np.testing.assert_allclose(built.project(x), x.astype("float64") @ big, rtol=1e-3, atol=1e-3)
