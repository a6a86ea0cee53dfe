"""A built module end to end: one module of many small functions, built
once into a temporary directory (with a private build cache), imported and
called.  Oracles: numpy expressions written here, never the module itself."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.build import build_module

PKG = "agtest_module.batch"
W0 = np.arange(6, dtype="float64").reshape(3, 2) / 10
CONST = np.arange(6, dtype="int32").reshape(2, 3)


def make_module():
    """The module under test; each function exercises one scaffold feature."""
    mod = ag.Module(PKG)
    x, y = at.fvector("x"), at.fvector("y")
    mod.function("add", [x, y], x + y)
    m = at.dmatrix("m")
    w = ag.shared(W0.copy(), name="w")
    mod.function("affine", [m], [at.exp(m @ w), m.T])
    i, j = at.imatrix("i"), at.lscalar("j")
    mod.function("compare", [i, j], [i < j, (i * 2).astype("int64")])
    s = at.dscalar("s")
    mod.function("scale", [s], s * 3.0)
    mod.function("ident", [x], [x, x])
    mod.function("constant", [], at.constant(CONST) + 0)
    mod.function("loose", [], at.constant(CONST))
    fixed = at.tensor("float32", shape=(2, 3), name="fixed")
    mod.function("static", [fixed], fixed * 2.0)
    a = ag.shared(np.zeros(4, "float32"), name="a")
    b = ag.shared(np.ones(4, "float32"), name="b")
    count = ag.shared(np.float64(0.0), name="count")
    v = at.tensor("float32", shape=(4,), name="v")
    # outputs and updates from pre-call values; a and b swap (plus v)
    mod.function("step", [v], [a * 2.0, b], updates=[(a, b + v), (b, a), (count, count + 1.0)])
    mod.function("bump", [], count + 0.0, updates=[(count, count + 1.0)])
    mod.function("transposed", [m], m.T * 2.0)
    odd = at.fvector('odd "name\\ é')
    mod.function("odd", [odd], odd + 1.0)
    return mod


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("out")
    old = os.environ.get("AOTGRAPH_CACHE")
    os.environ["AOTGRAPH_CACHE"] = str(cache)
    try:
        build_module(make_module(), str(out))
    finally:
        if old is None:
            os.environ.pop("AOTGRAPH_CACHE")
        else:
            os.environ["AOTGRAPH_CACHE"] = old
    sys.path.insert(0, str(out))
    for name in [n for n in sys.modules if n.startswith("agtest_module")]:
        del sys.modules[name]
    mod = importlib.import_module(PKG)
    yield mod, str(out)
    sys.path.remove(str(out))


@pytest.fixture()
def mod(built):
    m = built[0]
    m.shared["w"].set_value(W0)
    m.shared["a"].set_value(np.zeros(4, "float32"))
    m.shared["b"].set_value(np.ones(4, "float32"))
    m.shared["count"].set_value(0.0)
    return m


def test_add_matches_numpy(mod):
    a = np.arange(5, dtype="float32")
    b = np.linspace(-1, 1, 5).astype("float32")
    out = mod.add(a, b)
    assert out.dtype == np.float32 and out.shape == (5,)
    np.testing.assert_array_equal(out, a + b)


def test_outputs_are_fresh_arrays(mod):
    a = np.ones(3, "float32")
    x1, x2 = mod.ident(a)
    np.testing.assert_array_equal(x1, a)
    x1[0] = 5
    assert x2[0] == 1 and a[0] == 1
    big = np.ones(5000, "float32")
    r1, r2 = mod.ident(big)
    r1[:] = 7
    assert r2[0] == 1 and r1.flags.writeable


def test_matmul_exp_and_view_output(mod):
    m = np.linspace(-1, 1, 12).reshape(4, 3)
    e, t = mod.affine(m)
    np.testing.assert_allclose(e, np.exp(m @ W0), rtol=1e-12)
    np.testing.assert_array_equal(t, m.T)
    assert t.flags.c_contiguous
    np.testing.assert_array_equal(mod.transposed(m), 2 * m.T)


@pytest.mark.parametrize("layout", ["fortran", "reversed", "strided", "transposed", "broadcast"])
def test_non_contiguous_inputs(mod, layout):
    base = np.linspace(-2, 2, 48).reshape(8, 6)
    m = {
        "fortran": np.asfortranarray(base[:4, :3]),
        "reversed": base[::-1, ::-2][:4, :3],
        "strided": base[::2, 1::2],
        "transposed": base.T[:4, :3],
        "broadcast": np.broadcast_to(base[1, :3], (4, 3)),  # stride 0, read-only
    }[layout]
    e, t = mod.affine(m)
    np.testing.assert_allclose(e, np.exp(np.ascontiguousarray(m) @ W0), rtol=1e-12)
    np.testing.assert_array_equal(t, m.T)


def test_misaligned_and_odd_stride_inputs(mod):
    raw = np.zeros(4 * 7 + 1, np.uint8)
    a = np.frombuffer(raw.data, dtype=np.float32, count=7, offset=1)  # misaligned
    assert not a.flags.aligned
    b = np.arange(7, dtype="float32")
    np.testing.assert_array_equal(mod.add(a, b), b)
    rec = np.zeros(5, dtype=[("c", "u1"), ("f", "<f4")])  # stride 5: not whole floats
    rec["f"] = np.arange(5)
    np.testing.assert_array_equal(mod.add(rec["f"], rec["f"]), 2 * np.arange(5, dtype="float32"))


def test_int_bool_outputs_and_scalars(mod):
    i = np.array([[1, 5], [-3, 9]], dtype="int32")
    lt, dbl = mod.compare(i, 4)
    assert lt.dtype == np.bool_ and dbl.dtype == np.int64
    np.testing.assert_array_equal(lt, i < 4)
    np.testing.assert_array_equal(dbl, i.astype("int64") * 2)
    r = mod.scale(2.5)
    assert r.shape == () and r.dtype == np.float64 and float(r) == 7.5


def test_zero_size_inputs(mod):
    out = mod.add(np.zeros(0, "float32"), np.zeros(0, "float32"))
    assert out.shape == (0,) and out.dtype == np.float32
    e, t = mod.affine(np.zeros((0, 3)))
    assert e.shape == (0, 2) and t.shape == (3, 0)


def test_constants_without_inputs(mod):
    np.testing.assert_array_equal(mod.constant(), CONST)
    loose = mod.loose()
    np.testing.assert_array_equal(loose, CONST)
    loose[0, 0] = 99  # a copy: the embedded constant is untouched
    np.testing.assert_array_equal(mod.loose(), CONST)


def test_odd_input_names(mod):
    np.testing.assert_array_equal(mod.odd(np.zeros(2, "float32")), [1.0, 1.0])
    with pytest.raises(TypeError, match='odd.*odd "name'):
        mod.odd(np.zeros(2))
    assert "odd" in mod.__doc__


def test_keyword_arguments(mod):
    a, b = np.ones(2, "float32"), np.full(2, 2, "float32")
    np.testing.assert_array_equal(mod.add(y=b, x=a), a + b)
    with pytest.raises(TypeError, match="add.*unexpected keyword argument 'z'"):
        mod.add(a, z=b)


def test_updates_use_pre_call_values(mod):
    v = np.arange(4, dtype="float32")
    doubled, b_out = mod.step(v)
    np.testing.assert_array_equal(doubled, np.zeros(4))  # a before the call, times 2
    np.testing.assert_array_equal(b_out, np.ones(4))
    np.testing.assert_array_equal(mod.shared["a"].get_value(), 1 + v)  # old b + v
    np.testing.assert_array_equal(mod.shared["b"].get_value(), np.zeros(4))  # old a
    mod.step(v)
    np.testing.assert_array_equal(mod.shared["a"].get_value(), v)  # old b (0) + v
    np.testing.assert_array_equal(mod.shared["b"].get_value(), 1 + v)
    assert float(mod.shared["count"].get_value()) == 2.0


def test_shared_set_value_is_seen_and_checked(mod):
    w = mod.shared["w"]
    new = np.full((3, 2), 0.5)
    w.set_value(new)
    new[:] = 9  # set_value copied
    m = np.eye(3)
    np.testing.assert_allclose(mod.affine(m)[0], np.exp(np.full((3, 2), 0.5)))
    held = w.get_value(borrow=True)
    got = w.get_value()
    got[:] = -1
    assert (w.get_value(borrow=True) == 0.5).all() and held is w.get_value(borrow=True)
    with pytest.raises(ValueError, match="'w'.*shape"):
        w.set_value(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="'w'.*dtype"):
        w.set_value(np.zeros((3, 2), dtype=np.complex128))
    w.set_value(np.ones((3, 2), dtype="float32"))  # safe cast
    assert w.get_value().dtype == np.float64


def test_save_load_round_trip(mod, tmp_path):
    mod.step(np.arange(4, dtype="float32"))
    saved = {n: s.get_value() for n, s in mod.shared.items()}
    path = str(tmp_path / "state.npz")
    mod.save(path)
    with np.load(path) as data:
        assert sorted(data.files) == sorted(saved)
    for s in mod.shared.values():
        s.set_value(np.zeros_like(s.get_value()))
    mod.load(path)
    for n, value in saved.items():
        np.testing.assert_array_equal(mod.shared[n].get_value(), value)
    np.savez(path, w=np.zeros((3, 2)))
    with pytest.raises(KeyError, match="no value for shared"):
        mod.load(path)
    np.testing.assert_array_equal(mod.shared["w"].get_value(), saved["w"])  # all or nothing


def test_threads_give_serial_results(mod):
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((50, 3)) for _ in range(32)]
    expected = [np.exp(m @ W0) for m in inputs]
    errors = []

    def work(k):
        try:
            for _ in range(20):
                for idx in range(k, len(inputs), 8):
                    np.testing.assert_allclose(
                        mod.affine(inputs[idx])[0], expected[idx], rtol=1e-12
                    )
                mod.bump()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert float(mod.shared["count"].get_value()) == 8 * 20  # no update lost


def test_ir_and_build_info(mod):
    ir = mod.ir
    assert ir["module"] == PKG and ir["format"] == "aotgraph-ir"
    assert sorted(ir["functions"]) == sorted(
        [
            "add",
            "affine",
            "bump",
            "compare",
            "constant",
            "ident",
            "loose",
            "odd",
            "scale",
            "static",
            "step",
            "transposed",
        ]
    )
    info = mod.build_info
    assert info["aotgraph_version"] == ag.__version__ and info["c_abi_version"] == 1
    assert len(info["hash"]) == 64 and "-O3" in info["flags"] and info["compiler"]


@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=1),
    step=st.sampled_from([1, 2, -1, -3]),
    bcast=st.booleans(),
)
def test_add_hypothesis_layouts(built, shape, step, bcast):
    mod = built[0]
    n = shape[0]
    base = np.arange(n * 3 + 1, dtype="float32") * 0.5
    a = base[::step][:n] if n else base[:0]
    b = np.float32(1.5) * np.ones(1 if bcast else len(a), "float32")
    expected = a + b
    np.testing.assert_array_equal(mod.add(a, b), expected)


BAD_INPUTS = textwrap.dedent(
    """
    import sys, json
    import numpy as np
    sys.modules["aotgraph"] = None  # the built module must not need aotgraph
    sys.path.insert(0, sys.argv[1])
    from agtest_module import batch as m
    cases = {
        "too_few": lambda: m.add(np.ones(2, "float32")),
        "too_many": lambda: m.add(np.ones(2, "float32"), np.ones(2, "float32"), 3),
        "wrong_dtype": lambda: m.add(np.ones(2), np.ones(2, "float32")),
        "wrong_ndim": lambda: m.add(np.ones((2, 2), "float32"), np.ones(2, "float32")),
        "string": lambda: m.add("ab", np.ones(2, "float32")),
        "none": lambda: m.add(None, np.ones(2, "float32")),
        "ragged": lambda: m.add([[1.0], [1.0, 2.0]], np.ones(2, "float32")),
        "object": lambda: m.add(np.array([object()]), np.ones(1, "float32")),
        "static_len": lambda: m.static(np.ones((2, 4), "float32")),
        "no_broadcast": lambda: m.add(np.ones(3, "float32"), np.ones(4, "float32")),
        "matmul_inner": lambda: m.affine(np.ones((2, 4))),
        "update_shape": lambda: m.shared["a"].set_value(np.ones(5, "float32")),
        "complex": lambda: m.scale(1j),
    }
    result = {}
    for name, call in cases.items():
        try:
            call()
            result[name] = ["no error", ""]
        except Exception as exc:
            result[name] = [type(exc).__name__, str(exc)]
    print(json.dumps(result))
    """
)


def _clean_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CC")}
    empty = tmp_path / "empty_bin"
    empty.mkdir(exist_ok=True)
    env.update(PATH=str(empty), CC="false")
    return env


def test_bad_inputs_raise_documented_errors(built, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", BAD_INPUTS, built[1]],
        capture_output=True,
        text=True,
        env=_clean_env(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    expected = {
        "too_few": "TypeError",
        "too_many": "TypeError",
        "wrong_dtype": "TypeError",
        "wrong_ndim": "TypeError",
        "string": "TypeError",
        "none": "TypeError",
        "ragged": "ValueError",
        "object": "TypeError",
        "static_len": "ValueError",
        "no_broadcast": "ValueError",
        "matmul_inner": "ValueError",
        "update_shape": "ValueError",
        "complex": "TypeError",
    }
    assert {k: v[0] for k, v in got.items()} == expected
    for name in ("too_few", "wrong_dtype", "no_broadcast", "matmul_inner"):
        fn = "affine" if name == "matmul_inner" else "add"
        assert got[name][1].startswith(fn), (name, got[name][1])
    assert "'x'" in got["wrong_dtype"][1] and "float32" in got["wrong_dtype"][1]


def test_runs_without_compiler_or_aotgraph(built, tmp_path):
    script = textwrap.dedent(
        """
        import sys, shutil
        import numpy as np
        sys.modules["aotgraph"] = None
        assert shutil.which("gcc") is None and shutil.which("cc") is None
        sys.path.insert(0, sys.argv[1])
        from agtest_module import batch as m
        print(m.add(np.array([1, 2], "float32"), np.array([3, 4], "float32")).tolist())
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, built[1]],
        capture_output=True,
        text=True,
        env=_clean_env(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[4.0, 6.0]"


def test_blas_loaded_and_thread_control(mod):
    try:
        import scipy_openblas32  # noqa: F401
    except ImportError:
        assert mod._lib.ag_blas_loaded() == 0
    else:
        assert mod._lib.ag_blas_loaded() == 1
    m = np.linspace(0, 1, 30).reshape(10, 3)
    try:
        mod.set_num_threads(1)
        assert mod._lib.ag_get_num_threads() == 1
        np.testing.assert_allclose(mod.affine(m)[0], np.exp(m @ W0), rtol=1e-12)
    finally:
        mod.set_num_threads(0)
    assert mod._lib.ag_get_num_threads() >= 1
