"""Shared checks for the optimizer tests: run a graph unoptimized and
optimized with the reference interpreter and compare."""

import numpy as np

import aotgraph as ag
from aotgraph.fgraph import make_function_graph
from aotgraph.function import Function
from aotgraph.graph import toposort
from aotgraph.opt import optimize_graph
from aotgraph.opt.record import OptRecord


def op_names(fgraph, look_inside_fused=True):
    """Op names of a graph's nodes, including the steps of fused nodes."""
    names = []
    for node in toposort(fgraph.all_outputs()):
        names.append(node.op.name)
        if look_inside_fused and node.op.name == "fused_elementwise":
            names.extend(s[0] for s in node.op["steps"])
            if node.op.get("reduce"):
                names.append(node.op["reduce"][0])
    return names


def optimized(inputs, outputs, updates=None):
    """(unoptimized graph, optimized graph, record)."""
    fg = make_function_graph("f", inputs, outputs, updates, on_unused_input="ignore")
    rec = OptRecord()
    return fg, optimize_graph(fg, rec), rec


def run(fgraph, values):
    return Function(fgraph, "py", False)(*values)


def assert_same_values(a, b, rtol=1e-6, atol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def check_rewrite(inputs, output, values, fired, gone=(), present=(), rtol=1e-6):
    """The rule(s) ``fired`` fire, ops ``gone`` disappear, ``present``
    appear, no replacement is rejected, and the optimized graph gives the
    values of ``ag.function(..., optimize=False)``."""
    fg, ofg, rec = optimized(inputs, output)
    for name in [fired] if isinstance(fired, str) else fired:
        assert name in rec.fired_rules(), (name, rec.summary())
    assert not rec.rejected, rec.rejected
    names = op_names(ofg)
    for name in gone:
        assert name not in names, (name, names)
    for name in present:
        assert name in names, (name, names)
    plain = ag.function(inputs, output, target="py", optimize=False, on_unused_input="ignore")
    expected = plain(*values)
    got = run(ofg, values)
    assert_same_values(got, expected, rtol=rtol)
    return ofg, rec


def mlp_train_step(sizes=(784, 256, 128, 10), seed=0, loss="xent_1hot"):
    """A 3-layer MLP train step (relu, relu, softmax; SGD updates of all
    weights and biases): ``(inputs, cost, updates, params)``."""
    import aotgraph.tensor as at

    rng = np.random.default_rng(seed)
    x = at.tensor("float32", shape=(None, sizes[0]), name="x")
    y = (
        at.lvector("y")
        if loss == "xent_1hot"
        else at.tensor("float32", shape=(None, sizes[-1]), name="y")
    )
    params, h = [], x
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = ag.shared(
            (rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)).astype("float32"), name=f"W{i}"
        )
        b = ag.shared(np.zeros(n_out, "float32"), name=f"b{i}")
        params += [w, b]
        h = at.dot(h, w) + b
        if i < len(sizes) - 2:
            h = at.nnet.relu(h)
    p = at.nnet.softmax(h)
    cost = at.nnet.categorical_crossentropy(p, y).mean()
    grads = ag.grad(cost, params)
    updates = [(q, q - np.float32(0.1) * g) for q, g in zip(params, grads)]
    return [x, y], cost, updates, params
