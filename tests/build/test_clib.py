"""``--emit c-lib``: the static library, its header and C programs calling
it with no Python in the loop, compared with the reference interpreter
(``target="py"``) and numpy."""

import filecmp
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.build.clib import build_c_library
from aotgraph.cli import main
from aotgraph.errors import BuildError
from aotgraph.function import Function
from aotgraph.spec import load_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "c_program")

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("ar") is None, reason="needs make and ar"
)


def _run_binary(path, cwd):
    """Run a compiled program with an empty environment: no Python, no PATH."""
    proc = subprocess.run([str(path)], cwd=cwd, capture_output=True, text=True, env={}, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _matrix(lines, label):
    """The matrix printed as ``label rows cols`` followed by its rows."""
    start = next(i for i, line in enumerate(lines) if line.split()[0] == label)
    rows, cols = map(int, lines[start].split()[1:])
    values = [[float(v) for v in lines[start + 1 + r].split()] for r in range(rows)]
    assert all(len(row) == cols for row in values)
    return np.array(values)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    work = tmp_path_factory.mktemp("c_program") / "c_program"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("build", "main"))
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        ["make", f"PYTHON={sys.executable}"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work


def test_example_program_prints_the_reference_values(example):
    lines = _run_binary(example / "main", example).splitlines()
    (module,) = load_spec(str(example / "affine_spec.py"))
    predict = Function(module.functions["predict"], "py", False)
    nudge = Function(module.functions["nudge"], "py", False)
    x = (0.25 * np.arange(8, dtype=np.float32) - 1.0).reshape(2, 4).astype(np.float32)
    np.testing.assert_allclose(_matrix(lines, "y"), predict(x), rtol=2e-6, atol=1e-7)
    delta = np.array([0.5, -0.25, 1.0], dtype=np.float32)
    total = nudge(delta)  # the reference updates the spec's shared b
    (nudge_line,) = [line for line in lines if line.startswith("nudge ")]
    np.testing.assert_allclose(float(nudge_line.split()[1]), total, rtol=1e-6)
    (b_line,) = [line for line in lines if line.startswith("b ")]
    b_ref = np.array([0.1, -0.2, 0.05], dtype=np.float32) + delta
    np.testing.assert_allclose([float(v) for v in b_line.split()[1:]], b_ref, rtol=1e-6)
    np.testing.assert_allclose(_matrix(lines, "y2"), predict(x), rtol=2e-6, atol=1e-7)
    (error_line,) = [line for line in lines if line.startswith("error ")]
    assert error_line.split()[1] == "1"  # AG_ERR_VALUE
    assert "predict: input 'x'" in error_line and "4" in error_line and "got 3" in error_line


def test_example_library_needs_no_python(example):
    build = example / "build"
    assert sorted(p.name for p in build.iterdir()) == ["affine.h", "affine_src", "libaffine.a"]
    undefined = subprocess.run(
        ["nm", "-u", str(build / "libaffine.a")], capture_output=True, text=True
    ).stdout
    assert not re.search(r"\bPy[A-Z_]", undefined)
    assert "Python.h" not in (build / "affine.h").read_text()
    for src in (build / "affine_src").iterdir():
        if src.suffix in (".c", ".h"):
            assert "Python.h" not in src.read_text(), src.name
    members = subprocess.run(
        ["ar", "t", str(build / "libaffine.a")], capture_output=True, text=True
    ).stdout.split()
    assert members == sorted(members) and "affine_api.o" in members
    ldd = subprocess.run(["ldd", str(example / "main")], capture_output=True, text=True).stdout
    assert "python" not in ldd.lower()


def test_header_documents_every_entry_point(example):
    header = (example / "build" / "affine.h").read_text()
    for needle in [
        "int affine_predict(affine_ctx *ctx, const ag_buffer *in_x, ag_buffer *out0, ag_error *err);",
        "int affine_nudge(affine_ctx *ctx, const ag_buffer *in_delta, ag_buffer *out0, ag_error *err);",
        "input  x: float32[?, 4]",
        "output out0: float32[?, 3]",
        "input  delta: float32[3]",
        "updates shared b",
        "AG_ERR_TYPE",
        "AG_ERR_VALUE",
        "ag_free(out.data)",
        "Thread safety",
        "Workspace",
        '"W"  float32[4, 3]',
        "affine_create",
        "affine_shared_set",
        "typedef struct ag_buffer",
    ]:
        assert needle in header, needle


def test_two_c_lib_builds_are_byte_identical(tmp_path):
    spec = os.path.join(EXAMPLE, "affine_spec.py")
    dirs = [tmp_path / "one", tmp_path / "elsewhere" / "two"]
    for d in dirs:
        assert main(["compile", spec, "--emit", "c-lib", "-o", str(d)]) == 0
    one, two = dirs
    assert (one / "libaffine.a").read_bytes() == (two / "libaffine.a").read_bytes()
    assert (one / "affine.h").read_bytes() == (two / "affine.h").read_bytes()
    cmp = filecmp.dircmp(one / "affine_src", two / "affine_src")
    assert not cmp.diff_files and not cmp.left_only and not cmp.right_only
    assert not list((one / "affine_src").glob("*.o"))


# --- a second program: strided inputs, dynamic shapes, errors, shared state ---

HARNESS = r"""
#include <stdio.h>
#include <string.h>
#include "ops.h"

static ag_buffer vec(void *data, int32_t dtype, int64_t n)
{
    ag_buffer b = {0};
    b.data = data; b.dtype = dtype; b.ndim = 1; b.shape[0] = n; b.strides[0] = 1;
    return b;
}

static void report(const char *what, int rc, const ag_error *err)
{
    printf("%s rc=%d msg=%s\n", what, rc, rc ? err->message : "");
}

int main(void)
{
    ops_ctx *ctx; ag_error err; ag_buffer out;
    if (ops_create(&ctx, &err)) { printf("create %s\n", err.message); return 1; }
    double a = 2.5, x[5] = {1, 2, 3, 4, 5}, y[5] = {-1, 0.5, 7, 2, 1};
    ag_buffer A = {0}; A.data = &a; A.dtype = AG_FLOAT64; A.ndim = 0;
    ag_buffer X = vec(x, AG_FLOAT64, 5), Y = vec(y, AG_FLOAT64, 5);
    int rc = ops_axpy(ctx, &A, &X, &Y, &out, &err);
    report("axpy", rc, &err);
    for (int i = 0; !rc && i < out.shape[0]; i++) printf("axpy %.17g\n", ((double *)out.data)[i]);
    if (!rc) ag_free(out.data);
    /* every other element of x: stride 2 (in elements) */
    ag_buffer Xs = vec(x, AG_FLOAT64, 3); Xs.strides[0] = 2;
    ag_buffer Ys = vec(y, AG_FLOAT64, 3);
    rc = ops_axpy(ctx, &A, &Xs, &Ys, &out, &err);
    report("strided", rc, &err);
    for (int i = 0; !rc && i < out.shape[0]; i++) printf("strided %.17g\n", ((double *)out.data)[i]);
    if (!rc) ag_free(out.data);
    /* a 2x3 matrix read as its 3x2 transpose (strides {1, 3}) */
    double m[6] = {1, 2, 3, 4, 5, 6};
    ag_buffer M = {0}; M.data = m; M.dtype = AG_FLOAT64; M.ndim = 2;
    M.shape[0] = 3; M.shape[1] = 2; M.strides[0] = 1; M.strides[1] = 3;
    rc = ops_colsum(ctx, &M, &out, &err);
    report("colsum", rc, &err);
    for (int i = 0; !rc && i < out.shape[0]; i++) printf("colsum %.17g\n", ((double *)out.data)[i]);
    if (!rc) ag_free(out.data);
    /* errors */
    ag_buffer Y4 = vec(y, AG_FLOAT64, 4);
    report("mismatch", ops_axpy(ctx, &A, &X, &Y4, &out, &err), &err);
    ag_buffer Xf = vec(x, AG_FLOAT32, 5);
    report("dtype", ops_axpy(ctx, &A, &Xf, &Y, &out, &err), &err);
    report("ndim", ops_axpy(ctx, &X, &X, &Y, &out, &err), &err);
    ag_buffer Xn = vec(NULL, AG_FLOAT64, 5);
    report("null", ops_axpy(ctx, &A, &Xn, &Y, &out, &err), &err);
    report("noshared", ops_shared_get(ctx, "nope", &out, &err), &err);
    /* shared state: two updates, a set, a get */
    int64_t v[3] = {1, 2, 3};
    ag_buffer V = vec(v, AG_INT64, 3);
    for (int k = 0; k < 2; k++) {
        rc = ops_accumulate(ctx, &V, &out, &err);
        report("accumulate", rc, &err);
        for (int i = 0; !rc && i < 3; i++) printf("acc%d %lld\n", k, (long long)((int64_t *)out.data)[i]);
        if (!rc) ag_free(out.data);
    }
    int64_t fresh[3] = {100, 200, 300};
    ag_buffer F = vec(fresh, AG_INT64, 3);
    report("set", ops_shared_set(ctx, "acc", &F, &err), &err);
    ag_buffer F2 = vec(fresh, AG_INT64, 2);
    report("setbad", ops_shared_set(ctx, "acc", &F2, &err), &err);
    ag_buffer view;
    rc = ops_shared_get(ctx, "acc", &view, &err);
    for (int i = 0; !rc && i < 3; i++) printf("get %lld\n", (long long)((int64_t *)view.data)[i]);
    /* a second context starts from the built-in value */
    ops_ctx *other; ops_create(&other, &err);
    ops_shared_get(other, "acc", &view, &err);
    for (int i = 0; i < 3; i++) printf("other %lld\n", (long long)((int64_t *)view.data)[i]);
    ops_destroy(other);
    ops_destroy(ctx);
    return 0;
}
"""


STRIDED = r"""
#include <stdio.h>
#include <stdlib.h>
#include "ops.h"

/* stdin: rows cols stride0 stride1 offset n, then n doubles (the base memory);
 * prints colsum of the view base + offset with those shape and strides. */
int main(void)
{
    long long rows, cols, s0, s1, off, n;
    if (scanf("%lld %lld %lld %lld %lld %lld", &rows, &cols, &s0, &s1, &off, &n) != 6) return 2;
    double *base = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (long long i = 0; i < n; i++) if (scanf("%lf", &base[i]) != 1) return 2;
    ops_ctx *ctx; ag_error err; ag_buffer out;
    if (ops_create(&ctx, &err)) return 3;
    ag_buffer M = {0};
    M.data = base + off; M.dtype = AG_FLOAT64; M.ndim = 2;
    M.shape[0] = rows; M.shape[1] = cols; M.strides[0] = s0; M.strides[1] = s1;
    int rc = ops_colsum(ctx, &M, &out, &err);
    if (rc) { printf("error %d %s\n", rc, err.message); return 0; }
    printf("%lld", (long long)out.shape[0]);
    for (long long j = 0; j < out.shape[0]; j++) printf(" %.17g", ((double *)out.data)[j]);
    printf("\n");
    ag_free(out.data);
    ops_destroy(ctx);
    free(base);
    return 0;
}
"""


@pytest.fixture(scope="module")
def harness_lib(tmp_path_factory):
    mod = ag.Module("agclib.ops")
    a, x, y = at.dscalar("a"), at.dvector("x"), at.dvector("y")
    mod.function("axpy", [a, x, y], a * x + y)
    m = at.dmatrix("m")
    mod.function("colsum", [m], m.sum(axis=0))
    acc = ag.shared(np.array([10, 20, 30], dtype=np.int64), name="acc")
    v = at.tensor("int64", shape=(3,), name="v")
    mod.function("accumulate", [v], (acc + v) * 2, updates=[(acc, acc + v)])
    out = tmp_path_factory.mktemp("harness")
    lib = build_c_library(mod, str(out), ag.build.BuildOptions(openmp=False))
    for name, source in (("harness", HARNESS), ("strided", STRIDED)):
        (out / f"{name}.c").write_text(source)
        cc = subprocess.run(
            [
                "gcc",
                "-std=c11",
                "-Wall",
                "-Werror",
                "-I",
                str(out),
                "-o",
                str(out / name),
                str(out / f"{name}.c"),
                lib.archive,
            ]
            + lib.link_flags,
            capture_output=True,
            text=True,
        )
        assert cc.returncode == 0, cc.stderr
    return out


@pytest.fixture(scope="module")
def harness(harness_lib):
    return _run_binary(harness_lib / "harness", harness_lib).splitlines()


@st.composite
def strided_views(draw):
    """A 2-d view of a base array: any slice steps (negative too), maybe
    transposed, maybe a broadcast (stride 0) axis."""
    rows, cols = draw(st.integers(0, 7)), draw(st.integers(0, 7))
    base = draw(hnp.arrays(np.float64, (rows, cols), elements=st.floats(-1e3, 1e3, width=64)))
    steps = [draw(st.sampled_from([1, 2, 3, -1, -2])) for _ in range(2)]
    view = base[:: steps[0], :: steps[1]]
    if draw(st.booleans()):
        view = view.T
    if draw(st.booleans()) and view.shape[0] > 0:
        view = np.broadcast_to(view[:1], (draw(st.integers(0, 4)), view.shape[1]))
    return base, view


@given(strided_views())
def test_strided_inputs_match_numpy(harness_lib, case):
    base, view = case
    flat = base.reshape(-1)
    itemsize = flat.itemsize
    offset = (view.__array_interface__["data"][0] - flat.__array_interface__["data"][0]) // itemsize
    if view.size == 0:
        offset = 0
    strides = [s // itemsize for s in view.strides]
    text = " ".join(map(str, [*view.shape, *strides, offset, flat.size])) + " "
    text += " ".join(repr(float(v)) for v in flat)
    proc = subprocess.run(
        [str(harness_lib / "strided")],
        input=text,
        capture_output=True,
        text=True,
        env={},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fields = proc.stdout.split()
    assert int(fields[0]) == view.shape[1]
    np.testing.assert_allclose(
        np.array(fields[1:], dtype=float), view.sum(axis=0), rtol=1e-12, atol=1e-9
    )


def _values(lines, key, cast=float):
    return np.array(
        [
            cast(line.split()[1])
            for line in lines
            if line.split()[0] == key and not line.split()[1].startswith("rc=")
        ]
    )


def _report(lines, what):
    (line,) = [line for line in lines if line.startswith(what + " rc=")]
    rc, msg = re.match(r"\S+ rc=(\d+) msg=(.*)", line).groups()
    return int(rc), msg


def test_harness_values_match_numpy(harness):
    x, y = np.arange(1.0, 6.0), np.array([-1, 0.5, 7, 2, 1])
    assert _report(harness, "axpy") == (0, "")
    np.testing.assert_array_equal(_values(harness, "axpy"), 2.5 * x + y)
    np.testing.assert_array_equal(_values(harness, "strided"), 2.5 * x[::2] + y[:3])
    np.testing.assert_array_equal(
        _values(harness, "colsum"), np.arange(1.0, 7.0).reshape(2, 3).T.sum(axis=0)
    )


def test_harness_errors_name_function_and_input(harness):
    rc, msg = _report(harness, "mismatch")
    assert rc == 1 and "axpy" in msg
    rc, msg = _report(harness, "dtype")
    assert rc == 3 and "axpy: input 'x'" in msg and "float64" in msg and "float32" in msg
    rc, msg = _report(harness, "ndim")
    assert rc == 3 and "input 'a'" in msg and "0 dimension" in msg
    rc, msg = _report(harness, "null")
    assert rc == 1 and "input 'x'" in msg and "NULL" in msg
    rc, msg = _report(harness, "noshared")
    assert rc == 5 and "'nope'" in msg
    rc, msg = _report(harness, "setbad")
    assert rc == 1 and "length 3" in msg


def test_harness_shared_state(harness):
    start, v = np.array([10, 20, 30]), np.array([1, 2, 3])
    np.testing.assert_array_equal(_values(harness, "acc0", int), (start + v) * 2)
    np.testing.assert_array_equal(_values(harness, "acc1", int), (start + 2 * v) * 2)
    assert _report(harness, "set") == (0, "")
    np.testing.assert_array_equal(_values(harness, "get", int), [100, 200, 300])
    np.testing.assert_array_equal(_values(harness, "other", int), start)


def test_reserved_function_names_are_refused(tmp_path):
    mod = ag.Module("agclib.bad")
    x = at.dvector("x")
    mod.function("create", [x], x + 1)
    with pytest.raises(BuildError, match="create.*clashes.*rename"):
        build_c_library(mod, str(tmp_path))


def test_cli_c_lib_prints_link_flags(tmp_path, capsys):
    spec = tmp_path / "spec.py"
    spec.write_text(
        textwrap.dedent("""
        import aotgraph as ag, aotgraph.tensor as at
        m = ag.Module("tiny")
        x = at.dvector("x")
        m.function("double", [x], x * 2)
    """)
    )
    assert (
        main(["compile", str(spec), "--emit", "c-lib", "--no-openmp", "-o", str(tmp_path / "out")])
        == 0
    )
    text = capsys.readouterr().out
    assert "libtiny.a" in text and "-lm" in text and "-fopenmp" not in text
    assert (tmp_path / "out" / "libtiny.a").stat().st_size > 0
