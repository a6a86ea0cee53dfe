"""The compatibility guard: build metadata, ISA requirements checked before
the extension loads (a fake /proc/cpuinfo via $AOTGRAPH_CPUINFO), C ABI
mismatches refused with a message saying to rebuild."""

import os
import platform
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import aotgraph as ag
import aotgraph.tensor as at
from aotgraph.build import BuildOptions, build_module, pkg_runtime
from aotgraph.build.compiler import compiler_command
from aotgraph.build.package import c_abi_version
from aotgraph.cli import main

X86 = platform.machine().lower() in ("x86_64", "amd64")
REAL_FLAGS = pkg_runtime.cpu_flags() or set()


def _module(name):
    mod = ag.Module(name)
    x = at.dvector("x")
    w = ag.shared(np.array([1.5, -2.0, 0.25]), name="w")
    mod.function("affine", [x], at.tanh(x * w + 0.5))
    return mod


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    out = tmp_path_factory.mktemp("compat")
    base = build_module(_module("agcompat_base.model"), str(out), BuildOptions(blas="none"))
    native = None
    if X86:
        native = build_module(
            _module("agcompat_native.model"), str(out), BuildOptions(blas="none", native=True)
        )
    return out, base, native


def _import(out, module, cpuinfo=None, extra_env=None):
    """Import ``module`` from ``out`` in a fresh interpreter and call it."""
    script = (
        "import sys, numpy as np\n"
        f"sys.path.insert(0, {str(out)!r})\n"
        "try:\n"
        f"    import {module} as m\n"
        "except ImportError as exc:\n"
        "    print('IMPORTERROR', exc)\n"
        "    print('loaded', sorted(k for k in sys.modules if k.endswith('._model')))\n"
        "    sys.exit(3)\n"
        "print(repr(m.affine(np.array([0.0, 1.0, -1.0])).tolist()))\n"
    )
    env = dict(os.environ, **(extra_env or {}))
    if cpuinfo is not None:
        env["AOTGRAPH_CPUINFO"] = str(cpuinfo)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)


def _expected():
    x = np.array([0.0, 1.0, -1.0])
    return np.tanh(x * np.array([1.5, -2.0, 0.25]) + 0.5)


def _fake_cpuinfo(tmp_path, flags):
    path = tmp_path / "cpuinfo"
    path.write_text(
        "processor\t: 0\nmodel name\t: fake\nflags\t\t: " + " ".join(sorted(flags)) + "\n\n"
    )
    return path


def test_build_info_records_everything(builds):
    _, base, _ = builds
    info = _read_info(base)
    assert info["aotgraph_version"] == ag.__version__
    assert info["c_abi_version"] == c_abi_version() == pkg_runtime.ABI_VERSION
    first_line = subprocess.run(
        compiler_command() + ["--version"], capture_output=True, text=True
    ).stdout.splitlines()[0]
    assert first_line in info["compiler"]
    assert (
        info["flags"] == BuildOptions(blas="none").flags() and "-march=native" not in info["flags"]
    )
    assert re.fullmatch(r"[0-9a-f]{64}", info["hash"])
    expected_arch = "x86-64" if X86 else platform.machine()
    assert info["isa"] == f"{expected_arch} (baseline)" and info["cpu_features"] == []


@pytest.mark.skipif(not X86, reason="-march=native feature lists are probed on x86-64")
def test_native_build_records_the_features_gcc_enables(builds):
    _, _, native = builds
    info = _read_info(native)
    assert "-march=native" in info["flags"]
    probe = subprocess.run(
        ["gcc", "-march=native", "-Q", "--help=target"], capture_output=True, text=True
    )
    enabled = set(re.findall(r"^\s+-m([a-z0-9.]+)\s+\[enabled\]", probe.stdout, re.M))
    for gcc_name, cpuinfo_name in [
        ("avx2", "avx2"),
        ("avx", "avx"),
        ("fma", "fma"),
        ("sse4.2", "sse4_2"),
        ("avx512f", "avx512f"),
    ]:
        assert (cpuinfo_name in info["cpu_features"]) == (gcc_name in enabled), gcc_name
    # the build machine has every feature it recorded
    if REAL_FLAGS:
        assert set(info["cpu_features"]) <= REAL_FLAGS
    assert info["isa"].startswith("x86-64 -march=native: ")


