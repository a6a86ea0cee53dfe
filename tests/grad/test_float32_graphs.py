"""float32 gradients are computed in float32: no VJP or JVP rule brings a
float64 constant into the graph (the final cast to the variable's dtype
would hide it, so the whole gradient graph is inspected)."""

import numpy as np
import pytest
from _gradtools import BINARY_DOMAINS, UNARY_DOMAINS, elementwise_fn

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.graph import ancestors

x, y = at.fmatrix("x"), at.fvector("y")


def float64_nodes(outputs):
    return sorted(
        {
            v.owner.op.name if v.owner is not None else repr(v)
            for v in ancestors(outputs)
            if v.dtype == "float64"
        }
    )


EXPRESSIONS = {
    **{f"unary {n}": (lambda n=n: elementwise_fn(n)(x)) for n in UNARY_DOMAINS},
    **{f"binary {n}": (lambda n=n: elementwise_fn(n)(x, y)) for n in BINARY_DOMAINS},
    "max": lambda: x.max(axis=0),
    "prod": lambda: x.prod(axis=1),
    "mean/var/std": lambda: x.mean() + x.var(axis=0).sum() + x.std(),
    "logsumexp": lambda: at.logsumexp(x, axis=1),
    "matmul": lambda: at.matmul(x, y),
    "tensordot": lambda: at.tensordot(x, x, 2),
    "softmax": lambda: at.nnet.softmax(x) * 2.0,
    "log_softmax": lambda: at.nnet.log_softmax(x, axis=0),
    "crossentropy": lambda: at.nnet.categorical_crossentropy(at.nnet.softmax(x), np.array([0, 1])),
    "binary_crossentropy": lambda: at.nnet.binary_crossentropy(at.nnet.sigmoid(x), 0.5),
    "activations": lambda: at.nnet.elu(x) + at.nnet.gelu(x) + at.nnet.relu(x, 0.1),
    "clip/switch": lambda: at.clip(x, 0, 1) + at.switch(x > 0, x, 2.0 * y),
}


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_gradient_graph_has_no_float64(name):
    expr = EXPRESSIONS[name]()
    wrt = [x, y] if "y" in {v.name for v in ancestors([expr])} else [x]
    grads = ag.grad(expr.sum(), wrt)
    assert [g.dtype for g in grads] == ["float32"] * len(wrt)
    assert float64_nodes(grads) == []


def test_second_order_and_forward_mode_stay_float32():
    cost = (at.tanh(at.matmul(x, y)) ** 2).sum() + at.nnet.softplus(y).sum()
    gx, gy = ag.grad(cost, [x, y])
    second = ag.grad((gx * gx).sum() + (gy * gy).sum(), [x, y])
    rop = ag.Rop(at.nnet.softmax(at.matmul(x, y) + y), [x, y], [x, y])
    assert float64_nodes(second + [rop]) == []
    vals = {x: np.ones((2, 2), "float32"), y: np.ones(2, "float32")}
    assert rop.eval(vals).dtype == np.float32
