"""Soundness fuzz: random graphs agree before and after the whole pipeline
(reference interpreter; NaN positions included).

Graphs whose unoptimized evaluation overflows or produces exact zeros are
skipped: there stabilization is *meant* to change results (``log(exp(x))``
is ``x`` instead of ``inf``, ``(a / b) * b`` is ``a`` where ``b == 0``)."""

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from opt_helpers import assert_same_values, op_names, optimized, run

import aotgraph.tensor as at
from aotgraph.function import interpret
from aotgraph.graph import toposort

UNARY = {
    "exp": at.exp,
    "log": at.log,
    "log1p": at.log1p,
    "expm1": at.expm1,
    "tanh": at.tanh,
    "sigmoid": at.nnet.sigmoid,
    "softplus": at.nnet.softplus,
    "neg": lambda a: -a,
    "abs": at.abs,
    "sqrt": at.sqrt,
    "sin": at.sin,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": at.maximum,
    "minimum": at.minimum,
    "where": lambda a, b: at.switch(a > b, a, b),
}
PATTERNS = {
    "log1p": lambda a, b: at.log(1.0 + a),
    "expm1": lambda a, b: at.exp(a) - 1.0,
    "log_sigmoid": lambda a, b: at.log(at.nnet.sigmoid(a)),
    "log1m_sigmoid": lambda a, b: at.log(1.0 - at.nnet.sigmoid(a)),
    "softplus": lambda a, b: at.log1p(at.exp(a)),
    "identities": lambda a, b: (a * 1.0 + 0.0) / 1.0,
    "pow": lambda a, b: a**2.0 + abs(b) ** 0.5 - a**-1.0,
    "div_const": lambda a, b: a / 3.0,
    "double_neg": lambda a, b: at.neg(at.neg(a)) - (-b),
    "cancel": lambda a, b: (a / b) * b,
    "constants": lambda a, b: ((a + 2.0) + b) + 3.0,
    "row_sum": lambda a, b: a + a.sum(axis=-1, keepdims=True),
    "row_max": lambda a, b: a - a.max(axis=-1, keepdims=True),
    "log_softmax": lambda a, b: at.log(at.nnet.softmax(a)) if a.ndim else a,
    "logsumexp": lambda a, b: b + at.log(at.exp(a).sum(axis=-1, keepdims=True)),
    "matmul": lambda a, b: (a @ b) + b if a.ndim == 2 and b.ndim == 2 else a * b,
    "gemm_t": lambda a, b: b - 0.5 * (a.T @ b) if a.ndim == 2 and b.ndim == 2 else a - b,
    "transpose": lambda a, b: a.T * 2.0 if a.ndim == 2 else a,
}


