"""Build and cache faults: concurrent processes, damaged entries, killed
builds and unsafe cache directories (SPEC §3, issue 10 item 5).

Complements test_cache.py (threads, an appended byte, the basic refusals)
with processes, every kind of on-disk damage and builds killed mid-way.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from aotgraph.build.cache import MANIFEST, BuildCache, cache_dir
from aotgraph.errors import BuildError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BUILD_SCRIPT = """
import sys, numpy as np
import aotgraph as ag, aotgraph.tensor as at
from aotgraph.build import build_module
mod = ag.Module({name!r})
x = at.dvector("x")
mod.function("f", [x], x * {scale!r} + 1.0)
out = build_module(mod, sys.argv[1])
sys.path.insert(0, sys.argv[1])
import importlib
m = importlib.import_module({name!r})
got = m.f(np.array([1.0, 2.0]))
assert np.array_equal(got, np.array([1.0, 2.0]) * {scale!r} + 1.0), got
print("BUILT-OK")
"""


def _script(name, scale):
    return textwrap.dedent(BUILD_SCRIPT.format(name=name, scale=scale))


def _spawn(name, scale, out, **kw):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.Popen(
        [sys.executable, "-c", _script(name, scale), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,
    )


def _entries(build_cache):
    path = os.path.join(build_cache, "entries")
    return set(os.listdir(path)) if os.path.isdir(path) else set()


def _entry_of(build_cache, module):
    for e in _entries(build_cache):
        with open(os.path.join(build_cache, "entries", e, MANIFEST)) as f:
            if json.load(f)["build_info"]["module"] == module:
                return e
    raise AssertionError(f"no cache entry for {module}")


def test_four_processes_build_once(counting_cc, tmp_path):
    procs = [_spawn("agf_proc.m", 5.0, tmp_path / f"out{k}") for k in range(4)]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0 and "BUILT-OK" in out, err[-2000:]
    assert counting_cc() == 1, "the four processes did not share one compile"
    so = [sorted((tmp_path / f"out{k}").rglob("*.so")) for k in range(4)]
    blobs = [[p.read_bytes() for p in files] for files in so]
    assert all(b == blobs[0] for b in blobs) and blobs[0]


def _damage_cases():
    def so_file(entry):
        return [f for f in os.listdir(entry) if f.endswith(".so")][0]

    def truncate(entry):
        path = os.path.join(entry, so_file(entry))
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)

    def flip_byte(entry):
        path = os.path.join(entry, so_file(entry))
        data = bytearray(open(path, "rb").read())
        data[len(data) // 2] ^= 0xFF
        open(path, "wb").write(bytes(data))

    def alter_source(entry):
        name = sorted(f for f in os.listdir(entry) if f.endswith(".c"))[0]
        with open(os.path.join(entry, name), "a") as f:
            f.write("\n/* altered */\n")

    def delete_so(entry):
        os.remove(os.path.join(entry, so_file(entry)))

    def manifest_garbage(entry):
        open(os.path.join(entry, MANIFEST), "w").write("{not json")

    def manifest_wrong_key(entry):
        path = os.path.join(entry, MANIFEST)
        doc = json.load(open(path))
        doc["key"] = "0" * 64
        json.dump(doc, open(path, "w"))

    def manifest_missing(entry):
        os.remove(os.path.join(entry, MANIFEST))

    def manifest_escapes(entry):
        path = os.path.join(entry, MANIFEST)
        doc = json.load(open(path))
        doc["files"] = {"../../../etc/passwd": "0" * 64}
        json.dump(doc, open(path, "w"))

    def manifest_names_a_device(entry):  # reading it would never end
        path = os.path.join(entry, MANIFEST)
        doc = json.load(open(path))
        doc["files"] = {"../" * 12 + "dev/zero": "0" * 64}
        json.dump(doc, open(path, "w"))

    def manifest_wrong_types(entry):
        path = os.path.join(entry, MANIFEST)
        doc = json.load(open(path))
        doc["files"] = [1, 2]
        json.dump(doc, open(path, "w"))

    return {
        f.__name__: f
        for f in (
            truncate,
            flip_byte,
            alter_source,
            delete_so,
            manifest_garbage,
            manifest_wrong_key,
            manifest_missing,
            manifest_escapes,
            manifest_names_a_device,
            manifest_wrong_types,
        )
    }


DAMAGE = _damage_cases()


@pytest.fixture(scope="module")
def pristine_entry(tmp_path_factory):
    """One real entry (built once), copied aside for the damage cases."""
    import aotgraph as ag
    import aotgraph.tensor as at
    from aotgraph.build import build_module

    mod = ag.Module("agf_damage.m")
    x = at.dvector("x")
    mod.function("f", [x], x - 2.0)
    build_module(mod, str(tmp_path_factory.mktemp("out")))
    cache = os.environ["AOTGRAPH_CACHE"]
    key = _entry_of(cache, "agf_damage.m")
    saved = tmp_path_factory.mktemp("saved") / key
    shutil.copytree(os.path.join(cache, "entries", key), saved)
    return key, str(saved)


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_entry_is_detected(pristine_entry, damage, build_cache):
    key, saved = pristine_entry
    cache = BuildCache()
    target = cache.entry_path(key)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(saved, target)
    assert cache.lookup(key) is not None  # the pristine copy is valid
    DAMAGE[damage](target)
    assert cache.lookup(key) is None
    assert not os.path.exists(target), "a damaged entry must be removed"


def test_truncated_extension_is_rebuilt(counting_cc, tmp_path, build_cache):
    proc = _spawn("agf_trunc.m", 3.0, tmp_path / "a")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    entry = os.path.join(build_cache, "entries", _entry_of(build_cache, "agf_trunc.m"))
    DAMAGE["truncate"](entry)
    proc = _spawn("agf_trunc.m", 3.0, tmp_path / "b")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "BUILT-OK" in out, err[-2000:]
    assert counting_cc() == 2


def _hanging_cc(tmp_path, stage):
    """A CC wrapper that signals, then hangs, at ``stage`` (compile or link)."""
    marker = tmp_path / "reached"
    wrapper = tmp_path / "hanging-cc"
    test = '*" -shared "*' if stage == "link" else '*" -c "*'
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" --version "*) ;; {test}) touch "{marker}"; sleep 600 ;; esac\n'
        'exec gcc "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return str(wrapper), marker


@pytest.mark.parametrize("stage", ["compile", "link"])
def test_killed_build_leaves_no_usable_entry(stage, tmp_path, build_cache, monkeypatch):
    name = f"agf_killed_{stage}.m"
    before = _entries(build_cache)
    cc, marker = _hanging_cc(tmp_path, stage)
    monkeypatch.setenv("CC", cc)
    proc = _spawn(name, 9.0, tmp_path / "a", start_new_session=True)
    deadline = time.time() + 300
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.time() < deadline, "the build never reached the compiler"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert _entries(build_cache) == before, "a killed build left an entry"
    monkeypatch.setenv("CC", "gcc")
    proc = _spawn(name, 9.0, tmp_path / "b")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "BUILT-OK" in out, err[-2000:]
    assert len(_entries(build_cache) - before) == 1


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777, 0o720, 0o702, 0o1777])
def test_shared_cache_dir_is_refused(tmp_path, monkeypatch, mode):
    path = tmp_path / "cache"
    path.mkdir()
    os.chmod(path, mode)
    monkeypatch.setenv("AOTGRAPH_CACHE", str(path))
    with pytest.raises(BuildError, match=r"writable by group or others.*could be replaced"):
        cache_dir()


@pytest.mark.parametrize("mode", [0o700, 0o750, 0o755])
def test_private_cache_dir_is_accepted(tmp_path, monkeypatch, mode):
    path = tmp_path / "cache"
    path.mkdir()
    os.chmod(path, mode)
    monkeypatch.setenv("AOTGRAPH_CACHE", str(path))
    assert cache_dir() == str(path)


def test_symlink_to_shared_dir_is_refused(tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir()
    os.chmod(real, 0o777)
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.setenv("AOTGRAPH_CACHE", str(link))
    with pytest.raises(BuildError, match="writable by group or others"):
        cache_dir()


def test_cache_path_that_is_a_file_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "file"
    path.write_text("x")
    monkeypatch.setenv("AOTGRAPH_CACHE", str(path))
    with pytest.raises(BuildError, match="AOTGRAPH_CACHE|not a directory"):
        cache_dir()


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to chown")
def test_cache_dir_of_another_user_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "theirs"
    path.mkdir(mode=0o700)
    os.chown(path, 65534, 65534)
    monkeypatch.setenv("AOTGRAPH_CACHE", str(path))
    with pytest.raises(BuildError, match="owned by another user.*run code"):
        cache_dir()


def test_build_refuses_before_compiling(tmp_path, monkeypatch, counting_cc):
    """The refusal happens before anything is compiled or loaded."""
    import aotgraph as ag
    import aotgraph.tensor as at
    from aotgraph.build import build_module

    path = tmp_path / "cache"
    path.mkdir()
    os.chmod(path, 0o777)
    monkeypatch.setenv("AOTGRAPH_CACHE", str(path))
    mod = ag.Module("agf_refused.m")
    x = at.dvector("x")
    mod.function("f", [x], x + 1.0)
    with pytest.raises(BuildError, match="chmod 700"):
        build_module(mod, str(tmp_path / "out"))
    assert counting_cc.total() == 0
