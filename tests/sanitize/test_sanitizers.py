"""The sanitizer build mode (``AOTGRAPH_SANITIZE=address,undefined``): the op
suite and a fuzz batch, built with ASan + UBSan and run in a subprocess
with the sanitizer runtimes preloaded; zero findings allowed.

The build runs here (the compiler must not run under ``LD_PRELOAD``); the
child imports the built module, compares every result with the reference
interpreter and prints a summary; its stderr is scanned for reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aotgraph as ag
from aotgraph.build import build_module
from aotgraph.build.compiler import sanitizer_env

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTS)
SANITIZERS = os.environ.get("AOTGRAPH_SANITIZE_TEST", "address,undefined")
GROUP = 64  # op-suite cases (or 10 fuzz graphs) per built function: fewer compile units
FINDINGS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer", "SUMMARY: ")

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="gcc sanitizers on Linux only")


@pytest.fixture(scope="module")
def sanitized(tmp_path_factory):
    """Build with ``$AOTGRAPH_SANITIZE`` set (a private cache); yields a
    function ``run(code, package_dir)`` running ``code`` in a sanitized child."""
    cache = tmp_path_factory.mktemp("cache")
    os.chmod(cache, 0o700)
    saved = {k: os.environ.get(k) for k in ("AOTGRAPH_CACHE", "AOTGRAPH_SANITIZE")}
    os.environ.update(AOTGRAPH_CACHE=str(cache), AOTGRAPH_SANITIZE=SANITIZERS)
    try:
        env = sanitizer_env()
        env.pop("AOTGRAPH_SANITIZE")
        yield lambda spec, out: _build_and_run(spec, out, env)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _build_and_run(spec, out_dir, env):
    module, child_code = spec
    build_module(module, str(out_dir))
    env = dict(
        env,
        PYTHONPATH=os.pathsep.join(
            [str(out_dir), ROOT, os.path.join(TESTS, "fuzz"), os.path.join(TESTS, "cuda")]
        ),
    )
    proc = subprocess.run(
        [sys.executable, "-c", child_code], capture_output=True, text=True, env=env, timeout=900
    )
    findings = [ln for ln in proc.stderr.splitlines() if any(f in ln for f in FINDINGS)]
    assert not findings and proc.returncode == 0, (
        f"sanitizer findings (rc {proc.returncode}):\n" + proc.stderr[-6000:]
    )
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("SANITIZED ")][-1]
    return json.loads(line[len("SANITIZED ") :])


OP_SUITE_CHILD = r"""
import ctypes, json, sys, numpy as np
import aotgraph as ag
import op_suite
import {package} as M
assert hasattr(ctypes.CDLL(None), "__asan_init"), "the ASan runtime is not loaded"
cases = op_suite.suite()
names = sorted(cases)
groups = [names[i:i + {group}] for i in range(0, len(names), {group})]
bad, n = [], 0
for k, group in enumerate(groups):
    ins, args, refs = [], [], []
    for name in group:
        inputs, outputs, a = cases[name]
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        ref = ag.function(inputs, outputs, target="py", on_unused_input="ignore")
        with np.errstate(all="ignore"):
            refs.append(ref(*a))
        for v, value in zip(inputs, a):
            if all(v is not u for u in ins):
                ins.append(v)
                args.append(value)
    got = getattr(M, "s%d" % k)(*args)
    i = 0
    for name, want in zip(group, refs):
        for w in want:
            g = got[i]; i += 1; n += 1
            w = np.asarray(w)
            tol = 1e-4 if w.dtype == np.float32 else 1e-9
            ok = g.shape == w.shape and (np.array_equal(g, w, equal_nan=True) if w.dtype.kind not in "fc"
                 else np.allclose(g, w, rtol=tol, atol=tol, equal_nan=True))
            if not ok:
                bad.append(name)
