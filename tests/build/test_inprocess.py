"""``ag.function(..., target="cpu")``: built through the cache, with the
user's own shared variables."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.build import build_module
from aotgraph.errors import BuildError


def test_default_target_is_native(counting_cc):
    x, y = at.fvector("x"), at.fvector("y")
    f = ag.function([x, y], x * y + 1.0, name="muladd")
    assert f.target == "cpu" and f.build_info["c_abi_version"] == 1
    a = np.array([1, 2, 3], "float32")
    b = np.array([4, 5, 6], "float32")
    out = f(a, b)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, a * b + 1)
    assert counting_cc() == 1
    g = ag.function([x, y], x * y + 1.0, name="muladd")  # same graph: cache hit
    np.testing.assert_array_equal(g(a, y=b), a * b + 1)
    assert counting_cc() == 1


def test_shared_variables_are_the_users():
    w = ag.shared(np.array([1.0, 2.0]), name="w")
    total = ag.shared(np.float64(0.0), name="total")
    x = at.dvector("x")
    f = ag.function([x], [x * w, total + 0.0], updates={w: w + x, total: total + x.sum()})
    prod, before = f(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(prod, [1.0, 2.0])  # pre-call w
    assert float(before) == 0.0
    np.testing.assert_array_equal(w.get_value(), [2.0, 3.0])
    assert float(total.get_value()) == 2.0
    w.set_value(np.array([10.0, 20.0]))  # seen by the next call
    np.testing.assert_array_equal(f(np.array([1.0, 2.0]))[0], [10.0, 40.0])
    np.testing.assert_array_equal(w.get_value(), [11.0, 22.0])


def test_updates_from_threads_are_not_lost():
    count = ag.shared(np.float64(0.0), name="count")
    x = at.dscalar("x")
    f = ag.function([x], count + x, updates={count: count + x})

    def work():
        for _ in range(100):
            f(1.0)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert float(count.get_value()) == 800.0


def test_errors_name_the_function():
    x, y = at.dvector("x"), at.dvector("y")
    f = ag.function([x, y], x - y, name="difference")
    with pytest.raises(ValueError, match="^difference: "):
        f(np.ones(3), np.ones(4))
    with pytest.raises(TypeError, match="difference.*'x'.*float64"):
        f(np.ones(3, dtype=np.complex64), np.ones(3))


def test_allow_input_downcast():
    x = at.fvector("x")
    f = ag.function([x], x * 2.0, allow_input_downcast=True)
    out = f(np.array([1.5, 2.5]))  # float64 in, float32 computation
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [3.0, 5.0])
    strict = ag.function([x], x * 2.0)
    with pytest.raises(TypeError, match="allow_input_downcast"):
        strict(np.array([1.5, 2.5]))


def test_missing_emitter_is_a_clear_build_error(tmp_path):
    mod = ag.Module("agb_noemit.m")
    x = at.dvector("x")
    mod.function("f", [x], x + 1.0)
    with pytest.raises(BuildError, match="function 'f': no C emitter for op 'add'"):
        build_module(mod, str(tmp_path), emitters=({}, "", []))
