"""The bad-input matrix (SPEC §4): what users pass wrong to a built module.

One built module serves every row; each row runs in its own Python
subprocess, so a crash (a signal, an abort) fails that row instead of the
test session.  A row either raises the exact exception type with a message
naming the function and the argument, or gives numpy's result (computed in
the child with numpy alone, the oracle).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.build import build_module

PACKAGE = "agk_badinputs.m"


def _spec():
    mod = ag.Module(PACKAGE)
    x, y = at.fvector("x"), at.fvector("y")
    mod.function("add", [x, y], x + y)
    v, idx = at.dvector("v"), at.lvector("idx")
    mod.function("take", [v, idx], v[idx] * 1.0)
    mask = at.tensor("bool", shape=(None,), name="mask")
    mod.function("select", [v, mask], v[mask])
    rows, cols = at.lscalar("rows"), at.lscalar("cols")
    mod.function("resh", [v, rows, cols], v.reshape((rows, cols)))
    mod.function("square", [rows], at.zeros((rows, rows), dtype="float64").sum())
    fixed = at.tensor("float64", shape=(3,), name="fixed")
    mod.function("triple", [fixed], fixed * 3.0)
    a = at.dmatrix("a")
    mod.function("colsum", [a], a.sum(axis=0) + a[0])
    c = ag.shared(np.zeros(4), name="c")
    mod.function("accumulate", [v], c * 1.0, updates={c: c + v})
    return mod


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    os.chmod(cache, 0o700)
    out = tmp_path_factory.mktemp("pkg")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AOTGRAPH_CACHE", str(cache))
        build_module(_spec(), str(out))
    return str(out)


CHILD = """
import json, sys, traceback
import numpy as np
import {package} as M
f32 = lambda *a: np.array(a, dtype=np.float32)
out = {{}}
try:
{body}
    out["kind"] = "value"
    got, want = np.asarray(got), np.asarray(want)
    out["same"] = bool(got.dtype == want.dtype and got.shape == want.shape
                       and np.array_equal(got, want, equal_nan=True))
    out["detail"] = f"got {{got!r}} want {{want!r}}"
    out["extra"] = bool(extra) if "extra" in dir() else True
except BaseException as exc:
    out = {{"kind": "raised", "type": type(exc).__name__, "message": str(exc)}}
