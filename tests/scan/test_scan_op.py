"""The scan op's representation: JSON-friendly params, the inner graph
round trip, loop-invariant hoisting and stores."""

import json

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.graph import toposort
from aotgraph.loops import inner_function_graph, replace_inner_graph
from aotgraph.ops.base import Op, apply_op
from aotgraph.ops.scan import Layout, decode_inner


def rnn_node():
    x, h0, W = at.dmatrix("x"), at.dvector("h0"), at.dmatrix("W")
    hs, _ = ag.scan(
        lambda xt, h, W: at.tanh(h @ W.T * 2.0 + xt), sequences=x, outputs_info=h0, non_sequences=W
    )
    return (x, h0, W), hs


def test_params_survive_json_and_stay_hashable():
    _, hs = rnn_node()
    op = hs.owner.op
    hash(op)
    text = json.dumps(op.params, sort_keys=True)
    again = Op("scan", **json.loads(text))
    assert again == op and hash(again) == hash(op)
    assert json.dumps(again.params, sort_keys=True) == text


def test_equal_loops_built_twice_have_equal_ops():
    (_, _, _), a = rnn_node()
    (_, _, _), b = rnn_node()
    assert a.owner.op == b.owner.op


def test_loop_invariant_work_is_hoisted_out_of_the_body():
    (x, h0, W), hs = rnn_node()
    body = decode_inner(hs.owner.op["inner"])
    names = [n.op.name for n in toposort(list(body.outputs), stop=list(body.inputs))]
    assert "dimshuffle" not in names  # W.T runs once, outside the loop
    assert sorted(names) == sorted(["matmul", "mul", "add", "tanh"])
    outer_nodes = [n.op.name for n in toposort(hs)]
    assert "dimshuffle" in outer_nodes


def test_large_constants_are_hoisted_small_ones_inlined():
    x = at.dmatrix("x")
    big = np.arange(100.0).reshape(10, 10)
    ys, _ = ag.map(lambda row: row @ big + 3.0, x)
    in_codes, consts, _, _ = ys.owner.op["inner"]
    assert len(in_codes) == 2  # the row and the hoisted matrix
    assert len(consts) == 1 and consts[0][0] == "float64" and consts[0][1] == ()
    xs = np.ones((2, 10))
    np.testing.assert_allclose(ys.eval({x: xs}), xs @ big + 3.0)


def test_inner_function_graph_round_trip():
    (x, h0, W), hs = rnn_node()
    op = hs.owner.op
    fg = inner_function_graph(op)
    assert len(fg.inputs) == 3 and len(fg.outputs) == 1  # x_t, h_{t-1}, W.T
    assert replace_inner_graph(op, fg) == op
    # a rewritten body: tanh replaced by a different function
    (xt, h, wt) = fg.inputs
    new_fg = type(fg)("body", list(fg.inputs), [at.sin(h @ wt * 2.0 + xt)])
    new_op = replace_inner_graph(op, new_fg)
    node = apply_op("scan", list(hs.owner.inputs), **new_op.params)
    xs, h0v, wv = np.ones((3, 2)), np.array([0.1, 0.2]), np.eye(2) * 0.5
    got = node.outputs[0].eval({x: xs, h0: h0v, W: wv})
    h, want = h0v, []
    for t in range(3):
        h = np.sin(h @ wv.T * 2.0 + xs[t])
        want.append(h)
    np.testing.assert_allclose(got, want)


def test_layout_and_last_store():
    x = at.dvector("x")
    total, _ = ag.reduce(lambda v, a: a + v, x, at.constant(0.0))
    lay = Layout(total.owner.op)
    assert [s.store for s in lay.states] == ["last"]
    assert total.ndim == 0
    assert total.owner.outputs[-1].dtype == "int64"  # steps executed


def test_run_time_errors_name_scan():
    x, n = at.dvector("x"), at.lscalar("n")
    ys, _ = ag.scan(lambda a, b: a + b, sequences=dict(input=x, taps=[-1, 0]), n_steps=n)
    f = ag.function([x, n], ys, target="py")
    np.testing.assert_allclose(f([1.0, 2.0, 4.0], 5), [3.0, 6.0])
    with pytest.raises(ValueError, match="scan: the number of steps must be >= 0"):
        f(np.zeros(0), 5)
    assert f([1.0], 5).shape == (0,)
    x0 = at.dvector("x0")
    grow, _ = ag.scan(lambda h: at.concatenate([h, h]), outputs_info=x0, n_steps=2)
    with pytest.raises(ValueError, match="state 0 has shape"):
        grow.eval({x0: [1.0]})


def test_mitsot_initial_rows_checked_at_run_time():
    x0 = at.dvector("x0")
    out, _ = ag.scan(lambda a, b: a + b, outputs_info=dict(initial=x0, taps=[-3, -1]), n_steps=2)
    with pytest.raises(ValueError, match="needs 3 initial rows"):
        out.eval({x0: [1.0, 2.0]})


def test_the_pipeline_optimizes_bodies_and_values_stay():
    from aotgraph.fgraph import make_function_graph
    from aotgraph.opt import optimize_graph

    (x, h0, W), hs = rnn_node()
    total, _ = ag.reduce(lambda v, a: a + at.log(1 + at.exp(v)), x.sum(axis=1), at.constant(0.0))
    fg = optimize_graph(make_function_graph("f", [x, h0, W], [hs, total]))
    loops = [n for n in toposort(fg.outputs) if n.op.name == "scan"]
    body = decode_inner(loops[-1].op["inner"])
    names = [n.op.name for n in toposort(list(body.outputs), stop=list(body.inputs))]
    assert "log" not in names and "exp" not in names  # rewritten inside the body
    f = ag.function([x, h0, W], [hs, total], target="py")
    xs, h0v, wv = np.random.default_rng(0).normal(size=(4, 2)), np.ones(2), np.eye(2)
    got_hs, got_total = f(xs, h0v, wv)
    h, want = h0v, []
    for t in range(4):
        h = np.tanh(h @ wv.T * 2.0 + xs[t])
        want.append(h)
    np.testing.assert_allclose(got_hs, want)
    assert got_total == pytest.approx(np.sum(np.log1p(np.exp(xs.sum(axis=1)))))


def test_histories_read_only_at_the_end_keep_only_the_last_value():
    from aotgraph.loops import keep_last_values

    A, k = at.dvector("A"), at.lscalar("k")
    powers, _ = ag.scan(
        lambda prior, A: prior * A, outputs_info=at.ones_like(A), non_sequences=A, n_steps=k
    )
    squares, _ = ag.map(lambda v: v * v, A)
    last_power, last_square, full = keep_last_values([powers[-1], squares[-1], powers])
    assert last_power.owner.op.name == "subtensor"  # its history is also a root: kept
    assert last_square.owner.op.name == "scan"
    assert [s.store for s in Layout(last_square.owner.op).states] == []
    assert list(Layout(last_square.owner.op).nits) == ["last"]
    assert full is powers
    (alone,) = keep_last_values([powers[-1]])
    assert [s.store for s in Layout(alone.owner.op).states] == ["last"]
    f = ag.function([A, k], [alone, last_square], target="py", optimize=False)
    a = np.array([1.0, 2.0, -3.0])
    got_power, got_square = f(a, 4)
    np.testing.assert_allclose(got_power, a**4)
    assert got_square == 9.0
