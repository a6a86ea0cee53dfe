"""The optimizer's fused_elementwise compiled to C: chains of steps with
mixed dtypes and casts, and chains ending in a reduction, versus the
reference implementations of the steps and of the reduction."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_c_harness import assert_same, build_module, ir_from_nodes
from test_ops_compiled import operand, shapes_for

from aotgraph.ops.base import OPS, Op
from aotgraph.types import TensorType

#: fused_elementwise nodes: (input dtypes, steps); oracle = the step ops' references
FUSED = {
    "fused_affine_tanh": (
        ["float32", "float32"],
        (("mul", "float32", (0, 1)), ("add", "float32", (2, 0)), ("tanh", "float32", (3,))),
    ),
    "fused_mixed_cast": (
        ["int32", "float64"],
        (
            ("cast", "float64", (0,)),
            ("mul", "float64", (2, 1)),
            ("gt", "bool", (3, 1)),
            ("switch", "float64", (4, 3, 1)),
        ),
    ),
    "fused_int_pow": (["int8", "int8"], (("pow", "int8", (0, 1)),)),
    "fused_int_floor_div": (
        ["int16", "int16"],
        (("floor_div", "int16", (0, 1)), ("mod", "int16", (0, 1)), ("add", "int16", (2, 3))),
    ),
}
#: fused nodes ending in a reduction: (input dtypes, steps, (op, axes, keepdims))
FUSED_REDUCE = {
    "fusedr_sum_exp": (
        ["float32", "float32"],
        (("sub", "float32", (0, 1)), ("exp", "float32", (2,))),
        ("sum", (1,), False),
    ),
    "fusedr_logsumexp": (
        [("float32", (None, None)), ("float32", (None, 1))],
        (("sub", "float32", (0, 1)), ("exp", "float32", (2,))),
        ("sum", (1,), True),
    ),
    "fusedr_max_cols": (
        [("float64", (None, None)), ("float64", (1, None))],
        (("mul", "float64", (0, 1)),),
        ("max", (0,), False),
    ),
    "fusedr_sum_all_f64": (
        ["float64", "float64"],
        (("mul", "float64", (0, 1)),),
        ("sum", (0, 1), True),
    ),
    "fusedr_max_rows": (
        ["float64", "float64"],
        (("add", "float64", (0, 1)),),
        ("max", (0,), False),
    ),
    "fusedr_min_int": (["int32", "int32"], (("mul", "int32", (0, 1)),), ("min", (1,), True)),
    "fusedr_any_cmp": (["float32", "float32"], (("gt", "bool", (0, 1)),), ("any", (1,), False)),
    "fusedr_all_cmp": (["int8", "int8"], (("le", "bool", (0, 1)),), ("all", (0,), False)),
    "fusedr_prod_int": (["int16", "int16"], (("add", "int16", (0, 1)),), ("prod", (0,), False)),
    "fusedr_pow_int": (["int32", "int32"], (("pow", "int32", (0, 1)),), ("sum", (0,), False)),
    "fusedr_sum_bool": (["float64", "float64"], (("lt", "bool", (0, 1)),), ("sum", (0, 1), False)),
}


def _spec(d):
    """An input given as a dtype (shape (?, ?)) or as (dtype, static shape)."""
    return d if isinstance(d, tuple) else (d, (None, None))


def _draw_args(data, dtypes):
    shapes = data.draw(shapes_for(len(dtypes)))
    args = []
    for d, sh in zip(dtypes, shapes):
        dt, static = _spec(d)
        sh = tuple(1 if s == 1 else n for s, n in zip(static, sh))
        args.append(data.draw(operand(dt, sh)))
    return args


def _fused_ir(dtypes, steps, reduce=None):
    n = len(dtypes)
    out_dt, out_shape = steps[-1][1], (None, None)
    prm = {"steps": steps}
    if reduce is not None:
        op, axes, keep = reduce
        prm["reduce"] = reduce
        out_dt = (
            OPS[op]
            .infer(Op(op, axis=axes, keepdims=keep), [TensorType(out_dt, (None, None))])[0]
            .dtype
        )
        out_shape = tuple(1 if a in axes else None for a in range(2) if keep or a not in axes)
    types = [_spec(d) for d in dtypes] + [(out_dt, out_shape)]
    node = {"op": "fused_elementwise", "params": prm, "inputs": list(range(n)), "outputs": [n]}
    return ir_from_nodes(types, [node], n, [n])


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    fns = {name: _fused_ir(dtypes, steps) for name, (dtypes, steps) in FUSED.items()}
    for name, (dtypes, steps, red) in FUSED_REDUCE.items():
        fns[name] = _fused_ir(dtypes, steps, red)
    return build_module(fns, tmp_path_factory.mktemp("fused"))


def _steps_reference(steps, args):
    values = [np.asarray(a) for a in args]
    for op, dtype, idx in steps:
        op_obj = Op(op, dtype=dtype) if op == "cast" else Op(op)
        with np.errstate(all="ignore"):
            values.append(np.asarray(OPS[op].impl(op_obj, *[values[i] for i in idx])))
    shape = np.broadcast_shapes(*[a.shape for a in args])
    return np.broadcast_to(values[-1], shape).astype(steps[-1][1])


@pytest.mark.parametrize("name", sorted(FUSED))
@given(data=st.data())
def test_fused_elementwise_matches_step_references(compiled, name, data):
    dtypes, steps = FUSED[name]
    shapes = data.draw(shapes_for(len(dtypes)))
    args = [data.draw(operand(d, s)) for d, s in zip(dtypes, shapes)]
    try:
        want = _steps_reference(steps, args)
    except ValueError:
        with pytest.raises(ValueError, match="negative integer powers"):
            compiled[name](*args)
        return
    assert_same(compiled[name](*args)[0], want, rtol=2e-5)


@pytest.mark.parametrize("name", sorted(FUSED_REDUCE))
@given(data=st.data())
def test_fused_reduction_matches_references(compiled, name, data):
    dtypes, steps, (op, axes, keep) = FUSED_REDUCE[name]
    args = _draw_args(data, dtypes)
    try:
        full = _steps_reference(steps, args)
        with np.errstate(all="ignore"):
            want = OPS[op].impl(Op(op, axis=axes, keepdims=keep), full)
    except ValueError as exc:
        words = "no identity" if "identity" in str(exc) else "negative integer powers"
        with pytest.raises(ValueError, match=words):
            compiled[name](*args)
        return
    got = compiled[name](*args)[0]
    assert_same(
        got,
        np.asarray(want),
        rtol=2e-5 if want.dtype == np.float32 else 1e-12,
        atol=1e-4 if want.dtype.kind == "f" else 0,
    )