print("RESULT " + json.dumps(out))
"""


def _run_row(package_dir, body):
    code = CHILD.format(package=PACKAGE, body=textwrap.indent(textwrap.dedent(body), "    "))
    env = dict(os.environ, PYTHONPATH=package_dir + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, f"the child died (rc {proc.returncode}):\n{proc.stderr[-2000:]}"
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


# name -> (body, expected): expected is "value" (numpy's result) or
# (exception type, fragments every message must contain).
ROWS = {
    "dtype_complex": (
        "got = M.add(np.ones(3, np.complex64), f32(1, 2, 3))",
        ("TypeError", ["add", "'x'", "complex64", "float32"]),
    ),
    "dtype_object": (
        "got = M.add(f32(1, 2), np.array([1.0, None], dtype=object))",
        ("TypeError", ["add", "'y'", "object"]),
    ),
    "dtype_bool": (
        "got = M.add(np.array([True, False]), f32(1, 2))",
        ("TypeError", ["add", "'x'", "bool"]),
    ),
    "dtype_unsafe_float64": (
        "got = M.add(np.ones(2), f32(1, 2))",
        ("TypeError", ["add", "'x'", "float64", "allow_input_downcast"]),
    ),
    "dtype_uint64_into_int64": (
        "got = M.take(np.ones(3), np.array([0], np.uint64))",
        ("TypeError", ["take", "'idx'", "uint64"]),
    ),
    "dtype_float_index": (
        "got = M.take(np.ones(3), np.array([0.5]))",
        ("TypeError", ["take", "'idx'", "float64"]),
    ),
    "dtype_safe_int8_upcast": (
        "x = np.array([1, -2], np.int8); got = M.add(x, f32(0.5, 1))\n"
        "want = x.astype(np.float32) + f32(0.5, 1)",
        "value",
    ),
    "wrong_ndim": (
        "got = M.add(np.ones((2, 2), np.float32), f32(1, 2))",
        ("TypeError", ["add", "'x'", "2 dimension", "expected 1"]),
    ),
    "wrong_static_length": (
        "got = M.triple(np.ones(4))",
        ("ValueError", ["triple", "'fixed'", "length 4", "requires 3"]),
    ),
    "incompatible_broadcast": (
        "got = M.add(f32(1, 2, 3), f32(1, 2, 3, 4))",
        ("ValueError", ["add", "3", "4"]),
    ),
    "broadcast_length_one_is_not_static": (
        "got = M.add(f32(1, 2, 3), f32(5))\nwant = f32(1, 2, 3) + f32(5)",
        "value",
    ),
    "index_out_of_bounds_positive": (
        "got = M.take(np.arange(4.0), np.array([1, 4]))",
        ("IndexError", ["take", "index 4", "out of bounds"]),
    ),
    "index_out_of_bounds_negative": (
        "got = M.take(np.arange(4.0), np.array([-5]))",
        ("IndexError", ["take", "index -5", "out of bounds"]),
    ),
    "index_huge": (
        "got = M.take(np.arange(4.0), np.array([2**62]))",
        ("IndexError", ["take", "out of bounds"]),
    ),
    "index_negative_in_range": (
        "got = M.take(np.arange(4.0), np.array([-1, -4, 0]))\nwant = np.arange(4.0)[[-1, -4, 0]]",
        "value",
    ),
    "mask_wrong_shape": (
        "got = M.select(np.arange(4.0), np.array([True, False]))",
        ("IndexError", ["select", "boolean", "4", "2"]),
    ),
    "mask_right_shape": (
        "m = np.array([True, False, True, True])\n"
        "got = M.select(np.arange(4.0), m); want = np.arange(4.0)[m]",
        "value",
    ),
    "empty_arrays": (
        "got = M.add(np.empty(0, np.float32), np.empty(0, np.float32))\n"
        "want = np.empty(0, np.float32)",
        "value",
    ),
    "zero_length_dimension": (
        "a = np.zeros((3, 0)); got = M.colsum(a)\nwant = a.sum(axis=0) + a[0]",
        "value",
    ),
    "zero_rows_then_indexing_row_0": (
        "got = M.colsum(np.zeros((0, 3)))",
        ("IndexError", ["colsum", "out of bounds"]),
    ),
    "empty_mask": ("got = M.select(np.empty(0), np.empty(0, bool)); want = np.empty(0)", "value"),
    "non_contiguous": (
        "x = np.arange(10, dtype=np.float32)[::2]\n"
        "y = np.arange(20, dtype=np.float32)[1::4]\n"
        "got = M.add(x, y); want = x + y",
        "value",
    ),
    "negative_stride": (
        "x = np.arange(5, dtype=np.float32)[::-1]; y = f32(1, 2, 3, 4, 5)\n"
        "got = M.add(x, y); want = x + y",
        "value",
    ),
    "fortran_order": (
        "a = np.asfortranarray(np.arange(12.0).reshape(3, 4))\n"
        "got = M.colsum(a); want = a.sum(axis=0) + a[0]",
        "value",
    ),
    "transposed_view": (
        "a = np.arange(12.0).reshape(4, 3).T\ngot = M.colsum(a); want = a.sum(axis=0) + a[0]",
        "value",
    ),
    "read_only": (
        "x = f32(1, 2, 3); x.flags.writeable = False\n"
        "got = M.add(x, x); want = f32(2, 4, 6)\n"
        "extra = np.array_equal(x, f32(1, 2, 3))",
        "value",
    ),
    "same_array_twice": (
        "x = f32(1, -2, 3); got = M.add(x, x); want = x + x\n"
        "extra = np.array_equal(x, f32(1, -2, 3))",
        "value",
    ),
    "input_aliases_shared_storage": (
        "M.accumulate(np.array([1.0, 2.0, 3.0, 4.0]))\n"
        "alias = M.shared['c'].get_value(borrow=True)\n"
        "before = alias.copy()\n"
        "got = M.accumulate(alias); want = before\n"
        "extra = np.array_equal(M.shared['c'].get_value(), before + before)",
        "value",
    ),
    "nan_inf": (
        "x = f32(np.nan, np.inf, -np.inf, 1); y = f32(1, -np.inf, -np.inf, np.nan)\n"
        "got = M.add(x, y)\n"
        "with np.errstate(all='ignore'): want = x + y",
        "value",
    ),
    "reshape_overflows_int64": (
        "got = M.resh(np.arange(4.0), 2**40, 2**40)",
        ("ValueError", ["resh", "reshape", "1099511627776"]),
    ),
    "reshape_negative_length": (
        "got = M.resh(np.arange(4.0), -1, -4)",
        ("ValueError", ["resh", "-4"]),
    ),
    "allocation_overflows": ("got = M.square(2**32 + 1)", ("MemoryError", ["square", "too large"])),
    "none": ("got = M.add(None, f32(1))", ("TypeError", ["add", "'x'", "None"])),
    "string": ("got = M.add(f32(1), 'abc')", ("TypeError", ["add", "'y'", "str"])),
    "bytes": ("got = M.add(b'abcd', f32(1))", ("TypeError", ["add", "'x'", "bytes"])),
    "nested_list_too_deep": (
        "got = M.add([[1.0, 2.0]], f32(1, 2))",
        ("TypeError", ["add", "'x'", "2 dimension"]),
    ),
    "nested_list_ragged": (
        "got = M.colsum([[1.0, 2.0], [3.0]])",
        ("ValueError", ["colsum", "'a'", "ragged"]),
    ),
    "python_list_ok": ("got = M.add([1.5, 2], [0.25, 1]); want = f32(1.75, 3)", "value"),
    "python_float_overflows_int64": (
        "got = M.resh(np.arange(4.0), 2.5, 2)",
        ("TypeError", ["resh", "'rows'", "int64"]),
    ),
    "too_many_arguments": (
        "got = M.add(f32(1), f32(2), f32(3))",
        ("TypeError", ["add", "2 input", "x, y", "got 3"]),
    ),
    "too_few_arguments": ("got = M.add(f32(1))", ("TypeError", ["add", "missing", "y"])),
    "keyword_arguments": ("got = M.add(y=f32(1, 2), x=f32(10, 20)); want = f32(11, 22)", "value"),
    "unknown_keyword": (
        "got = M.add(f32(1), z=f32(2))",
        ("TypeError", ["add", "unexpected keyword", "'z'"]),
    ),
    "keyword_given_twice": (
        "got = M.add(f32(1), x=f32(2))",
        ("TypeError", ["add", "multiple values", "'x'"]),
    ),
}


@pytest.fixture(scope="module")
def row_results(package_dir):
    """Every row's child run, a few at a time (each is a separate process)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {row: pool.submit(_run_row, package_dir, body) for row, (body, _) in ROWS.items()}
    return {
        row: (f.result() if f.exception() is None else f.exception()) for row, f in futures.items()
    }


@pytest.mark.parametrize("row", sorted(ROWS))
def test_bad_input_row(row_results, row):
    body, expected = ROWS[row]
    result = row_results[row]
    if isinstance(result, BaseException):
        raise result
    if expected == "value":
        assert result["kind"] == "value", result
        assert result["same"], result["detail"]
        assert result["extra"], f"{row}: a side condition failed ({result['detail']})"
        return
    exc_type, fragments = expected
    assert result["kind"] == "raised", f"{row}: no exception; {result.get('detail')}"
    assert result["type"] == exc_type, result
    for fragment in fragments:
        assert fragment in result["message"], (fragment, result["message"])


def test_matrix_size():
    """The issue's rows are all present (kept as a count so removals show)."""
    assert len(ROWS) >= 40
