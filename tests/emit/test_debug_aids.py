"""Debugging aids of ``ag.function``: the NaN guard, per-node profiles,
``debugprint`` of compiled functions and ``inspect --dot`` pictures."""

from __future__ import annotations

import inspect
import os
import shutil

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.function import NanGuardError
from aotgraph.graph import toposort
from aotgraph.printing import debugprint, node_label, profile_table

THIS = os.path.basename(__file__)
TARGETS = ("py", "cpu")


def _line():
    """The line number of the caller (where a test creates a variable)."""
    return inspect.currentframe().f_back.f_lineno


# --- NaN guard --------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_nan_guard_names_the_node_and_the_source_line(target):
    x = at.dvector("x")
    y = at.exp(x)
    z, line = at.log(y - 2.0), _line()
    w = z.sum()
    f = ag.function([x], [z, w], target=target, nan_guard=True)
    good = np.array([1.0, 2.0])
    out = f(good)
    np.testing.assert_allclose(out[0], np.log(np.exp(good) - 2.0))
    np.testing.assert_allclose(out[1], np.log(np.exp(good) - 2.0).sum())
    with pytest.raises(NanGuardError) as exc:
        f(np.array([1.0, 0.0]))  # exp(0) - 2 < 0: log gives NaN
    message = str(exc.value)
    assert "nan_guard" in message and "NaN" in message and "log" in message
    assert f"{THIS}:{line}" in message
    assert isinstance(exc.value, FloatingPointError)


@pytest.mark.parametrize("target", TARGETS)
def test_nan_guard_reports_inf(target):
    x = at.fvector("x")
    y, line = at.exp(x) * 2.0, _line()
    f = ag.function([x], y, target=target, nan_guard=True)
    with pytest.raises(NanGuardError) as exc:
        f(np.array([0.0, 200.0], dtype="float32"))
    assert "Inf" in str(exc.value) and f"{THIS}:{line}" in str(exc.value)


@pytest.mark.parametrize("target", TARGETS)
def test_without_nan_guard_nan_passes_through(target):
    x = at.dvector("x")
    f = ag.function([x], at.log(x), target=target)
    out = f(np.array([-1.0, 1.0]))
    assert np.isnan(out[0]) and out[1] == 0.0


@pytest.mark.parametrize("target", TARGETS)
def test_nan_guard_leaves_shared_variables_unchanged(target):
    w = ag.shared(np.array([1.0, 4.0]), name="w")
    x = at.dvector("x")
    f = ag.function([x], w.sum(), updates={w: at.sqrt(w - x)}, target=target, nan_guard=True)
    f(np.array([0.0, 0.0]))
    np.testing.assert_allclose(w.get_value(), [1.0, 2.0])
    with pytest.raises(NanGuardError) as exc:
        f(np.array([5.0, 0.0]))  # sqrt(1 - 5) is NaN
    assert "sqrt" in str(exc.value) or "fused" in str(exc.value)
    np.testing.assert_allclose(w.get_value(), [1.0, 2.0])


