"""``aotgraph inspect``: main(argv) on spec files."""

import io
import os
import stat
import textwrap

from aotgraph.opt.inspect import main

SPEC = textwrap.dedent(
    """
    import aotgraph as ag
    import aotgraph.tensor as at

    mod = ag.Module("demo.model")
    x = at.dvector("x")
    mod.function("softplus", [x], at.log(1 + at.exp(x)))
    mod.function("double", [x], -(-x) * 2.0)
    """
)


def _spec(tmp_path):
    path = tmp_path / "spec.py"
    path.write_text(SPEC)
    return str(path)


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_inspect_shows_before_after_counts_and_rules(tmp_path):
    code, out, err = _run([_spec(tmp_path)])
    assert code == 0 and err == ""
    assert "=== demo.model.softplus ===" in out and "=== demo.model.double ===" in out
    first = out.split("=== demo.model.double ===")[0]
    before = first.split("--- before optimization ---")[1].split("--- after")[0]
    after = first.split("--- after optimization ---")[1].split("--- optimizer ---")[0]
    assert "log [id A]" in before and "exp [id" in before
    assert after.splitlines()[2].startswith("softplus [id A] float64[?]  <- spec.py:7")
    assert "  input               3" in first and "  fusion              1" in first
    assert "stabilize      softplus                         x1" in first
    assert "double_neg" in out.split("=== demo.model.double ===")[1]


def test_inspect_one_function_and_dot_file(tmp_path):
    dot = tmp_path / "graph.dot"
    code, out, err = _run(["inspect", _spec(tmp_path), "--function", "double", "--dot", str(dot)])
    assert code == 0
    assert "softplus ===" not in out
    text = dot.read_text()
    assert text.startswith("digraph aotgraph {") and "fused_elementwise" not in text
    assert 'label="mul"' in text and "neg" not in text


def test_inspect_renders_with_dot_when_installed(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "dot"
    # a stand-in for Graphviz: copies stdin to the -o file, records its flags
    fake.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\ncat > "$3"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ["PATH"])
    svg = tmp_path / "g.svg"
    code, out, err = _run([_spec(tmp_path), "-f", "softplus", "--dot", str(svg)])
    assert code == 0 and err == ""
    assert (bindir / "args").read_text().split()[:3] == ["-Tsvg", "-o", str(svg)]
    assert svg.read_text().startswith("digraph aotgraph {")


def test_inspect_without_dot_program_writes_source(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    png = tmp_path / "g.png"
    code, out, err = _run([_spec(tmp_path), "-f", "softplus", "--dot", str(png)])
    assert code == 0
    assert not png.exists() and (tmp_path / "g.png.dot").exists()
    assert "'dot' program is not installed" in err


def test_inspect_several_functions_get_one_dot_file_each(tmp_path):
    code, out, err = _run([_spec(tmp_path), "--dot", str(tmp_path / "g.dot")])
    assert code == 0
    assert (tmp_path / "g.demo.model.softplus.dot").exists()
    assert (tmp_path / "g.demo.model.double.dot").exists()


def test_inspect_errors(tmp_path):
    code, out, err = _run([str(tmp_path / "missing.py")])
    assert code == 2 and "does not exist" in err
    code, out, err = _run([_spec(tmp_path), "--function", "nope"])
    assert code == 2
    assert "no function named 'nope'" in err and "demo.model.double" in err
