"""Tensor types, dtypes, static broadcasting and the symbolic constructors."""

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.types import SUPPORTED_DTYPES, TensorType, as_dtype, broadcast_static


def test_tensor_type_holds_dtype_and_static_lengths():
    t = TensorType(np.float32, [None, 784])
    assert t.dtype == "float32" and t.shape == (None, 784) and t.ndim == 2
    assert t == TensorType("float32", (None, 784)) and hash(t) == hash(
        TensorType("float32", (None, 784))
    )
    assert t != TensorType("float32", (None, None)) and t != TensorType("float64", (None, 784))
    assert TensorType("int8", (1, None)).broadcastable == (True, False)
    assert t.short() == "float32[?,784]"
    assert t.accepts_shape((5, 784)) and not t.accepts_shape((5, 783))
    assert not t.accepts_shape((784,))
    assert t.with_dtype("int64") == TensorType("int64", (None, 784))
    assert t.to_json() == {"dtype": "float32", "shape": [None, 784]}


@pytest.mark.parametrize("bad", [(-1,), (2.0,), (True,), ("3",), 5])
def test_tensor_type_rejects_bad_shapes(bad):
    with pytest.raises(TypeError, match="TensorType"):
        TensorType("float32", bad)


@pytest.mark.parametrize("bad", ["float16", "complex128", object, "U3", "nonsense", "datetime64"])
def test_unsupported_dtypes_are_refused_with_the_list(bad):
    with pytest.raises(TypeError, match="where"):
        as_dtype(bad, "where")


def test_as_dtype_canonicalizes():
    assert as_dtype(np.float64) == "float64"
    assert as_dtype("f4") == "float32"
    assert as_dtype(bool) == "bool"
    assert as_dtype(np.dtype("uint16")) == "uint16"
    assert all(as_dtype(d) == d for d in SUPPORTED_DTYPES)


@pytest.mark.parametrize(
    "shapes, want",
    [
        ([(3,), (2, 3)], (2, 3)),
        ([(None,), (2, 3)], (2, 3)),
        ([(1,), (None, None)], (None, None)),
        ([(None, 1), (1, None)], (None, None)),
        ([(), (4,)], (4,)),
        ([(0,), (1,)], (0,)),
        ([(5, 1, 2), (7, 1)], (5, 7, 2)),
    ],
)
def test_static_broadcasting_follows_numpy(shapes, want):
    assert broadcast_static(shapes) == want
    if all(None not in s for s in shapes):  # numpy is the oracle where all are known
        assert np.broadcast_shapes(*shapes) == want


def test_static_broadcasting_errors_name_the_operands_and_axis():
    with pytest.raises(ag.ShapeError, match=r"axis -1 .*\[3, 4\].*left.*right"):
        broadcast_static([(2, 3), (4,)], what="demo", names=["left", "right"])
    with pytest.raises(ag.ShapeError, match="operand 1"):
        broadcast_static([(2,), (0,)])


def test_constructors_and_their_dtypes():
    prefixes = {
        "b": "int8",
        "w": "int16",
        "i": "int32",
        "l": "int64",
        "f": "float32",
        "d": "float64",
    }
    kinds = {"scalar": 0, "vector": 1, "matrix": 2, "tensor3": 3, "tensor4": 4}
    for kind, ndim in kinds.items():
        v = getattr(at, kind)("v")
        assert (v.dtype, v.ndim, v.name) == (ag.config.floatX, ndim, "v")
        assert v.type.shape == (None,) * ndim
        assert getattr(at, kind)(dtype="int16").dtype == "int16"
        for prefix, dtype in prefixes.items():
            w = getattr(at, prefix + kind)()
            assert (w.dtype, w.ndim) == (dtype, ndim)


def test_tensor_constructor_with_static_shape():
    x = at.tensor("float32", shape=(None, 784), name="x")
    assert x.type == TensorType("float32", (None, 784)) and x.name == "x"
    assert at.tensor("int8", ndim=3).type.shape == (None, None, None)
    assert at.tensor(shape=(2,)).dtype == ag.config.floatX
    with pytest.raises(TypeError, match="not a dtype"):
        at.tensor("x")
    with pytest.raises(TypeError, match="ndim"):
        at.tensor("float32", shape=(1, 2), ndim=3)
    with pytest.raises(TypeError, match="dvector"):
        at.dvector(dtype="float32")
    with pytest.raises(TypeError, match="matrix"):
        at.matrix(shape=(2,))
    with pytest.raises(TypeError, match="name"):
        at.vector(3)


def test_floatx_setting():
    old = ag.config.floatX
    try:
        ag.config.floatX = "float64"
        assert at.vector().dtype == "float64"
        with pytest.raises(ValueError, match="floatX"):
            ag.config.floatX = "int32"
        with pytest.raises(TypeError, match="floatX"):
            ag.config.floatX = "float16"
    finally:
        ag.config.floatX = old
    assert at.vector().dtype == old


def test_python_values_become_constants_of_numpy_dtype():
    assert at.as_tensor(np.arange(3, dtype=np.uint8)).dtype == "uint8"
    assert at.as_tensor([[1, 2], [3, 4]]).type == TensorType("int64", (2, 2))
    assert at.as_tensor(True).dtype == "bool"
    assert at.constant(2.0).dtype == "float64"  # a constant is strong, like np.array(2.0)
    assert at.constant(2.0, dtype="float32").dtype == "float32"
    with pytest.raises(TypeError, match="complex"):
        at.as_tensor(1 + 2j)
    with pytest.raises(TypeError, match="as_tensor"):
        at.as_tensor({"a": 1})


def _import_with_floatx(value):
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = "import aotgraph.tensor as at; print(at.vector().dtype)"
    env = {**os.environ, "AOTGRAPH_FLOATX": value}
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True
    )


def test_floatx_from_the_environment():
    done = _import_with_floatx("float64")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "float64"
    refused = _import_with_floatx("int32")
    assert refused.returncode != 0 and "AOTGRAPH_FLOATX" in refused.stderr
