"""The op suite of the CUDA tests: every op with a CUDA kernel, in the
dtypes and layouts that select different kernel code, as small graphs
with deterministic arguments.  ``SUITE`` maps a case name to
``(inputs, outputs, args)``; ``optimized_cases`` adds graphs after the
optimizer (fused elementwise chains, fused reductions, gemm).
"""

from __future__ import annotations

import numpy as np

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.ops.elemwise import ELEMENTWISE_TABLE, cast, elementwise

FLOAT_UNARY = [
    "neg",
    "abs",
    "sign",
    "exp",
    "exp2",
    "log",
    "log2",
    "log10",
    "log1p",
    "expm1",
    "sqrt",
    "sigmoid",
    "softplus",
    "erf",
    "erfc",
    "floor",
    "ceil",
    "round",
    "trunc",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "arcsinh",
    "arccosh",
    "arctanh",
    "isnan",
    "isinf",
    "isfinite",
    "logical_not",
]
FLOAT_BINARY = [
    "add",
    "sub",
    "mul",
    "true_div",
    "floor_div",
    "mod",
    "pow",
    "maximum",
    "minimum",
    "arctan2",
    "eq",
    "neq",
    "lt",
    "le",
    "gt",
    "ge",
    "logical_and",
    "logical_or",
    "logical_xor",
]
INT_BINARY = [
    "add",
    "sub",
    "mul",
    "floor_div",
    "mod",
    "maximum",
    "minimum",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "eq",
    "lt",
    "ge",
]
INT_UNARY = ["neg", "abs", "sign", "invert"]
REDUCTIONS = ["sum", "prod", "max", "min", "all", "any"]


def _values(dtype, shape, seed, special=True):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -50), min(info.max, 50)
        return rng.integers(lo, hi + 1, size=shape).astype(dtype)
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    if special and x.size > 4:
        flat = x.reshape(-1)
        flat[:4] = [np.nan, np.inf, -np.inf, 0.0]
    return x


def elementwise_cases():
    cases = {}
    for dt in ("float32", "float64"):
        x = at.tensor(dt, shape=(None, None), name="x")
        y = at.tensor(dt, shape=(None,), name="y")
        a = _values(dt, (7, 33), 1)
        b = _values(dt, (33,), 2)
        for op in FLOAT_UNARY:
            cases[f"{op}_{dt}"] = ([x], [elementwise(op, x)], (a,))
        for op in FLOAT_BINARY:
            cases[f"{op}_{dt}_bcast"] = ([x, y], [elementwise(op, x, y)], (a, b))
    for dt in ("int8", "int32", "int64", "uint8", "uint32"):
        x = at.tensor(dt, shape=(None, None), name="x")
        y = at.tensor(dt, shape=(None, None), name="y")
        a, b = _values(dt, (5, 19), 3), _values(dt, (5, 19), 4)
        for op in INT_BINARY:
            cases[f"{op}_{dt}"] = ([x, y], [elementwise(op, x, y)], (a, b))
        for op in INT_UNARY:
            if op in ELEMENTWISE_TABLE and not (
                op in ("neg", "abs", "sign") and dt.startswith("u")
            ):
                cases[f"{op}_{dt}"] = ([x], [elementwise(op, x)], (a,))
    xi = at.tensor("int64", shape=(None,), name="xi")
    cases["pow_int64"] = ([xi], [elementwise("pow", xi, 3)], (np.arange(-5, 6, dtype="int64"),))
    xf = at.tensor("float64", shape=(None, None), name="xf")
    for dt in ("int8", "int32", "uint16", "int64", "bool", "float32"):
        cases[f"cast_float64_{dt}"] = (
            [xf],
            [cast(xf * 40.0, dt)],
            (_values("float64", (6, 9), 5),),
        )
    c = at.tensor("bool", shape=(None, None), name="c")
    xs = at.tensor("float32", shape=(None, None), name="xs")
    cases["switch"] = (
        [c, xs],
        [at.switch(c, xs, -xs)],
        (_values("bool", (4, 9), 6), _values("float32", (4, 9), 7)),
    )
    xt = at.tensor("float32", shape=(None, None), name="xt")
    cases["add_transposed"] = ([xt], [xt + xt.T], (_values("float32", (8, 8), 8),))
    xg = at.tensor("float64", shape=(None, None, None), name="xg")
    ig = at.tensor("int64", shape=(None, None), name="ig")
    cases["gather_rows"] = (
        [xg, ig],
        [xg[ig]],
        (_values("float64", (5, 3, 4), 24), np.array([[0, -1, 4], [2, -5, 1]], "int64")),
    )
    cases["mul_scalar_const"] = ([xt], [xt * np.float32(3.5)], (_values("float32", (3, 10), 9),))
    return cases


