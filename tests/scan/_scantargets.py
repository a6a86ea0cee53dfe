"""Backends the scan tests run on.

``CPU_AVAILABLE``: the build path and the scan C emitter are importable (and
``AOTGRAPH_TEST_CPU`` is not ``0``); ``test_scan_compiled.py`` then builds
one module holding its cases.  ``TARGETS`` parametrizes the other files:
the reference interpreter, plus the compiled target when
``AOTGRAPH_SCAN_ALL_TARGETS=1`` (every case is then its own build, which is
slow with a cold cache).
"""

import importlib.util
import os


def _cpu_available():
    if os.environ.get("AOTGRAPH_TEST_CPU", "1") == "0":
        return False
    try:
        return all(
            importlib.util.find_spec(m) is not None
            for m in ("aotgraph.build", "aotgraph.emit.c_scan", "cffi")
        )
    except ImportError:
        return False


CPU_AVAILABLE = _cpu_available()
TARGETS = ["py"] + (
    ["cpu"] if CPU_AVAILABLE and os.environ.get("AOTGRAPH_SCAN_ALL_TARGETS") == "1" else []
)
