"""Backends the scan tests run on: the reference interpreter (``"py"``)
and, when the build path and the scan C emitter are importable (and
``AOTGRAPH_TEST_CPU`` is not ``0``), the compiled ``"cpu"`` target."""

import importlib.util
import os


def _cpu_available():
    if os.environ.get("AOTGRAPH_TEST_CPU", "1") == "0":
        return False
    try:
        return all(importlib.util.find_spec(m) is not None
                   for m in ("aotgraph.build", "aotgraph.emit.c_scan", "cffi"))
    except ImportError:
        return False


TARGETS = ["py"] + (["cpu"] if _cpu_available() else [])
