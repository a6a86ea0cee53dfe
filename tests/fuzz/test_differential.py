"""Differential fuzzing: random graphs compiled to C versus the reference
interpreter, and the optimizer's soundness on the same graphs.

Each hypothesis example is a *batch* of graphs built as the functions of ONE
module (one compiler run), so a CI run covers about
``$AOTGRAPH_FUZZ_EXAMPLES`` graphs (default 1,000) in a few minutes;
``tox -e fuzz`` raises it.  A failing batch reports every bad graph as
code; hypothesis then shrinks the batch (the others to trivial graphs, the
failing one to a minimal graph).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys

import numpy as np
import pytest
from graphgen import build_recipe, recipe_code, recipe_values, recipes
from hypothesis import given, settings
from hypothesis import strategies as st

import aotgraph as ag
from aotgraph.build import build_module

BATCH = 100
GROUP = 25
TOTAL = int(os.environ.get("AOTGRAPH_FUZZ_EXAMPLES", "1000"))
COUNTS = {"graphs": 0, "batches": 0, "calls": 0, "errors_matched": 0}


def _tolerance(dtype):
    return {"float32": 2e-5, "float64": 1e-9}.get(np.dtype(dtype).name, 0.0)


def _compare(got, want, what):
    """None when ``got`` matches ``want`` (dtype, shape, NaN positions,
    values within the dtype's tolerance), else a description."""
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype != want.dtype or got.shape != want.shape:
        return f"{what}: got {got.dtype}{got.shape}, want {want.dtype}{want.shape}"
    tol = _tolerance(want.dtype)
    if tol == 0.0:
        return None if np.array_equal(got, want) else f"{what}: got {got!r}, want {want!r}"
    finite = want[np.isfinite(want)]
    scale = max(1.0, float(np.max(np.abs(finite)))) if finite.size else 1.0
    same_nan = np.array_equal(np.isnan(got), np.isnan(want))
    close = np.allclose(got, want, rtol=tol, atol=tol * scale, equal_nan=True)
    return None if same_nan and close else f"{what}: got {got!r}, want {want!r}"


def _reference(inputs, outputs, values, optimize):
    fn = ag.function(inputs, outputs, target="py", optimize=optimize, on_unused_input="ignore")
    try:
        with np.errstate(all="ignore"):
            return fn(*values), None
    except (ValueError, IndexError) as exc:
        return None, type(exc)


def _check_group(fn, group):
    """Problems of one compiled function running a group of graphs side by
    side: ``[(recipe, seed, problems)]`` for the graphs that went wrong."""
    refs, values = [], []
    for recipe, seed in group:
        inputs, outputs = build_recipe(recipe)
        vals = recipe_values(recipe, seed)
        values += vals
        refs.append((inputs, outputs, vals) + _reference(inputs, outputs, vals, optimize=True))
    COUNTS["calls"] += 1
    try:
        got = fn(*values)
    except (ValueError, IndexError) as exc:
        # one graph of the group failing fails the call: a reference must agree
        if any(err is not None and isinstance(exc, err) for *_, err in refs):
            COUNTS["errors_matched"] += 1
            return []
        return [(r, s, [f"compiled raised {type(exc).__name__}: {exc}"]) for r, s in group]
    bad, k = [], 0
    for (recipe, seed), (inputs, outputs, vals, want, err) in zip(group, refs):
        mine, k = got[k : k + len(outputs)], k + len(outputs)
        if err is not None:
            problems = [f"compiled returned {mine!r}; the reference raised {err.__name__}"]
        else:
            problems = [_compare(g, w, f"output {i}") for i, (g, w) in enumerate(zip(mine, want))]
            before, _ = _reference(inputs, outputs, vals, optimize=False)
            if before is not None:
                problems += [_soundness(a, b, i) for i, (a, b) in enumerate(zip(want, before))]
        problems = [p for p in problems if p]
        if problems:
            bad.append((recipe, seed, problems))
    return bad


def _soundness(after, before, i):
    """Rewrites may turn NaN/inf into finite values (that is what
    stabilization is for), never a finite value into a different one."""
    after, before = np.asarray(after), np.asarray(before)
    if after.dtype != before.dtype or after.shape != before.shape:
        return f"optimizer changed output {i}: {after.dtype}{after.shape} vs {before.dtype}{before.shape}"
    if after.dtype.kind != "f":
        same = np.array_equal(after, before)
        return None if same else f"optimizer changed output {i}: {after!r} vs {before!r}"
    mask = np.isfinite(before)
    tol = 1e3 * _tolerance(before.dtype)
    scale = max(1.0, float(np.max(np.abs(before[mask])))) if mask.any() else 1.0
    if np.allclose(after[mask], before[mask], rtol=tol, atol=tol * scale):
        return None
    return f"optimizer changed output {i}: {after!r} vs unoptimized {before!r}"


def _build_batch(batch, out_dir):
    """One module; function ``gK`` runs graphs ``K*GROUP ...`` side by side
    (one compile unit for GROUP graphs keeps the compiler's share small)."""
    text = "\n".join(recipe_code(r) for r, _ in batch)
    name = "agfuzz_" + hashlib.sha256(text.encode()).hexdigest()[:16] + ".m"
    mod = ag.Module(name)
    groups = [batch[i : i + GROUP] for i in range(0, len(batch), GROUP)]
    for k, group in enumerate(groups):
        ins, outs = [], []
        for j, (recipe, _) in enumerate(group):
            inputs, outputs = build_recipe(recipe, prefix=f"g{j}_")
            ins += inputs
            outs += outputs
        mod.function(f"g{k}", ins, outs, on_unused_input="ignore")
    build_module(mod, str(out_dir))
    sys.path.insert(0, str(out_dir))
    try:
        return importlib.import_module(name), groups
    finally:
        sys.path.remove(str(out_dir))


@pytest.mark.timeout(max(600, 3 * TOTAL))  # about 0.1-0.3 s a graph on 2 cores
@settings(max_examples=max(1, TOTAL // BATCH))
@given(st.lists(st.tuples(recipes(), st.integers(0, 2**32 - 1)), min_size=BATCH, max_size=BATCH))
def test_compiled_graphs_match_the_reference(fuzz_dir, batch):
    built, groups = _build_batch(batch, fuzz_dir())
    COUNTS["batches"] += 1
    failures = []
    for k, group in enumerate(groups):
        for recipe, seed, problems in _check_group(getattr(built, f"g{k}"), group):
            failures.append(
                f"--- graph (values seed {seed}):\n{recipe_code(recipe)}\n" + "\n".join(problems)
            )
        COUNTS["graphs"] += len(group)
    assert not failures, f"{len(failures)} of {len(batch)} graphs differ:\n" + "\n".join(failures)