def test_nan_guard_ignores_integer_results():
    x = at.lvector("x")
    f = ag.function([x], x // 2 + 1, target="py", nan_guard=True)
    np.testing.assert_array_equal(f(np.array([3, -4])), np.array([3, -4]) // 2 + 1)


@given(
    values=st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=8),
    data=st.data(),
)
def test_nan_guard_raises_exactly_when_numpy_is_not_finite(values, data):
    x = at.dvector("x")
    f = ag.function([x], at.sqrt(x) * at.log1p(x), target="py", nan_guard=True)
    arr = np.array(values)
    with np.errstate(all="ignore"):
        expected = np.sqrt(arr) * np.log1p(arr)
    if np.isfinite(expected).all():
        np.testing.assert_allclose(f(arr), expected, rtol=1e-12)
    else:
        with pytest.raises(NanGuardError):
            f(arr)
    # a NaN input anywhere is caught at the first node reading it
    pos = data.draw(st.integers(0, len(values) - 1))
    arr[pos] = np.nan
    with pytest.raises(NanGuardError):
        f(arr)


# --- profiling --------------------------------------------------------------


def test_profile_counts_and_times_each_node_py():
    x, y = at.dmatrix("x"), at.dmatrix("y")
    f = ag.function([x, y], [(at.tanh(x @ y) + 1.0).sum(axis=0)], target="py", profile=True)
    a, b = np.ones((20, 30)), np.full((30, 10), 0.1)
    for _ in range(3):
        (out,) = f(a, b)
    np.testing.assert_allclose(out, (np.tanh(a @ b) + 1.0).sum(axis=0))
    nodes = toposort(f.fgraph.all_outputs())
    assert sorted(f.profile_stats) == list(range(len(nodes)))
    for k, node in enumerate(nodes):
        label, calls, seconds = f.profile_stats[k]
        assert label == node_label(node) and calls == 3 and seconds >= 0.0
    text = f.profile_report(file="str")
    rows = text.splitlines()[2:]
    assert len(rows) == len(nodes)
    assert abs(sum(float(r.split()[-1]) for r in rows) - 100.0) < 0.5
    total = sum(s for _, _, s in f.profile_stats.values())
    assert f"{total:.6f} s in total" in text.splitlines()[0]


def test_profile_of_a_native_function_times_each_node():
    x, y = at.dmatrix("x"), at.dmatrix("y")
    f = ag.function([x, y], [at.exp(x @ y).sum(axis=1), x.T + 1.0], target="cpu", profile=True)
    a, b = np.linspace(-1, 1, 12).reshape(3, 4), np.full((4, 2), 0.5)
    for _ in range(4):
        out = f(a, b)
    np.testing.assert_allclose(out[0], np.exp(a @ b).sum(axis=1))
    np.testing.assert_allclose(out[1], a.T + 1.0)
    nodes = toposort(f.fgraph.all_outputs())
    assert sorted(f.profile_stats) == list(range(len(nodes)))
    for k, node in enumerate(nodes):
        label, calls, seconds = f.profile_stats[k]
        assert label == node_label(node) and calls == 4 and 0.0 <= seconds < 10.0
    assert sum(s for _, _, s in f.profile_stats.values()) > 0.0
    assert len(f.profile_report(file="str").splitlines()) == 2 + len(nodes)


def test_native_guard_checks_in_c_without_replay():
    x = at.fmatrix("x")
    y, line = at.sqrt(x).T.sum(axis=0), _line()  # a reduction over a transposed view
    f = ag.function([x], y, target="cpu", nan_guard=True)
    assert f.native_guard
    data = np.array([[1.0, 4.0], [9.0, 16.0]], dtype="float32")
    np.testing.assert_allclose(f(data), np.sqrt(data).T.sum(axis=0), rtol=1e-6)
    data[1, 0] = -1.0
    with pytest.raises(NanGuardError) as exc:
        f(data)
    message = str(exc.value)
    assert "NaN" in message and "replaying" not in message
    assert f"{THIS}:{line}" in message


def test_normal_builds_carry_no_traces():
    from aotgraph.build import debug_ir
    from aotgraph.fgraph import make_function_graph
    from aotgraph.ir import dump_ir, module_to_ir
    from aotgraph.opt import optimize_graph

    x = at.dvector("x")
    fg = optimize_graph(make_function_graph("h", [x], at.log(x) + 1.0, None, None, "raise"))
    doc, _ = module_to_ir("m", {"h": fg}, {}, embed_shared=False)
    assert THIS not in dump_ir(doc) and "nan_guard" not in dump_ir(doc)
    debug_ir(doc["functions"]["h"], fg, nan_guard=True, profile=False)
    assert THIS in dump_ir(doc) and doc["functions"]["h"]["nan_guard"] is True


def test_profile_report_requires_profile():
    x = at.dvector("x")
    f = ag.function([x], x + 1, target="py")
    with pytest.raises(ag.errors.AotgraphError, match="profile=True"):
        f.profile_report()


def test_profile_table_sorts_by_time_and_shares():
    text = profile_table("g", [("a", 1, 1.0), ("b", 2, 3.0)])
    lines = text.splitlines()
    assert lines[2].split() == ["b", "2", "3.000000", "75.0"]
    assert lines[3].split() == ["a", "1", "1.000000", "25.0"]
    assert (
        profile_table("empty", []).splitlines()[0]
        == "profile of empty: 0 nodes, 0.000000 s in total"
    )


# --- debugprint and dot -----------------------------------------------------


def test_debugprint_of_a_compiled_function_shows_shapes_and_origins():
    x = at.tensor("float64", shape=(None, 3), name="x")
    y, line = at.exp(x).sum(axis=1), _line()
    f = ag.function([x], y, target="cpu")
    text = debugprint(f, file="str")
    assert "float64[?,3]" in text and "float64[?]" in text
    assert f"{THIS}:{line}" in text
    assert text.splitlines()[0] == "output 0:"


def test_inspect_dot_pictures(tmp_path, capsys):
    from aotgraph.cli import main

    spec = tmp_path / "spec.py"
    spec.write_text(
        "import aotgraph as ag\nimport aotgraph.tensor as at\nx = at.dvector('x')\n"
        "mod = ag.Module('agdbg.pic')\nmod.function('f', [x], at.exp(x) * 2.0)\n"
    )
    svg = tmp_path / "graph.svg"
    assert main(["inspect", str(spec), "--dot", str(svg)]) == 0
    if shutil.which("dot"):
        assert "<svg" in svg.read_text()
    else:
        source = (tmp_path / "graph.svg.dot").read_text()
        assert source.startswith("digraph") and "exp" in source
        assert "not installed" in capsys.readouterr().err
