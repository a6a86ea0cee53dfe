"""CLI polish: help and exit codes, stage progress on terminals only,
``-v`` compiler commands, short errors with hints, ``cache info|clear``."""

from __future__ import annotations

import io
import os
import pathlib
import pty
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from aotgraph.build.cache import BuildCache, cache_info, clear_cache, format_size
from aotgraph.cli import main, show_progress

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = textwrap.dedent(
    """
    import aotgraph as ag
    import aotgraph.tensor as at

    x = at.dvector("x")
    mod = ag.Module("agb_polish.demo")
    mod.function("double", [x], x * 2.0)
    """
)
BAD_SHAPES = textwrap.dedent(
    """
    import aotgraph as ag
    import aotgraph.tensor as at

    x = at.tensor("float64", shape=(3,), name="x")
    y = at.tensor("float64", shape=(4,), name="y")
    z = x + y
    """
)
STAGES = ("optimize", "emit", "compile")


def _env(cache, **extra):
    env = dict(os.environ, PYTHONPATH=ROOT, AOTGRAPH_CACHE=cache)
    env.pop("CI", None)
    env.update(extra)
    return env


def _compile_cmd(spec, out, *flags):
    return [
        sys.executable,
        "-m",
        "aotgraph",
        "compile",
        str(spec),
        "-o",
        str(out),
        "--blas",
        "none",
        *flags,
    ]


def _disk_usage(root) -> int:
    return sum(p.lstat().st_size for p in pathlib.Path(root).rglob("*") if p.is_file())


# --- help and exit codes ----------------------------------------------------


