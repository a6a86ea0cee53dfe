"""debugprint, pp and dot_text."""

import io
import os

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.fgraph import make_function_graph
from aotgraph.printing import debugprint, dot_text, pp


def test_debugprint_layout_ids_and_types():
    x = at.tensor("float32", shape=(None, 3), name="x")
    e = at.exp(x)
    y = e * e + 1.0
    text = debugprint(y, file="str")
    assert text.splitlines() == [
        "add [id A] float32[?,3]",
        " |mul [id B] float32[?,3]",
        " | |exp [id C] float32[?,3]",
        " | | |x [id D] float32[?,3]",
        " | |exp [id C] float32[?,3] ...",
        " |Constant{1.0} [id E] float32[]",
    ]


def test_debugprint_writes_to_file_and_stdout(capsys):
    x = at.dvector("x")
    buf = io.StringIO()
    debugprint(-x, file=buf)
    assert buf.getvalue() == "neg [id A] float64[?]\n |x [id B] float64[?]\n"
    debugprint(-x)
    assert capsys.readouterr().out == buf.getvalue()


def test_debugprint_function_shows_optimized_graph_and_source_lines():
    x = at.dvector("x")
    y = at.log(1 + at.exp(x))  # this line is reported
    line = _line_of("y = at.log(1 + at.exp(x))  # this line is reported")
    f = ag.function([x], y, target="py")
    text = debugprint(f, file="str")
    assert text.splitlines()[0] == "output 0:"
    assert text.splitlines()[1].startswith("softplus [id A] float64[?]")
    assert f"<- test_printing.py:{line}" in text.splitlines()[1]
    assert "log" not in text


def test_debugprint_function_graph_with_updates():
    w = ag.shared(np.zeros(2), name="w")
    x = at.dvector("x")
    fg = make_function_graph("step", [x], (x * w).sum(), updates=[(w, w + x)])
    lines = debugprint(fg, file="str").splitlines()
    assert lines[0] == "output 0:"
    assert "update w:" in lines
    assert lines[lines.index("update w:") + 1].startswith("add [id")


def test_debugprint_rejects_other_objects():
    with pytest.raises(TypeError, match="debugprint: expected a variable"):
        debugprint(3)


def test_pp_infix():
    x, y = at.dscalar("x"), at.dscalar("y")
    assert pp((x + 2.0) * at.exp(-y)) == "((x + 2.0) * exp(-y))"
    assert pp([x, x / y]) == "[x, (x / y)]"


def test_pp_long_expressions_are_cut():
    x = at.dscalar("x")
    y = x
    for _ in range(20):
        y = y + y
    assert len(pp(y)) < 20_100


def test_dot_text_structure():
    w = ag.shared(np.ones(3), name="w")
    x = at.dvector("x")
    fg = make_function_graph("f", [x], at.exp(x) * w + 2.0)
    text = dot_text(fg)
    lines = text.splitlines()
    assert lines[0] == "digraph aotgraph {" and lines[-1] == "}"
    assert sum("shape=ellipse" in ln for ln in lines) == 3  # exp, mul, add
    assert any('label="w\\\\nfloat64[3]"' in ln and "lightblue" in ln for ln in lines)
    assert any("peripheries=2" in ln for ln in lines)
    assert text.count("->") == 6  # 5 operand edges + 1 output edge
    assert dot_text(fg) == text  # deterministic


def _line_of(snippet):
    with open(os.path.abspath(__file__), encoding="utf-8") as fh:
        for i, line in enumerate(fh, 1):
            if snippet in line and "_line_of" not in line:
                return i
    raise AssertionError(snippet)