print("SANITIZED " + json.dumps({{"outputs": n, "cases": len(names), "mismatch": bad}}))
"""


def _op_suite_module():
    sys.path.insert(0, os.path.join(TESTS, "cuda"))
    try:
        import op_suite
    finally:
        sys.path.remove(os.path.join(TESTS, "cuda"))
    cases = op_suite.suite()
    names = sorted(cases)
    mod = ag.Module("agsan_ops.m")
    for k in range(0, len(names), GROUP):
        ins, outs = [], []
        for name in names[k : k + GROUP]:
            inputs, outputs, _ = cases[name]
            # cases share input variables: each becomes one input (so in the child)
            ins += [v for v in inputs if all(v is not u for u in ins)]
            outs += list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
        mod.function(f"s{k // GROUP}", ins, outs, on_unused_input="ignore")
    return mod, OP_SUITE_CHILD.format(package="agsan_ops.m", group=GROUP)


def test_op_suite_has_no_sanitizer_findings(sanitized, tmp_path):
    result = sanitized(_op_suite_module(), tmp_path)
    print(f"\nsanitized op suite: {result['cases']} cases, {result['outputs']} outputs, 0 findings")
    assert result["cases"] >= 200
    assert not result["mismatch"], result["mismatch"]


FUZZ_CHILD = r"""
import ctypes, json, numpy as np
from graphgen import recipe_values
import {package} as M
assert hasattr(ctypes.CDLL(None), "__asan_init"), "the ASan runtime is not loaded"
batch = json.loads({batch!r})
n = errors = 0
for k in range(0, len(batch), 10):
    values = [v for recipe, seed in batch[k:k + 10] for v in recipe_values(recipe, seed)]
    try:
        getattr(M, "g%d" % (k // 10))(*values)
    except (ValueError, IndexError):
        errors += 1
    n += len(batch[k:k + 10])
print("SANITIZED " + json.dumps({{"graphs": n, "errors": errors}}))
"""


def _fuzz_module(batch):
    """Ten graphs side by side per function (as in tests/fuzz)."""
    from graphgen import build_recipe

    mod = ag.Module("agsan_fuzz.m")
    for k in range(0, len(batch), 10):
        ins, outs = [], []
        for j, (recipe, _) in enumerate(batch[k : k + 10]):
            inputs, outputs = build_recipe(recipe, prefix=f"g{j}_")
            ins += inputs
            outs += outputs
        mod.function(f"g{k // 10}", ins, outs, on_unused_input="ignore")
    return mod, FUZZ_CHILD.format(package="agsan_fuzz.m", batch=json.dumps(batch))


def _recipes():
    sys.path.insert(0, os.path.join(TESTS, "fuzz"))
    from graphgen import recipes

    return recipes()


FUZZ_GRAPHS = int(os.environ.get("AOTGRAPH_SANITIZE_FUZZ_GRAPHS", "40"))


@settings(max_examples=1)
@given(
    st.lists(
        st.tuples(_recipes(), st.integers(0, 2**32 - 1)), min_size=FUZZ_GRAPHS, max_size=FUZZ_GRAPHS
    )
)
def test_fuzz_batch_has_no_sanitizer_findings(sanitized, tmp_path_factory, batch):
    batch = json.loads(json.dumps(batch))  # tuples -> lists, as the child sees them
    result = sanitized(_fuzz_module(batch), tmp_path_factory.mktemp("fuzz"))
    print(f"\nsanitized fuzz batch: {result['graphs']} graphs, 0 findings")
    assert result["graphs"] == len(batch)


def test_sanitizer_mode_changes_the_cache_key(monkeypatch):
    from aotgraph.build.compiler import BuildOptions

    monkeypatch.delenv("AOTGRAPH_SANITIZE", raising=False)
    plain = BuildOptions().flags()
    monkeypatch.setenv("AOTGRAPH_SANITIZE", "undefined,address")
    flags = BuildOptions().flags()
    assert "-fsanitize=address,undefined" in flags and "-fno-omit-frame-pointer" in flags
    assert flags != plain
    monkeypatch.setenv("AOTGRAPH_SANITIZE", "thread")
    from aotgraph.errors import BuildError

    with pytest.raises(BuildError, match="AOTGRAPH_SANITIZE: unknown sanitizer.*address"):
        BuildOptions().flags()
    assert np is not None


PLANTED_BUG = """
#include <stdlib.h>
int read_past_end(int n) { int *p = malloc(n * sizeof(int)); int v = p[n]; free(p); return v; }
int overflow(int a) { return a + 2147483647; }
"""


def test_the_harness_sees_a_planted_bug(tmp_path, monkeypatch):
    """The detection pipeline works: a heap overflow and a signed overflow
    compiled with the mode's flags are reported by a preloaded child."""
    from aotgraph.build.compiler import compiler_command, sanitizer_flags

    monkeypatch.setenv("AOTGRAPH_SANITIZE", SANITIZERS)
    (tmp_path / "bug.c").write_text(PLANTED_BUG)
    subprocess.run(
        compiler_command()
        + sanitizer_flags()
        + ["-O0", "-shared", "-fPIC", "bug.c", "-o", "bug.so"],
        cwd=tmp_path,
        check=True,
    )
    code = (
        "import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); lib.overflow(5); lib.read_past_end(4)"
    )
    env = sanitizer_env()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "bug.so")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "runtime error: signed integer overflow" in proc.stderr
    assert "ERROR: AddressSanitizer: heap-buffer-overflow" in proc.stderr
    assert proc.returncode != 0