@st.composite
def random_graphs(draw):
    x, y = at.dmatrix("x"), at.tensor("float64", shape=(4, 4), name="y")
    v = at.dvector("v")
    pool = [x, y, v]
    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["unary", "binary", "pattern", "pattern"]))
        a = draw(st.sampled_from(pool))
        b = draw(st.sampled_from(pool))
        if kind == "unary":
            new = UNARY[draw(st.sampled_from(sorted(UNARY)))](a)
        elif kind == "binary":
            new = BINARY[draw(st.sampled_from(sorted(BINARY)))](a, b)
        else:
            new = PATTERNS[draw(st.sampled_from(sorted(PATTERNS)))](a, b)
        pool.append(new)
    outputs = [pool[-1], pool[len(pool) // 2 + 1]] if len(pool) > 4 else [pool[-1]]
    return [x, y, v], outputs


def _values(draw_seed, with_nan):
    rng = np.random.default_rng(draw_seed)
    vals = [
        rng.uniform(0.2, 2.0, size=s) * rng.choice([-1.0, 1.0], size=s)
        for s in ((4, 4), (4, 4), (4,))
    ]
    if with_nan:
        vals[0][1, 2] = np.nan
    return vals


def _all_finite_nonzero(inputs, outputs, values):
    nodes = toposort(outputs)
    inner = [v for n in nodes for v in n.outputs if v.dtype.startswith("float")]
    env = {k.uid: a for k, a in zip(inputs, values)}
    results = interpret(inner, env)
    return all(not np.any(np.isinf(r)) and not np.any(r == 0) for r in results)


@given(random_graphs(), st.integers(0, 2**16), st.booleans())
def test_random_graphs_agree_after_optimization(graph, seed, with_nan):
    inputs, outputs = graph
    values = _values(seed, with_nan)
    assume(_all_finite_nonzero(inputs, outputs, values))
    fg, ofg, rec = optimized(inputs, outputs)
    assert not rec.rejected, rec.rejected
    before = run(fg, values)
    after = run(ofg, values)
    for a, b in zip(after, before):
        scale = max(1.0, float(np.nanmax(np.abs(b))) if np.any(~np.isnan(b)) else 1.0)
        assert_same_values(a, b, rtol=1e-6, atol=1e-9 * scale)
    assert "pow" not in op_names(ofg)


# --- mixed dtypes, shapes and constants -------------------------------------

MIXED = {
    "cast32": lambda a, b: a.astype("float32"),
    "cast_int": lambda a, b: at.floor(a).astype("int32") * 2 + 1,
    "compare": lambda a, b: at.switch(at.gt(a, b), a, b * 0.5),
    "logic": lambda a, b: at.switch(at.lt(a, 0.0) & at.isnan(b), 1.0, a),
    "prod_axis": lambda a, b: a.prod(axis=0, keepdims=True) * b if a.ndim == 2 else a,
    "min_all": lambda a, b: a + a.min(),
    "mean": lambda a, b: a - a.mean(axis=-1, keepdims=True),
    "reshape": lambda a, b: (
        a.reshape((-1,)).reshape(a.shape) if a.ndim == 2 else a.reshape((2, 2)).flatten()
    ),
    "slice": lambda a, b: a[::-1, :] * a[:, :] if a.ndim == 2 else a[::-1],
    "const_fold": lambda a, b: a * at.exp(at.constant(np.array([0.0, 1.0, 2.0, 3.0]))).sum(),
    "int_pow": lambda a, b: (at.floor(a).astype("int64") ** 3).astype(a.dtype),
    "dimshuffle": lambda a, b: (
        a.dimshuffle("x", 0, 1).sum(axis=0) if a.ndim == 2 else a.dimshuffle(0, "x").sum(axis=1)
    ),
}


@st.composite
def mixed_graphs(draw):
    x = at.fmatrix("x")
    v = at.dvector("v")
    k = at.ivector("k")
    pool = [x, v, k.astype("float64") + v]
    for _ in range(draw(st.integers(1, 6))):
        a = draw(st.sampled_from(pool))
        b = draw(st.sampled_from(pool))
        family = draw(st.sampled_from(["mixed", "mixed", "pattern", "binary"]))
        if family == "mixed":
            new = MIXED[draw(st.sampled_from(sorted(MIXED)))](a, b)
        elif family == "pattern":
            new = PATTERNS[draw(st.sampled_from(sorted(PATTERNS)))](a, b)
        else:
            new = BINARY[draw(st.sampled_from(sorted(BINARY)))](a, b)
        if new.ndim <= 2 and new.dtype in ("float32", "float64"):
            pool.append(new)
    return [x, v, k], [pool[-1]]


@given(mixed_graphs(), st.integers(0, 2**16))
def test_mixed_dtype_graphs_agree_after_optimization(graph, seed):
    inputs, outputs = graph
    rng = np.random.default_rng(seed)
    values = [
        (rng.uniform(0.2, 2.0, (4, 4)) * rng.choice([-1, 1], (4, 4))).astype("float32"),
        rng.uniform(0.2, 2.0, 4) * rng.choice([-1, 1], 4),
        rng.integers(-3, 4, 4).astype("int32"),
    ]
    assume(_all_finite_nonzero(inputs, outputs, values))
    fg, ofg, rec = optimized(inputs, outputs)
    assert not rec.rejected, rec.rejected
    (before,), (after,) = run(fg, values), run(ofg, values)
    tol = 2e-5 if before.dtype == np.float32 else 1e-7
    scale = max(1.0, float(np.nanmax(np.abs(before))) if np.any(~np.isnan(before)) else 1.0)
    assert_same_values(after, before, rtol=tol, atol=1e-6 * scale)


# --- integers of mixed widths and signedness: exact, wrap-around included ----

INT_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "neg_a": lambda a, b: -a,
    "sub_neg": lambda a, b: a - (-b),
    "add_neg": lambda a, b: a + (-b),
    "neg_neg": lambda a, b: (-a) * (-b),
    "consts": lambda a, b: (a + 100) + 100,
    "mul_consts": lambda a, b: (a * 3) * at.constant(-1, dtype="int8"),
    "promote": lambda a, b: (a + at.constant(100, dtype="int8")) + at.constant(100, dtype="int16"),
    "outward": lambda a, b: (a + 7) + b,
    "pow": lambda a, b: a**2 + b**3,
    "identities": lambda a, b: (a * 1 + 0) - 0,
    "cast_pair": lambda a, b: a.astype("float64").astype(a.dtype),
    "sum": lambda a, b: a + a.sum(),
}


@st.composite
def int_graphs(draw):
    inputs = [at.bvector("b8"), at.tensor("uint8", shape=(None,), name="u8"), at.wvector("i16")]
    pool = list(inputs)
    for _ in range(draw(st.integers(1, 6))):
        a, b = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
        pool.append(INT_OPS[draw(st.sampled_from(sorted(INT_OPS)))](a, b))
    return inputs, [pool[-1]]


@given(int_graphs(), st.integers(0, 2**16))
def test_integer_graphs_agree_exactly(graph, seed):
    inputs, outputs = graph
    rng = np.random.default_rng(seed)
    values = [
        rng.integers(-128, 128, 5).astype("int8"),
        rng.integers(0, 256, 5).astype("uint8"),
        rng.integers(-3000, 3000, 5).astype("int16"),
    ]
    fg, ofg, rec = optimized(inputs, outputs)
    assert not rec.rejected, rec.rejected
    (before,), (after,) = run(fg, values), run(ofg, values)
    assert before.dtype == after.dtype
    np.testing.assert_array_equal(after, before)
