"""Shared pieces of the gradient tests: input domains and strategies."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aotgraph.tensor as at
from aotgraph.gradcheck import verify_grad

seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
pairs_of_shapes = hnp.mutually_broadcastable_shapes(
    num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3
)


def _away_from_zero(rng, shape, lo=0.3, hi=2.0):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(lo, hi, size=shape)


def _fractional(rng, shape):
    """Values whose fractional part stays away from 0 and 0.5 (the kinks of
    floor, ceil, round, trunc)."""
    return (
        rng.integers(-3, 3, size=shape)
        + rng.uniform(0.1, 0.4, size=shape)
        + rng.choice([0.0, 0.5], size=shape)
    )


#: name -> sampler(rng, shape): where each function is smooth
DOMAINS = {
    "real": lambda rng, shape: rng.normal(size=shape),
    "pos": lambda rng, shape: rng.uniform(0.5, 2.0, size=shape),
    "unit": lambda rng, shape: rng.uniform(-0.9, 0.9, size=shape),
    "gt1": lambda rng, shape: rng.uniform(1.2, 3.0, size=shape),
    "nonzero": _away_from_zero,
    "small": lambda rng, shape: rng.uniform(-1.2, 1.2, size=shape),
    "fractional": _fractional,
    "big": lambda rng, shape: _away_from_zero(rng, shape, 0.6, 1.0),
    "mid": lambda rng, shape: rng.uniform(-0.4, 0.4, size=shape),
    "numerator": lambda rng, shape: _away_from_zero(rng, shape, 0.2, 1.4),
    "divisor": lambda rng, shape: rng.uniform(1.5, 2.0, size=shape),
}


def sample(domain, rng, shape, dtype="float64"):
    return np.asarray(DOMAINS[domain](rng, shape), dtype=dtype)


def check(fun, arrays, target="py", **kwargs):
    """verify_grad with a seeded projection on ``target``."""
    verify_grad(fun, arrays, rng=np.random.default_rng(1234), target=target, **kwargs)


# --- elementwise ops and where each is smooth ------------------------------

UNARY_DOMAINS = {
    "neg": "real",
    "abs": "nonzero",
    "exp": "real",
    "exp2": "real",
    "log": "pos",
    "log2": "pos",
    "log10": "pos",
    "log1p": "pos",
    "expm1": "real",
    "sqrt": "pos",
    "sigmoid": "real",
    "softplus": "real",
    "erf": "real",
    "erfc": "real",
    "sin": "real",
    "cos": "real",
    "tan": "small",
    "arcsin": "unit",
    "arccos": "unit",
    "arctan": "real",
    "sinh": "real",
    "cosh": "real",
    "tanh": "real",
    "arcsinh": "real",
    "arccosh": "gt1",
    "arctanh": "unit",
    "sign": "nonzero",
    "floor": "fractional",
    "ceil": "fractional",
    "round": "fractional",
    "trunc": "fractional",
}
BINARY_DOMAINS = {
    "add": ("real", "real"),
    "sub": ("real", "real"),
    "mul": ("real", "real"),
    "true_div": ("real", "nonzero"),
    "pow": ("pos", "real"),
    "arctan2": ("nonzero", "nonzero"),
    # kink-free pairs: |a - b| >= 0.2 for maximum/minimum, a / b off the integers for mod
    "maximum": ("big", "mid"),
    "minimum": ("big", "mid"),
    "floor_div": ("numerator", "divisor"),
    "mod": ("numerator", "divisor"),
}
ZERO_GRADIENT = {"sign", "floor", "ceil", "round", "trunc", "floor_div"}


def elementwise_fn(name):
    """The user-level function of elementwise op ``name``."""
    return lambda *xs: at.math._ELEMENTWISE_FUNCS[name](*xs)


@st.composite
def matmul_shapes(draw):
    """Operand shapes np.matmul accepts: 1-d operands, and batch axes that
    broadcast (including length-1 batch axes)."""
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    batch_a = [draw(st.sampled_from([1, b])) for b in batch]
    batch_b = [draw(st.sampled_from([1, b])) for b in batch]
    drop_a, drop_b = draw(st.integers(0, len(batch))), draw(st.integers(0, len(batch)))
    a = tuple(batch_a[drop_a:]) + (m, k)
    b = tuple(batch_b[drop_b:]) + (k, n)
    if draw(st.booleans()):
        a = (k,)
    if draw(st.booleans()):
        b = (k,)
    return a, b
