"""The op kernels through the real pipeline (optimizer, IR, scaffold,
build, generated package): model-like functions built into ONE module and
compared with the reference interpreter on the same graphs.  This is where
the optimizer's gemm and fused_elementwise (with reductions) meet the
emitters."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at

RNG = np.random.default_rng(7)


def _specs():
    x = at.matrix("x", dtype="float32")
    labels = at.ivector("labels")
    w = ag.shared(RNG.standard_normal((5, 4)).astype("float32"), name="w")
    b = ag.shared(np.zeros(4, "float32"), name="b")
    hidden = at.tanh(x @ w + b)
    probs = at.nnet.softmax(hidden, axis=-1)
    loss = at.nnet.categorical_crossentropy(probs, labels).mean()
    gw, gb = ag.grad(loss, [w, b])
    d = at.dmatrix("d")
    v = at.lvector("v")
    i = at.lvector("i")
    return {
        "mlp": ([x], [probs, hidden.sum(axis=0)], None),
        "train": ([x, labels], [loss], [(w, w - 0.1 * gw), (b, b - 0.1 * gb)]),
        "stats": (
            [d],
            [
                at.logsumexp(d, axis=1),
                d.mean(axis=0),
                d.var(),
                d.std(axis=1),
                d.argmax(axis=1),
                (d > 0).all(axis=0),
            ],
            None,
        ),
        "indexing": (
            [d, v],
            [d[v], d[1:, ::-1], at.concatenate([d, d * 2], axis=1), at.inc_subtensor(d[:, 0], 1.0)],
            None,
        ),
        "integers": ([i], [i // 3, i % -3, abs(i), i.sum(), at.maximum(i, 2)], None),
        "shapes": (
            [d],
            [
                d.T.reshape((-1,)),
                d.dimshuffle("x", 1, 0),
                at.zeros_like(d) + 1,
                at.eye(3) @ at.ones((3, 2)),
            ],
            None,
        ),
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from aotgraph.build import build_module

    specs = _specs()
    mod = ag.Module("agkerneltest.pipe")
    for name, (ins, outs, updates) in specs.items():
        mod.function(name, ins, outs, updates=updates)
    out_dir = tmp_path_factory.mktemp("pipeline")
    build_module(mod, str(out_dir))
    sys.path.insert(0, str(out_dir))
    try:
        pkg = importlib.import_module("agkerneltest.pipe")
    finally:
        sys.path.remove(str(out_dir))
    reference = {
        name: ag.function(ins, outs, updates=updates, target="py")
        for name, (ins, outs, updates) in specs.items()
    }
    return pkg, reference


def _args(name):
    x = RNG.standard_normal((6, 5)).astype("float32")
    d = RNG.standard_normal((4, 3))
    d[0, 0] = np.nan if name == "stats" else d[0, 0]
    return {
        "mlp": [x],
        "train": [x, RNG.integers(0, 4, 6).astype("int32")],
        "stats": [d],
        "indexing": [d, np.array([0, -1, 2, 2])],
        "integers": [np.array([-7, 7, 0, np.iinfo(np.int64).min, 5])],
        "shapes": [d],
    }[name]


@pytest.mark.parametrize("name", ["mlp", "stats", "indexing", "integers", "shapes"])
def test_built_function_matches_reference(built, name):
    pkg, reference = built
    args = _args(name)
    got = getattr(pkg, name)(*args)
    want = reference[name](*args)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        tol = 2e-5 if g.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def test_training_step_updates_like_reference(built):
    pkg, reference = built
    args = _args("train")
    w0 = pkg.shared["w"].get_value()
    loss = pkg.train(*args)
    want = reference["train"](*args)  # updates the user's shared variables
    np.testing.assert_allclose(loss, want[0], rtol=2e-5)
    ref_w = [v for v in reference["train"].fgraph.shared_inputs() if v.name == "w"][0]
    np.testing.assert_allclose(pkg.shared["w"].get_value(), ref_w.get_value(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(pkg.shared["w"].get_value(), w0)
