"""Which backends the gradient tests run on.

Today every grad test runs on the reference interpreter (``"py"``);
:func:`grad_targets` adds the compiled ``"cpu"`` target once
``aotgraph.build`` exists (unless ``AOTGRAPH_TEST_CPU=0``), so the tests can
be parametrized over it by switching ``TEST_TARGETS`` to ``grad_targets()``.
"""

import importlib
import os

import pytest


def cpu_available():
    """Whether ``aotgraph.build`` (the compiled targets) imports here."""
    if os.environ.get("AOTGRAPH_TEST_CPU", "1") == "0":
        return False
    try:
        importlib.import_module("aotgraph.build")
    except ImportError:
        return False
    return True


def grad_targets():
    return ["py"] + (["cpu"] if cpu_available() else [])


#: the targets the grad tests are parametrized over today
TEST_TARGETS = ["py"]


@pytest.fixture
def targets():
    """Every target the gradient tests can run on in this environment."""
    return grad_targets()