def reduction_cases():
    cases = {}
    for dt in ("float32", "float64", "int32", "bool"):
        x = at.tensor(dt, shape=(None, None, None), name="x")
        a = _values(dt, (4, 6, 37), 10, special=False)
        for op in REDUCTIONS:
            for axis in ((2,), (0, 2), None):
                if op in ("all", "any") or dt != "bool" or op in ("max", "min"):
                    name = f"{op}_{dt}_{'all' if axis is None else '_'.join(map(str, axis))}"
                    out = getattr(at, op)(x, axis=axis) if hasattr(at, op) else None
                    if out is not None:
                        cases[name] = ([x], [out], (a,))
        if dt != "bool":
            for op in ("argmax", "argmin"):
                cases[f"{op}_{dt}_1"] = ([x], [getattr(at, op)(x, axis=1)], (a,))
                cases[f"{op}_{dt}_none"] = ([x], [getattr(at, op)(x)], (a,))
    x = at.tensor("float32", shape=(None, None), name="x")
    big = _values("float32", (2, 3000), 11, special=False)
    cases["sum_split"] = ([x], [at.sum(x, axis=1)], (big,))
    cases["max_split"] = ([x], [at.max(x)], (big,))
    nanrow = _values("float64", (3, 50), 12, special=False)
    nanrow[1, 17] = np.nan
    xd = at.tensor("float64", shape=(None, None), name="xd")
    cases["max_nan"] = ([xd], [at.max(xd, axis=1)], (nanrow,))
    cases["argmax_nan"] = ([xd], [at.argmax(xd, axis=1)], (nanrow,))
    cases["sum_keepdims"] = ([xd], [at.sum(xd, axis=0, keepdims=True)], (nanrow,))
    return cases


def nnet_cases():
    cases = {}
    for dt in ("float32", "float64"):
        x = at.tensor(dt, shape=(None, None), name="x")
        a = _values(dt, (9, 70), 13, special=False) * 5
        cases[f"softmax_{dt}"] = ([x], [at.nnet.softmax(x)], (a,))
        cases[f"log_softmax_{dt}"] = ([x], [at.nnet.log_softmax(x)], (a,))
    x3 = at.tensor("float32", shape=(None, None, None), name="x3")
    cases["softmax_axis0"] = (
        [x3],
        [at.nnet.softmax(x3, axis=0)],
        (_values("float32", (5, 3, 4), 14, special=False),),
    )
    return cases


def linalg_cases():
    cases = {}
    for dt in ("float32", "float64", "int32"):
        a = at.tensor(dt, shape=(None, None), name="a")
        b = at.tensor(dt, shape=(None, None), name="b")
        v = at.tensor(dt, shape=(None,), name="v")
        A, B, V = (
            _values(dt, (13, 21), 15, False),
            _values(dt, (21, 10), 16, False),
            _values(dt, (21,), 17, False),
        )
        cases[f"matmul_{dt}"] = ([a, b], [at.matmul(a, b)], (A, B))
        cases[f"matvec_{dt}"] = ([a, v], [at.matmul(a, v)], (A, V))
        cases[f"vecmat_{dt}"] = ([v, b], [at.matmul(v, b)], (V, B))
    a3 = at.tensor("float32", shape=(None, None, None), name="a3")
    b2 = at.tensor("float32", shape=(None, None), name="b2")
    cases["matmul_batched_bcast"] = (
        [a3, b2],
        [at.matmul(a3, b2)],
        (_values("float32", (3, 5, 7), 18, False), _values("float32", (7, 4), 19, False)),
    )
    at_ = at.tensor("float64", shape=(None, None), name="at")
    cases["matmul_transposed_view"] = (
        [at_],
        [at.matmul(at_.T, at_)],
        (_values("float64", (9, 6), 20, False),),
    )
    return cases


def optimized_cases():
    """Graphs after the optimizer: its fused and gemm nodes."""
    cases = {}
    x = at.tensor("float32", shape=(None, None), name="x")
    w = at.tensor("float32", shape=(None, None), name="w")
    bias = at.tensor("float32", shape=(None,), name="b")
    X, W, Bv = (
        _values("float32", (6, 11), 21, False),
        _values("float32", (11, 5), 22, False),
        _values("float32", (5,), 23, False),
    )
    graphs = {
        "opt_mlp_layer": ([x, w, bias], [at.tanh(x @ w + bias)], (X, W, Bv)),
        "opt_fused_chain": ([x], [at.exp(-x * x) * 0.5 + at.sigmoid(x)], (X,)),
        "opt_fused_sum": ([x], [(x * x + 1.0).sum(axis=1)], (X,)),
        "opt_logsumexp": ([x], [at.log(at.exp(x).sum(axis=1))], (X,)),
        "opt_mean_var": ([x], [x.mean(axis=0), x.var(axis=1)], (X,)),
        "opt_xent": ([x], [-(at.nnet.log_softmax(x)).mean()], (X,)),
    }
    for name, (ins, outs, args) in graphs.items():
        fn = ag.function(ins, outs, target="py")
        fg = fn.fgraph
        cases[name] = (list(fg.inputs), list(fg.outputs), args)
    return cases


def suite():
    return {
        **elementwise_cases(),
        **reduction_cases(),
        **nnet_cases(),
        **linalg_cases(),
        **optimized_cases(),
    }