def test_help_lists_commands_and_exit_codes(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("compile", "inspect", "info", "cache"):
        assert f"    {command} " in text
    assert "exit status" in text and "0  success" in text and "2  bad command line" in text


def test_cache_help_lists_its_actions(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["cache", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "info" in text and "clear" in text


def test_cache_without_action_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["cache"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["cache", "purge"])
    assert exc.value.code == 2


# --- user errors ------------------------------------------------------------


def test_shape_error_names_the_spec_line_and_hints(tmp_path, capsys):
    spec = tmp_path / "bad.py"
    spec.write_text(BAD_SHAPES)
    line = BAD_SHAPES.splitlines().index("z = x + y") + 1
    assert main(["compile", str(spec), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"{spec}:{line}" in err
    assert "hint:" in err and "shape" in err.split("hint:")[1]


def test_missing_input_hint(tmp_path, capsys):
    spec = tmp_path / "missing.py"
    spec.write_text(
        "import aotgraph as ag\nimport aotgraph.tensor as at\n"
        "x = at.dvector('x')\ny = at.dvector('y')\n"
        "mod = ag.Module('agb_polish.missing')\nmod.function('f', [x], x + y)\n"
    )
    assert main(["compile", str(spec), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"{spec}:4" in err  # where y was created
    assert "givens" in err.split("hint:")[1]


def test_debug_shows_the_traceback(tmp_path):
    spec = tmp_path / "bad.py"
    spec.write_text(BAD_SHAPES)
    proc = subprocess.run(
        [sys.executable, "-m", "aotgraph", "--debug", "compile", str(spec), "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        env=_env(str(tmp_path / "c")),
        timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ShapeError" in proc.stderr


# --- progress and -v --------------------------------------------------------


def test_show_progress_only_on_terminals_outside_ci():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert show_progress(Tty(), {}) is True
    assert show_progress(Tty(), {"CI": "true"}) is False
    assert show_progress(io.StringIO(), {}) is False


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("polish") / "spec.py"
    path.write_text(SPEC)
    return path


def test_build_is_quiet_when_not_a_terminal(spec_file, tmp_path, build_cache):
    proc = subprocess.run(
        _compile_cmd(spec_file, tmp_path),
        capture_output=True,
        text=True,
        env=_env(build_cache),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip().splitlines() == [f"built {tmp_path / 'agb_polish' / 'demo'}"]


def _run_with_tty_stderr(cmd, env):
    """Run ``cmd`` with standard error on a pseudo-terminal; (rc, stdout, stderr)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # EIO: the child closed its side
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read().decode()
    proc.wait(timeout=300)
    os.close(leader)
    return proc.returncode, out, b"".join(chunks).decode(errors="replace")


def test_build_reports_stages_on_a_terminal(spec_file, tmp_path):
    cache = tmp_path / "cache"  # a fresh cache: the compile stage really runs
    rc, out, err = _run_with_tty_stderr(_compile_cmd(spec_file, tmp_path / "o"), _env(str(cache)))
    assert rc == 0, err
    lines = [line for line in err.splitlines() if line.startswith("aotgraph: agb_polish.demo: ")]
    stages = [line.split(": ", 2)[2] for line in lines]
    assert [s.split()[0] for s in stages] == list(STAGES)
    n_units = len([f for f in os.listdir(_only_entry(cache)) if f.endswith(".c")])
    assert f"compile {n_units} translation units in parallel" in stages[2]
    # CI keeps even a terminal quiet
    rc, out, err = _run_with_tty_stderr(
        _compile_cmd(spec_file, tmp_path / "o"), _env(str(cache), CI="1")
    )
    assert rc == 0 and "optimize" not in err


def _only_entry(cache):
    entries = os.listdir(os.path.join(cache, "entries"))
    assert len(entries) == 1
    return os.path.join(cache, "entries", entries[0])


def test_verbose_prints_the_compiler_commands(spec_file, tmp_path):
    cache = str(tmp_path / "cache")
    proc = subprocess.run(
        _compile_cmd(spec_file, tmp_path / "o", "-v"),
        capture_output=True,
        text=True,
        env=_env(cache),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    commands = [line for line in proc.stdout.splitlines() if " -c " in line]
    n_units = len([f for f in os.listdir(_only_entry(cache)) if f.endswith(".c")])
    assert len(commands) == n_units >= 2  # one compiler run per translation unit
    assert any(" -shared " in line for line in proc.stdout.splitlines())
    assert "optimize" in proc.stderr  # -v shows the stages even off a terminal


# --- cache info / clear -----------------------------------------------------


def _fake_entry(root, key, size):
    cache = BuildCache(str(root))
    path = cache.entry_path(key)
    os.makedirs(path)
    with open(os.path.join(path, "blob.bin"), "wb") as f:
        f.write(b"\0" * size)
    return path


def test_cache_info_counts_entries_and_bytes(tmp_path, capsys, monkeypatch):
    root = tmp_path / "cache"
    for k, size in enumerate((1000, 2500, 7)):
        _fake_entry(root, f"key{k}", size)
    info = cache_info(str(root))
    assert info["location"] == str(root)
    assert info["entries"] == 3
    assert info["total_bytes"] == _disk_usage(root) == 3507
    monkeypatch.setenv("AOTGRAPH_CACHE", str(root))
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert f"location: {root}" in out and "entries: 3" in out and "(3507 bytes)" in out


def test_cache_clear_removes_entries(tmp_path, capsys, monkeypatch):
    root = tmp_path / "cache"
    for k in range(4):
        _fake_entry(root, f"key{k}", 10)
    monkeypatch.setenv("AOTGRAPH_CACHE", str(root))
    assert main(["cache", "clear"]) == 0
    assert "removed 4 entries" in capsys.readouterr().out
    assert os.listdir(root / "entries") == []
    assert cache_info(str(root))["entries"] == 0


def test_cache_clear_waits_for_a_build_holding_the_lock(tmp_path):
    root = tmp_path / "cache"
    path = _fake_entry(root, "busy", 10)
    cache = BuildCache(str(root))
    holding, finished = threading.Event(), []

    def build():
        with cache.lock("busy"):
            holding.set()
            time.sleep(0.5)
            with open(os.path.join(path, "late.bin"), "wb") as f:
                f.write(b"x")  # the build writes until it lets go
            finished.append(time.monotonic())

    worker = threading.Thread(target=build)
    worker.start()
    holding.wait(5)
    result = clear_cache(str(root))
    cleared = time.monotonic()
    worker.join()
    assert result == {"removed": 1, "busy": 0}
    assert finished and cleared >= finished[0]
    assert not os.path.exists(path)


def test_cache_clear_then_rebuild_works(spec_file, tmp_path):
    cache = str(tmp_path / "cache")
    for _ in range(2):
        proc = subprocess.run(
            _compile_cmd(spec_file, tmp_path / "o"),
            capture_output=True,
            text=True,
            env=_env(cache),
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        assert cache_info(cache)["entries"] == 1
        assert clear_cache(cache) == {"removed": 1, "busy": 0}
        assert cache_info(cache)["entries"] == 0


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
    ],
)
def test_format_size(n, text):
    assert format_size(n) == text


# --- debug builds: --nan-guard, --profile -------------------------------------

DEBUG_SPEC = textwrap.dedent(
    """
    import aotgraph as ag
    import aotgraph.tensor as at

    x = at.dvector("x")
    y = at.log(x) * 3.0
    mod = ag.Module("agb_polish.dbg")
    mod.function("f", [x], [y, y.sum()])
    """
)
DEBUG_CHECK = textwrap.dedent(
    """
    import sys, numpy as np
    import agb_polish.dbg as m
    a = np.array([1.0, 2.0, 5.0])
    out = m.f(a)
    assert np.allclose(out[0], np.log(a) * 3.0) and np.isclose(out[1], (np.log(a) * 3.0).sum())
    try:
        m.f(np.array([1.0, -2.0]))
    except ValueError as exc:
        print("ERROR", exc)
    report = m.profile_report(file="str")
    print(report)
    """
)


def test_debug_build_flags(tmp_path):
    spec = tmp_path / "dbg.py"
    spec.write_text(DEBUG_SPEC)
    line = DEBUG_SPEC.splitlines().index("y = at.log(x) * 3.0") + 1
    cache, out = str(tmp_path / "cache"), tmp_path / "out"
    proc = subprocess.run(
        _compile_cmd(spec, out, "--nan-guard", "--profile"),
        capture_output=True,
        text=True,
        env=_env(cache),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run(
        [sys.executable, "-c", DEBUG_CHECK],
        capture_output=True,
        text=True,
        cwd=out,
        env=dict(os.environ, PYTHONPATH=str(out)),
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    error = next(x for x in run.stdout.splitlines() if x.startswith("ERROR"))
    assert "nan_guard" in error and "NaN" in error and f"{spec}:{line}" in error
    rows = [r.split() for r in run.stdout.split("ERROR")[1].splitlines()[3:] if r.strip()]
    # the log node ran in both calls (the second failed after it), the sum once
    assert {r[0]: r[1] for r in rows} == {"fused_elementwise{log,mul}": "2", "sum": "1"}
    assert abs(sum(float(r[-1]) for r in rows) - 100.0) < 0.5
    # a normal build of the same spec carries no path and no profile API
    normal = tmp_path / "normal"
    proc = subprocess.run(
        _compile_cmd(spec, normal), capture_output=True, text=True, env=_env(cache), timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    for entry in os.listdir(os.path.join(cache, "entries")):
        sources = pathlib.Path(cache, "entries", entry)
        text = "".join(p.read_text(errors="replace") for p in sources.glob("*.c"))
        assert (str(spec) in text) == ("agf_f_profile" in text)
    init = (normal / "agb_polish" / "dbg" / "__init__.py").read_text()
    assert "profile_report" not in init


# --- inspect through the CLI ----------------------------------------------------


def test_inspect_errors_exit_1_with_the_spec_line(tmp_path, capsys):
    spec = tmp_path / "broken.py"
    spec.write_text("import aotgraph\n\nx = undefined_name + 1\n")
    assert main(["inspect", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{spec}:3" in err and "NameError" in err
    bad = tmp_path / "bad.py"
    bad.write_text(BAD_SHAPES)
    assert main(["inspect", str(bad)]) == 1
    assert f"{bad}:7" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "nope.py")]) == 1


def test_inspect_debug_raises_and_usage_exits_2(tmp_path):
    spec = tmp_path / "broken.py"
    spec.write_text("x = undefined_name + 1\n")
    with pytest.raises(NameError):
        main(["--debug", "inspect", str(spec)])
    with pytest.raises(NameError):
        main(["inspect", str(spec), "--debug"])
    with pytest.raises(SystemExit) as exc:
        main(["inspect", "--bogus", str(spec)])
    assert exc.value.code == 2


def test_broken_pipe_is_quiet(tmp_path, monkeypatch, capsys):
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    sink = open(tmp_path / "sink", "w")
    fake = ClosedPipe()
    fake.fileno = sink.fileno
    monkeypatch.setenv("AOTGRAPH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "stdout", fake)
    assert main(["cache", "info"]) == 0  # the reader went away: no error, no message
    sink.close()
    assert capsys.readouterr().err == ""


def test_debug_flags_need_a_package(tmp_path, capsys):
    spec = tmp_path / "dbg.py"
    spec.write_text(DEBUG_SPEC)
    argv = ["compile", str(spec), "-o", str(tmp_path), "--emit", "c-lib", "--profile"]
    assert main(argv) == 1
    assert "--emit c-lib" in capsys.readouterr().err
