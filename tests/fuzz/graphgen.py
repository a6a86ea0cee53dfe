"""Random well-typed graphs as *code*: a hypothesis strategy for recipes.

A recipe is plain data (input declarations and steps, each step one line of
``aotgraph.tensor`` code); :func:`recipe_code` prints it as a Python
snippet and :func:`build_recipe` runs that snippet, so the graph a failure
reports is exactly the code it prints.  While drawing, each candidate step
is built and evaluated on zero inputs with the reference interpreter; steps
that are ill-typed or whose shapes do not work out are dropped, so every
recipe builds and runs.

Values come from a seed: ordinary numbers, or special ones (NaN, infinities,
signed zeros, subnormals; integer extremes, where wrap-around must match
numpy's).  Huge finite floats are left out: sums of them depend on the
order of summation, which backends may choose.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import aotgraph.tensor as at
from aotgraph.errors import AotgraphError
from aotgraph.function import interpret

DTYPES = ["float64", "float32", "int32", "int64", "int8", "bool"]
#: name -> (static shape for the type, concrete shape of its values)
SHAPES = {
    "matrix": ((None, None), (3, 4)),
    "vector": ((None,), (4,)),
    "scalar": ((), ()),
    "column": ((None, 1), (3, 1)),
    "row": ((1, None), (1, 4)),
    "empty": ((None, None), (0, 4)),
}

UNARY = [
    "at.exp({0})",
    "at.log({0})",
    "at.sqrt({0})",
    "at.tanh({0})",
    "at.abs({0})",
    "-{0}",
    "at.sin({0})",
    "at.floor({0})",
    "at.nnet.sigmoid({0})",
    "at.log1p({0})",
    "at.expm1({0})",
    "at.sign({0})",
    "at.isnan({0})",
    "at.erf({0})",
    "at.nnet.softplus({0})",
    "at.nnet.relu({0})",
    "{0} + 1.5",
    "{0} * 2",
    "at.clip({0}, -1, 1)",
    "{0}.astype('float32')",
    "{0}.astype('float64')",
    "at.log(1 + {0})",
    "at.exp({0}) - 1",
    "{0} ** 2",
]
BINARY = [
    "{0} + {1}",
    "{0} - {1}",
    "{0} * {1}",
    "{0} / {1}",
    "at.maximum({0}, {1})",
    "at.minimum({0}, {1})",
    "at.switch(at.gt({0}, {1}), {0}, {1})",
    "at.lt({0}, {1})",
    "at.dot({0}, {1})",
    "({0} / {1}) * {1}",
]
AXIS = [
    "{0}.sum(axis={a})",
    "{0}.max(axis={a})",
    "{0}.min(axis={a})",
    "{0}.prod(axis={a})",
    "{0}.mean(axis={a})",
    "{0}.sum(axis={a}, keepdims=True)",
    "{0}.argmax(axis={a})",
    "{0} - {0}.max(axis={a}, keepdims=True)",
    "at.nnet.softmax({0})",
]
SHAPE = [
    "{0}.T",
    "{0}.flatten()",
    "{0}.reshape((-1, 2))",
    "{0}[::-1]",
    "{0}[1:]",
    "{0}[0]",
    "{0}[np.array([0, -1])]",
    "{0}.dimshuffle('x', *range({0}.ndim))",
    "{0}.sum()",
    "{0}[at.gt({0}, 0.5)]",
    "at.concatenate([{0}, {0}])",
]
INT_SAFE = {
    "at.abs({0})",
    "-{0}",
    "{0} * 2",
    "{0}.astype('float64')",
    "{0} + {1}",
    "{0} - {1}",
    "{0} * {1}",
    "at.maximum({0}, {1})",
    "at.minimum({0}, {1})",
}


@st.composite
def recipes(draw, max_steps=6):
    """``(inputs, steps, outputs)``: inputs ``(dtype, shape name)``, steps
    are code lines over earlier names, outputs are names."""
    n_in = draw(st.integers(1, 3))
    inputs = [
        (draw(st.sampled_from(DTYPES)), draw(st.sampled_from(sorted(SHAPES)))) for _ in range(n_in)
    ]
    names = [f"x{i}" for i in range(n_in)]
    env = _declare(inputs)
    zeros = {env[n].uid: np.zeros(SHAPES[s][1], d) for n, (d, s) in zip(names, inputs)}
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        family = draw(st.sampled_from(["unary", "binary", "binary", "axis", "shape"]))
        a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        template = draw(
            st.sampled_from(
                {"unary": UNARY, "binary": BINARY, "axis": AXIS, "shape": SHAPE}[family]
            )
        )
        axis = draw(st.integers(-3, 2))
        line = template.format(a, b, a=axis)
        name = f"t{len(steps)}"
        var = _try_step(line, env, zeros)
        if var is None:
            continue
        env[name] = var
        steps.append(f"{name} = {line}")
        names.append(name)
    if not steps:
        return inputs, steps, [names[0]]
    outputs = [names[-1]]
    extra = draw(st.sampled_from(names[:-1] + [None]))
    if extra is not None and extra.startswith("t"):
        outputs.append(extra)
    return inputs, steps, outputs


def _declare(inputs):
    return {
        f"x{i}": at.tensor(d, shape=SHAPES[s][0], name=f"x{i}") for i, (d, s) in enumerate(inputs)
    }


def _try_step(line, env, zeros):
    try:
        var = eval(line, {"at": at, "np": np}, dict(env))  # noqa: S307 - our own templates
        if var.ndim > 3:
            return None
        with np.errstate(all="ignore"):
            interpret([var], zeros)
    except (AotgraphError, TypeError, ValueError, IndexError, NotImplementedError):
        return None
    return var


def recipe_code(recipe, prefix=""):
    """The recipe as a runnable snippet building ``inputs`` and ``outputs``
    (``prefix`` goes before the inputs' names)."""
    inputs, steps, outputs = recipe
    lines = ["import numpy as np", "import aotgraph.tensor as at"]
    for i, (d, s) in enumerate(inputs):
        lines.append(f"x{i} = at.tensor({d!r}, shape={SHAPES[s][0]!r}, name='{prefix}x{i}')")
    lines += steps
    lines.append(f"inputs = [{', '.join(f'x{i}' for i in range(len(inputs)))}]")
    lines.append(f"outputs = [{', '.join(outputs)}]")
    return "\n".join(lines)


def build_recipe(recipe, prefix=""):
    """``(inputs, outputs)`` symbolic variables of the recipe's snippet."""
    scope = {}
    exec(recipe_code(recipe, prefix), scope)  # noqa: S102 - code printed from our own recipe
    return scope["inputs"], scope["outputs"]


SPECIAL_FLOATS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-310, 0.5, -1.5, 3.0, 1e-30]


def recipe_values(recipe, seed):
    """Input values for the recipe from ``seed`` (ordinary or special)."""
    rng = np.random.default_rng(seed)
    special = seed % 3 == 0
    values = []
    for dtype, shape_name in recipe[0]:
        shape = SHAPES[shape_name][1]
        dt = np.dtype(dtype)
        if dt.kind == "b":
            values.append(rng.random(shape) < 0.5)
        elif dt.kind in "iu":
            info = np.iinfo(dt)
            pool = [info.min, info.max, -1, 0, 1, 7] if special else list(range(-5, 6))
            values.append(rng.choice(np.array(pool, dtype=dt), size=shape))
        elif special:
            values.append(rng.choice(np.array(SPECIAL_FLOATS), size=shape).astype(dt))
        else:
            values.append(rng.uniform(-3, 3, size=shape).astype(dt))
    return values
