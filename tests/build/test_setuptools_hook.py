"""The setup.py keyword ``aotgraph_modules`` and the hook's error messages."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SPEC = """
import aotgraph as ag, aotgraph.tensor as at
x = at.dvector("x")
mod = ag.Module({name!r})
mod.function("affine", [x], 3 * x + 1)
"""


def make_project(tmp_path, spec_text, module_name="pkg.fast", pyproject=None):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "spec.py").write_text(spec_text.format(name=module_name))
    setup = """
        from setuptools import setup
        setup(name="pkg", version="0.1", packages=["pkg"], aotgraph_modules=["spec.py"])
    """
    if pyproject is None:
        (tmp_path / "setup.py").write_text(textwrap.dedent(setup))
    else:
        (tmp_path / "pyproject.toml").write_text(pyproject)
        (tmp_path / "setup.py").write_text(
            'from setuptools import setup\nsetup(name="pkg", version="0.1", packages=["pkg"])\n'
        )
    return tmp_path


def build_ext(project, env_extra=None):
    env = dict(os.environ, AOTGRAPH_CACHE=str(project / "cache"), **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--build-lib", "out"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
    )


def test_setup_keyword_builds_an_importable_module(tmp_path):
    project = make_project(tmp_path, SPEC)
    proc = build_ext(project)
    assert proc.returncode == 0, proc.stderr
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pkg.fast as m, numpy as np; print(m.affine(np.array([1.0, 2.0])))",
        ],
        cwd=project / "out",
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(project / "out")),
    )
    assert check.returncode == 0, check.stderr
    np.testing.assert_allclose(np.array(check.stdout.strip("[]\n").split(), float), [4.0, 7.0])


def test_pyproject_table_is_read(tmp_path):
    project = make_project(tmp_path, SPEC, pyproject='[tool.aotgraph]\nmodules = ["spec.py"]\n')
    proc = build_ext(project)
    assert proc.returncode == 0, proc.stderr
    assert list((project / "out" / "pkg" / "fast").glob("*.so"))


@pytest.mark.parametrize(
    "case, spec, module_name, env, expected",
    [
        ("no module", "x = 1\n", "pkg.fast", {}, "defines no module"),
        ("outside package", SPEC, "other.fast", {}, "not inside one of the project's packages"),
        ("no compiler", SPEC, "pkg.fast", {"CC": "/nonexistent/cc"}, "set CC"),
    ],
)
def test_errors_say_how_to_fix(tmp_path, case, spec, module_name, env, expected):
    project = make_project(tmp_path, spec, module_name)
    proc = build_ext(project, env)
    assert proc.returncode != 0, case
    assert "aotgraph:" in proc.stderr and expected in proc.stderr, proc.stderr[-2000:]


def test_missing_spec_file_is_named(tmp_path):
    project = make_project(
        tmp_path, SPEC, pyproject='[tool.aotgraph]\nmodules = ["missing_spec.py"]\n'
    )
    proc = build_ext(project)
    assert proc.returncode != 0
    assert "missing_spec.py" in proc.stderr and "does not exist" in proc.stderr


def test_projects_without_aotgraph_are_untouched(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "__init__.py").write_text("")
    (tmp_path / "setup.py").write_text(
        'from setuptools import setup\nsetup(name="plain", version="0.1", packages=["plain"])\n'
    )
    proc = subprocess.run(
        [sys.executable, "setup.py", "-q", "build", "--build-lib", "out"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert not list((tmp_path / "out").rglob("*.so"))
