"""Train the sine-wave RNN of ``spec.py`` and report its error.

    python examples/rnn/run.py [--steps N] [--target cpu|py]

``--target cpu`` (the default) compiles the spec's functions in-process
(cached); ``--target py`` runs them on the reference interpreter, which
follows the same loss trajectory about 40 times slower.
"""

import argparse
import importlib.util
import os
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def load_spec():
    spec = importlib.util.spec_from_file_location("rnn_spec", os.path.join(HERE, "spec.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def batch(rng, n, length=20):
    """Sine waves of random phase and frequency: inputs and next values."""
    phase = rng.uniform(0, 2 * np.pi, size=(1, n, 1))
    freq = rng.uniform(0.2, 0.4, size=(1, n, 1))
    t = np.arange(length + 1).reshape(-1, 1, 1)
    wave = np.sin(freq * t + phase).astype("float32")
    return wave[:-1], wave[1:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--target", default="cpu", choices=["cpu", "py"])
    args = parser.parse_args(argv)
    import aotgraph as ag

    spec = load_spec()
    fns = {
        name: ag.function(fg.inputs, fg.outputs[0], updates=fg.updates, target=args.target)
        for name, fg in spec.mod.functions.items()
    }
    rng = np.random.default_rng(1)
    test_x, test_y = batch(rng, 16)
    baseline = float(np.mean((test_x - test_y) ** 2))  # "next value = current value"
    start = time.perf_counter()
    for i in range(args.steps):
        loss = fns["train_step"](*batch(rng, 8), np.float32(0.1))
        if i % 25 == 0:
            print(f"step {i:4d}: train mse {float(loss):.4f}")
    test_mse = float(np.mean((fns["predict"](test_x) - test_y) ** 2))
    print(
        f"{args.steps} steps in {time.perf_counter() - start:.1f} s; test mse {test_mse:.4f} "
        f"(copying the input: {baseline:.4f})"
    )
    return test_mse, baseline


if __name__ == "__main__":
    main()
