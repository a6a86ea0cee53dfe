"""Smoke tests of the examples at small sizes, checked against numpy.

Each example is run through its own ``run.py`` (as a user would), building
into a temporary directory through the shared build cache; numbers are
compared with numpy computations written here, not with the examples' own
output.
"""

import importlib.util
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytest.importorskip("sklearn", reason="the examples use scikit-learn's bundled digits")


def load_runner(example):
    path = os.path.join(ROOT, "examples", example, "run.py")
    spec = importlib.util.spec_from_file_location(f"example_{example}_run", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def clean_path(monkeypatch):
    """Restores sys.path and PYTHONPATH after an example changed them."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_logreg_trains_and_deploys(tmp_path, clean_path):
    run = load_runner("logreg")
    result = run.main(["--out", str(tmp_path), "--epochs", "2"])
    assert result["accuracy"] > 0.85
    with np.load(result["weights"]) as w:
        expected = (result["x_test"] @ w["W"] + w["b"]).argmax(axis=1)
    assert np.mean(result["labels"] == expected) > 0.99  # ties may break differently


def test_logreg_train_step_is_one_sgd_step(tmp_path, clean_path):
    run = load_runner("logreg")
    run.compile_module(str(tmp_path))
    sys.path.insert(0, str(tmp_path))
    model = importlib.import_module("logreg_digits")
    rng = np.random.default_rng(0)
    W0 = rng.normal(scale=0.1, size=(64, 10)).astype("float32")
    b0 = rng.normal(scale=0.1, size=10).astype("float32")
    model.shared["W"].set_value(W0)
    model.shared["b"].set_value(b0)
    x = rng.random((16, 64)).astype("float32")
    y = rng.integers(0, 10, size=16)
    cost = model.train_step(x, y, np.float32(0.1))
    # numpy oracle: cross-entropy + L2 and its analytic gradient
    p = softmax(x.astype("float64") @ W0 + b0)
    onehot = np.eye(10)[y]
    expected = -np.log(p[np.arange(16), y]).mean() + 1e-4 * (W0.astype("float64") ** 2).sum()
    np.testing.assert_allclose(cost, expected, rtol=1e-5)
    g_logits = (p - onehot) / 16
    np.testing.assert_allclose(
        model.shared["W"].get_value(), W0 - 0.1 * (x.T @ g_logits + 2e-4 * W0), rtol=1e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        model.shared["b"].get_value(), b0 - 0.1 * g_logits.sum(0), rtol=1e-4, atol=1e-6
    )


DEPLOY_MLP = """
import json, sys
import numpy as np
import mlp_digits
mlp_digits.save(sys.argv[1])
x = np.random.default_rng(0).random((5, 64)).astype("float32")
print(json.dumps({"x": x.tolist(), "p": mlp_digits.predict(x).tolist()}))
"""


def test_mlp_trains_then_runs_deployed(tmp_path, clean_path):
    run = load_runner("mlp")
    accuracy = run.main(["--out", str(tmp_path), "--epochs", "2"])
    assert accuracy > 0.8
    weights = tmp_path / "w.npz"
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", DEPLOY_MLP, str(weights)],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    got = json.loads(out.stdout)
    x = np.array(got["x"])
    with np.load(weights) as w:
        hidden = np.maximum(x @ w["W1"] + w["b1"], 0)
        expected = softmax(hidden @ w["W2"] + w["b2"])
    np.testing.assert_allclose(got["p"], expected, rtol=1e-4, atol=1e-6)


def test_rnn_learns_sine(clean_path):
    run = load_runner("rnn")
    test_mse, baseline = run.main(["--steps", "60", "--target", "cpu"])
    assert np.isfinite(test_mse)
    assert test_mse < baseline


def test_ode_matches_numpy_integration(tmp_path, clean_path):
    run = load_runner("ode")
    sys.path.insert(0, str(tmp_path))
    errors, grad, fd = run.main(["--out", str(tmp_path), "--steps", "120", "--dt", "0.02"])
    ode = importlib.import_module("ode_lv")
    # an independent oracle: the same equations with numpy's explicit Euler
    y = run.Y0.copy()
    for _ in range(120):
        a, b, c, d = run.THETA
        y = y + 0.02 * np.stack(
            [a * y[:, 0] - b * y[:, 0] * y[:, 1], c * y[:, 0] * y[:, 1] - d * y[:, 1]], axis=1
        )
    np.testing.assert_allclose(ode.euler(run.Y0, run.THETA, 0.02, 120)[-1], y, rtol=1e-12)
    assert errors["rk4"] < 1e-10
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)
    assert ode.rk4(run.Y0, run.THETA, 0.02, 0).shape == (0, 3, 2)


def test_dask_batch_inference(tmp_path, clean_path):
    pytest.importorskip("distributed", reason='needs pip install "dask[distributed]"')
    run = load_runner("dask_inference")
    result = run.main(["--out", str(tmp_path), "--rows", "3000", "--chunk", "1000"])
    model = result["module"]
    W, b = model.shared["W"].get_value(), model.shared["b"].get_value()
    expected = (result["x"].astype("float64") @ W + b).argmax(axis=1)
    assert np.mean(result["labels"] == expected) > 0.999
    np.testing.assert_array_equal(result["mapped"], result["labels"])
    assert pickle.loads(pickle.dumps(model.predict)) is model.predict
    assert len(pickle.dumps(model.predict)) < 200  # by reference, not by value
