"""A private build cache for the fuzz run, fresh output directories, and
the fuzz counts in the terminal summary."""

import itertools
import os
import sys

import pytest


@pytest.fixture(scope="session", autouse=True)
def fuzz_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("aotgraph-cache")
    os.chmod(path, 0o700)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AOTGRAPH_CACHE", str(path))
        yield str(path)


@pytest.fixture(scope="session")
def fuzz_dir(tmp_path_factory):
    """A function giving a new empty directory at each call (hypothesis
    examples cannot use function-scoped fixtures)."""
    counter = itertools.count()
    root = tmp_path_factory.mktemp("fuzz-out")
    return lambda: root / f"b{next(counter)}"


def pytest_terminal_summary(terminalreporter):
    mod = sys.modules.get("test_differential")
    if mod is not None and mod.COUNTS["graphs"]:
        c = mod.COUNTS
        terminalreporter.write_line(
            f"aotgraph fuzz: {c['graphs']} random graphs in {c['batches']} built modules "
            f"({c['calls']} compiled calls, {c['errors_matched']} matching errors)"
        )
