"""One private build cache for the whole tests/build session, and a C
compiler wrapper that counts its compile runs."""

import os
import stat
import sys

import pytest


@pytest.fixture(scope="session", autouse=True)
def build_cache(tmp_path_factory):
    """Every build in tests/build goes to this cache (never the user's)."""
    path = tmp_path_factory.mktemp("aotgraph-cache")
    os.chmod(path, 0o700)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AOTGRAPH_CACHE", str(path))
        yield str(path)


@pytest.fixture()
def counting_cc(tmp_path, monkeypatch):
    """Set CC to a wrapper around gcc that logs each run (--version probes
    aside); returns a function giving the number of builds so far (runs
    that link a shared object)."""
    log = tmp_path / "cc.log"
    wrapper = tmp_path / "counting-cc"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --version "*) ;; *" -shared "*) echo link >> "'
        + str(log)
        + '" ;; *) echo compile >> "'
        + str(log)
        + '.compiles" ;; esac\n'
        'exec gcc "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CC", str(wrapper))

    def lines(path):
        return len(path.read_text().splitlines()) if path.exists() else 0

    def count():
        return lines(log)

    count.total = lambda: lines(log) + lines(tmp_path / "cc.log.compiles")
    return count


@pytest.fixture()
def fresh_import_path():
    """Add directories to sys.path for one test; forget imported packages after."""
    added, before = [], set(sys.modules)

    def add(path):
        sys.path.insert(0, str(path))
        added.append(str(path))

    yield add
    for p in added:
        sys.path.remove(p)
    for name in set(sys.modules) - before:
        if name.startswith("agb_"):
            del sys.modules[name]
