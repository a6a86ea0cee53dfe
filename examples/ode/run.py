"""Build the Lotka-Volterra simulator of ``spec.py`` and check it against numpy.

    python examples/ode/run.py [--out DIR] [--steps N] [--dt DT]

Prints the largest difference between the compiled Euler / RK4 trajectories
and a plain numpy integration of the same equations, and the compiled
gradient of the final prey population next to central finite differences.
"""

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
THETA = np.array([1.1, 0.4, 0.1, 0.4])  # a, b, c, d
Y0 = np.array([[10.0, 5.0], [4.0, 2.0], [7.0, 1.0]])  # (batch, 2): prey, predators


def numpy_field(y, theta):
    a, b, c, d = theta
    prey, pred = y[:, 0], y[:, 1]
    return np.stack([a * prey - b * prey * pred, c * prey * pred - d * pred], axis=1)


def numpy_integrate(y, theta, dt, n_steps, method):
    """The reference: the same schemes written with numpy, one step at a time."""
    path = []
    for _ in range(n_steps):
        if method == "euler":
            y = y + dt * numpy_field(y, theta)
        else:
            k1 = numpy_field(y, theta)
            k2 = numpy_field(y + dt / 2 * k1, theta)
            k3 = numpy_field(y + dt / 2 * k2, theta)
            k4 = numpy_field(y + dt * k3, theta)
            y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        path.append(y)
    return np.array(path).reshape(n_steps, *y.shape)


def build(out_dir):
    """Compile the spec into ``out_dir``; returns the seconds it took."""
    start = time.perf_counter()
    cmd = [
        sys.executable,
        "-m",
        "aotgraph",
        "compile",
        os.path.join(HERE, "spec.py"),
        "-o",
        out_dir,
    ]
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def finite_difference(f, theta, eps=1e-6):
    grad = np.zeros_like(theta)
    for i in range(len(theta)):
        e = np.zeros_like(theta)
        e[i] = eps
        grad[i] = (f(theta + e) - f(theta - e)) / (2 * eps)
    return grad


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="where to build (default: a temporary directory)")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--dt", type=float, default=0.01)
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="aotgraph-ode-")
    print(f"built in {build(out):.1f} s into {out}")
    sys.path.insert(0, out)
    ode = importlib.import_module("ode_lv")
    errors = {}
    for method in ("euler", "rk4"):
        start = time.perf_counter()
        path = getattr(ode, method)(Y0, THETA, args.dt, args.steps)
        took = time.perf_counter() - start
        errors[method] = float(
            np.abs(path - numpy_integrate(Y0, THETA, args.dt, args.steps, method)).max()
        )
        print(
            f"{method}: {args.steps} steps in {took * 1e3:.2f} ms, max |compiled - numpy| = "
            f"{errors[method]:.2e}"
        )
    prey, grad = ode.prey_sensitivity(Y0, THETA, args.dt, args.steps)
    fd = finite_difference(
        lambda th: numpy_integrate(Y0, th, args.dt, args.steps, "rk4")[-1, :, 0].mean(), THETA
    )
    print(
        f"mean final prey {float(prey):.4f}; d/dtheta compiled {np.round(grad, 4)}, "
        f"finite differences {np.round(fd, 4)}"
    )
    return errors, grad, fd


if __name__ == "__main__":
    main()
