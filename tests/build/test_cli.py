"""``python -m aotgraph``: compile, info, inspect dispatch, and user errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from aotgraph.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = textwrap.dedent(
    """
    import numpy as np
    import aotgraph as ag
    import aotgraph.tensor as at

    w = ag.shared(np.array([1.0, 2.0, 3.0]), name="w")
    x = at.dvector("x")
    mod = ag.Module("agb_cli.demo")
    mod.function("weighted", [x], x * w)
    mod.function("grow", [], w + 0.0, updates={w: w * 2.0})
    """
)


@pytest.fixture(scope="module")
def built(tmp_path_factory, build_cache):
    root = tmp_path_factory.mktemp("cli")
    spec = root / "spec.py"
    spec.write_text(SPEC)
    out = root / "out"
    env = dict(os.environ, PYTHONPATH=ROOT, AOTGRAPH_CACHE=build_cache)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "aotgraph",
            "compile",
            str(spec),
            "-o",
            str(out),
            "-v",
            "--blas",
            "none",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return root, out, proc


def test_compile_builds_an_importable_package(built):
    root, out, proc = built
    assert proc.returncode == 0, proc.stderr
    assert f"built {out / 'agb_cli' / 'demo'}" in proc.stdout
    assert "-O3" in proc.stdout and "-DAG_BLAS_NONE" in proc.stdout  # -v shows the command
    script = textwrap.dedent(
        """
        import sys, numpy as np
        sys.path.insert(0, sys.argv[1])
        import agb_cli.demo as m
        print(m.weighted(np.ones(3)).tolist(), m.grow().tolist(), m.shared["w"].get_value().tolist())
        """
    )
    run = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [
        "[1.0,",
        "2.0,",
        "3.0]",
        "[1.0,",
        "2.0,",
        "3.0]",
        "[2.0,",
        "4.0,",
        "6.0]",
    ]


@pytest.mark.parametrize("which", ["dir", "so"])
def test_info_prints_build_info(built, capsys, which):
    _, out, _ = built
    pkg = out / "agb_cli" / "demo"
    target = pkg if which == "dir" else next(p for p in pkg.iterdir() if p.suffix == ".so")
    assert main(["info", str(target)]) == 0
    text = capsys.readouterr().out
    info = json.loads(text[: text.index("\n}") + 2])
    assert info["module"] == "agb_cli.demo" and info["blas"] == "none"
    assert info["c_abi_version"] == 1 and len(info["hash"]) == 64
    assert "function weighted(x: float64[?])" in text and "shared w: float64[3]" in text


def test_info_on_something_else(tmp_path, capsys):
    assert main(["info", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("aotgraph: error:") and "not a module built by aotgraph" in err


def test_spec_errors_are_short(tmp_path, capsys):
    spec = tmp_path / "broken.py"
    spec.write_text("import aotgraph\n\nx = undefined_name + 1\n")
    assert main(["compile", str(spec), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "line 3" in err and "NameError" in err
    with pytest.raises(NameError):
        main(["compile", str(spec), "--debug"])


def test_empty_and_missing_specs(tmp_path, capsys):
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert main(["compile", str(empty)]) == 1
    assert "defines no module" in capsys.readouterr().err
    assert main(["compile", str(tmp_path / "nope.py")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["compile"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["compile", "spec.py", "--blas", "mkl"])
    assert exc.value.code == 2


def test_unknown_target(tmp_path, capsys):
    spec = tmp_path / "spec.py"
    spec.write_text(SPEC)
    assert main(["compile", str(spec), "--target", "tpu"]) == 1
    assert "--target tpu" in capsys.readouterr().err


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("compile", "info", "inspect"):
        assert command in text


def test_inspect_is_dispatched(capsys):
    try:
        import aotgraph.opt.inspect  # noqa: F401
    except ImportError:
        assert main(["inspect", "x.py"]) == 1
        assert "not available" in capsys.readouterr().err
        return
    with pytest.raises(SystemExit) as exc:
        main(["inspect", "--help"])
    assert exc.value.code == 0
    assert "inspect" in capsys.readouterr().out