@pytest.mark.skipif(not X86, reason="-march=native feature lists are probed on x86-64")
def test_native_module_on_a_cpu_without_its_features_gives_importerror(builds, tmp_path):
    out, _, native = builds
    required = _read_info(native)["cpu_features"]
    if not required:
        pytest.skip("this compiler's -march=native adds nothing to the baseline")
    drop = [f for f in ("avx2", "fma", "avx512f") if f in required] or required[-1:]
    fake = _fake_cpuinfo(tmp_path, (set(REAL_FLAGS) | set(required)) - set(drop))
    run = _import(out, "agcompat_native.model", fake)
    assert run.returncode == 3, run.stdout + run.stderr
    message = run.stdout
    assert "agcompat_native.model" in message and "lacks" in message
    for feature in drop:
        assert feature in message
    assert "rebuild" in message and "--native" in message
    assert "loaded []" in message  # the extension was never loaded


@pytest.mark.skipif(not X86, reason="-march=native feature lists are probed on x86-64")
def test_native_module_on_a_cpu_with_its_features_runs(builds, tmp_path):
    out, _, native = builds
    required = _read_info(native)["cpu_features"]
    if not set(required) <= REAL_FLAGS:
        pytest.skip("this CPU differs from the one that compiled the module")
    run = _import(out, "agcompat_native.model", _fake_cpuinfo(tmp_path, set(required) | {"fpu"}))
    assert run.returncode == 0, run.stdout + run.stderr
    np.testing.assert_allclose(eval(run.stdout.strip()), _expected(), rtol=1e-12)


def test_baseline_module_loads_on_a_minimal_cpu(builds, tmp_path):
    out, _, _ = builds
    run = _import(out, "agcompat_base.model", _fake_cpuinfo(tmp_path, {"fpu", "sse", "sse2"}))
    assert run.returncode == 0, run.stdout + run.stderr
    np.testing.assert_allclose(eval(run.stdout.strip()), _expected(), rtol=1e-12)


def test_unknown_cpu_features_do_not_block_import(builds, tmp_path):
    out, _, _ = builds
    run = _import(out, "agcompat_base.model", tmp_path / "no-such-cpuinfo")
    assert run.returncode == 0, run.stdout + run.stderr


def _copy_package(out, tmp_path, edit):
    dst = tmp_path / "copy"
    shutil.copytree(out / "agcompat_base", dst / "agcompat_base")
    for name, old, new in edit:
        path = dst / "agcompat_base" / "model" / name
        text = path.read_text()
        assert old in text, (name, old)
        path.write_text(text.replace(old, new, 1))
    return dst


def test_runtime_of_another_abi_refuses_to_load(builds, tmp_path):
    out, _, _ = builds
    dst = _copy_package(
        out, tmp_path, [("_aotgraph_runtime.py", "ABI_VERSION = 1\n", "ABI_VERSION = 2\n")]
    )
    run = _import(dst, "agcompat_base.model")
    assert run.returncode == 3, run.stdout + run.stderr
    assert "C ABI version 1" in run.stdout and "rebuild" in run.stdout
    assert "loaded []" in run.stdout


def test_extension_of_another_abi_refuses_to_load(builds, tmp_path):
    out, _, _ = builds
    dst = _copy_package(
        out,
        tmp_path,
        [
            ("_aotgraph_runtime.py", "ABI_VERSION = 1\n", "ABI_VERSION = 9\n"),
            ("__init__.py", "'c_abi_version': 1,", "'c_abi_version': 9,"),
        ],
    )
    run = _import(dst, "agcompat_base.model")
    assert run.returncode == 3, run.stdout + run.stderr
    assert "extension has C ABI version 1" in run.stdout and "rebuild" in run.stdout


def test_info_prints_isa_and_compatibility(builds, capsys, tmp_path, monkeypatch):
    _, base, native = builds
    assert main(["info", base]) == 0
    text = capsys.readouterr().out
    assert "target ISA: " + ("x86-64" if X86 else platform.machine()) + " (baseline)" in text
    assert f"C ABI {pkg_runtime.ABI_VERSION}" in text and "content hash " in text
    if native is None:
        return
    monkeypatch.setenv("AOTGRAPH_CPUINFO", str(_fake_cpuinfo(tmp_path, {"fpu", "sse2"})))
    assert main(["info", native]) == 0
    text = capsys.readouterr().out
    assert "target ISA: x86-64 -march=native" in text
    assert "this CPU LACKS" in text and "ssse3" in text.split("LACKS", 1)[1]


def _read_info(pkg_dir):
    from aotgraph.cli import _read_tables

    return _read_tables(os.path.join(pkg_dir, "__init__.py"))[0]
