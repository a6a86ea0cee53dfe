"""The generated C scaffold: in-place reuse of dead intermediates (and its
safety around views and returned values), deterministic text, and the
emitter context.  Built without the optimizer so the graphs stay as written."""

from __future__ import annotations

import importlib

import numpy as np

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.build import build_module, module_ir
from aotgraph.emit.c_module import EmitContext, emit_c_module


def _module():
    mod = ag.Module("agb_scaffold.m")
    x = at.dmatrix("x")
    t = x * 2.0
    mod.function("chain", [x], at.exp(t) - 1.0)  # exp may reuse t, sub may reuse exp
    u = x + 1.0
    mod.function("aliased", [x], [u.T, at.exp(u)])  # u is viewed and the view returned
    v = x * 3.0
    mod.function("returned", [x], [v, at.exp(v)])  # v is returned: no reuse
    w = x - 1.0
    mod.function("twice", [x], at.exp(w) * w + 1.0)  # w read by two nodes
    return mod


def test_inplace_reuse_is_planned_only_where_safe():
    ir, text = module_ir(_module(), optimize=False)
    files = emit_c_module(ir, text).files
    sections = {
        name: files[f"ag_fn_{name}.c"] for name in ("chain", "aliased", "returned", "twice")
    }
    assert sections["chain"].count("in place") == 1  # exp takes t; sub writes the result
    assert "in place" not in sections["aliased"]
    assert "in place" not in sections["returned"]
    assert sections["twice"].count("in place") == 1  # only the last reader (mul) may


def test_inplace_results_match_numpy(tmp_path):
    build_module(_module(), str(tmp_path), optimize=False)
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        m = importlib.import_module("agb_scaffold.m")
        x = np.linspace(-1, 1, 6).reshape(2, 3)
        np.testing.assert_allclose(m.chain(x), np.exp(2 * x) - 1, rtol=1e-12)
        ut, eu = m.aliased(x)
        np.testing.assert_array_equal(ut, (x + 1).T)
        np.testing.assert_allclose(eu, np.exp(x + 1), rtol=1e-12)
        v, ev = m.returned(x)
        np.testing.assert_array_equal(v, 3 * x)
        np.testing.assert_allclose(ev, np.exp(3 * x), rtol=1e-12)
        np.testing.assert_allclose(m.twice(x), np.exp(x - 1) * (x - 1) + 1, rtol=1e-12)
    finally:
        sys.path.remove(str(tmp_path))


def test_emission_is_deterministic():
    texts = []
    for _ in range(2):
        ir, text = module_ir(_module(), optimize=False)
        texts.append(emit_c_module(ir, text).files)
    assert texts[0] == texts[1]


def test_emit_context():
    ir, _ = module_ir(_module(), optimize=False)
    fn = ir.functions["chain"]
    cx = EmitContext(ir, fn)
    const = next(v for v, d in fn.vars.items() if d["kind"] == "constant")
    assert float(cx.const_value(const)) == 2.0
    assert cx.const_value("v0") is None and cx.var("v0")["dtype"] == "float64"
    assert cx.ctype("bool") == "uint8_t" and cx.buf("v3") == "B[3]"
    assert cx.fresh("t") != cx.fresh("t")


def test_compiler_errors_are_reported_with_the_sources(tmp_path):
    import os

    import pytest

    from aotgraph.emit.c_common import OpEmitter
    from aotgraph.errors import BuildError

    broken = OpEmitter(
        shape=lambda node, ins, outs, cx: "this is not C;", body=lambda node, ins, outs, cx: ""
    )
    mod = ag.Module("agb_broken.m")
    x = at.dvector("x")
    mod.function("f", [x], x + 1.0)
    with pytest.raises(BuildError, match="C compiler failed") as exc:
        build_module(mod, str(tmp_path), emitters=({"add": broken}, "", []), optimize=False)
    message = str(exc.value)
    assert "this is not C" in message or "error" in message
    build_dir = message.split(" in ", 1)[1].split(":\n", 1)[0]
    assert os.path.isfile(os.path.join(build_dir, "ag_graph.c"))
