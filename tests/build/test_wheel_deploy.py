"""The downstream package: built into a wheel by the setuptools hook, twice
(pip wheel, python -m build) with the same SOURCE_DATE_EPOCH, then installed
in a fresh venv without aotgraph and run with no compiler on PATH."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, "examples", "downstream_pkg")

pytestmark = pytest.mark.skipif(
    os.environ.get("AOTGRAPH_SKIP_WHEEL_TESTS") == "1", reason="AOTGRAPH_SKIP_WHEEL_TESTS=1"
)


def run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode:
        raise AssertionError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
        )
    return proc


def fresh_copy(tmp, name):
    dst = tmp / name
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("build", "*.egg-info", "dist"))
    return dst


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """The aotgraph wheel, then the downstream wheel built twice, two ways."""
    tmp = tmp_path_factory.mktemp("wheels")
    links = tmp / "links"
    # Build aotgraph from a copy: setuptools leaves build/ in the source tree,
    # and stale files there would leak into later wheels.
    repo_copy = tmp / "aotgraph_src"
    junk = shutil.ignore_patterns("*.egg-info", "__pycache__", ".hypothesis")

    def ignore(directory, names):
        top = {".git", "build", ".tox", "examples"} if directory == REPO else set()
        return set(junk(directory, names)) | (top & set(names))

    shutil.copytree(REPO, repo_copy, ignore=ignore)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(repo_copy), "-w", str(links)])
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000", PIP_FIND_LINKS=str(links))
    built = []
    for i, how in enumerate(("pip", "build")):
        src = fresh_copy(tmp, f"src{i}")
        out = tmp / f"out{i}"
        env_i = dict(env, AOTGRAPH_CACHE=str(tmp / f"cache{i}"))
        if how == "pip":
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                str(src),
                "-w",
                str(out),
            ]
        else:
            cmd = [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(src)]
        run(cmd, env=env_i)
        (whl,) = out.glob("digitpkg-*.whl")
        built.append(whl)
    return built


def test_wheel_is_reproducible_across_build_tools(wheels):
    a, b = (hashlib.sha256(w.read_bytes()).hexdigest() for w in wheels)
    assert a == b, "pip wheel and python -m build gave different wheels"


def test_wheel_holds_the_compiled_module_and_declares_only_runtime_deps(wheels):
    with zipfile.ZipFile(wheels[0]) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert any(n.startswith("digitpkg/model/") and n.endswith(".so") for n in names)
    assert not any(n.endswith("model_spec.py") or n.endswith("weights.npz") for n in names)
    requires = sorted(
        line.split(":", 1)[1].strip().split(">")[0].split("=")[0].strip()
        for line in meta.splitlines()
        if line.startswith("Requires-Dist:")
    )
    assert requires == ["cffi", "numpy"]
    assert "abi3" in wheels[0].name


def _oracle(images):
    weights = np.load(os.path.join(EXAMPLE, "specs", "weights.npz"))
    z = (images.reshape(-1, 64) / 16.0).astype(np.float32) @ weights["w"] + weights["b"]
    return z.argmax(axis=1)


def test_wheel_runs_without_aotgraph_or_compiler(wheels, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    run([str(py), "-m", "pip", "install", "-q", str(wheels[0])])
    rng = np.random.default_rng(1)
    images = rng.integers(0, 17, size=(50, 64)).astype(np.float64)
    np.save(tmp_path / "images.npy", images)
    script = (
        "import importlib.util, sys, numpy as np\n"
        "assert importlib.util.find_spec('aotgraph') is None, 'aotgraph is installed'\n"
        "import digitpkg\n"
        f"x = np.load({str(tmp_path / 'images.npy')!r})\n"
        "print(' '.join(map(str, digitpkg.classify(x))))\n"
    )
    env = {"PATH": str(venv / "bin"), "CC": "false", "HOME": str(tmp_path)}
    proc = run([str(py), "-c", script], env=env, cwd=str(tmp_path))
    got = np.array([int(v) for v in proc.stdout.split()])
    np.testing.assert_array_equal(got, _oracle(images))
    assert (
        shutil.which("gcc", path=env["PATH"]) is None
        and shutil.which("cc", path=env["PATH"]) is None
    )
