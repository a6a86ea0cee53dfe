"""Every registered op has a reference implementation, a shape rule and a
gradient (or an explicit reason why it has none), so nothing is silently
skipped.  (Emitter completeness is checked by the emitter tests.)"""

import importlib
import importlib.util
import pkgutil

import pytest

import aotgraph  # noqa: F401
import aotgraph.ops
import aotgraph.tensor  # noqa: F401
import aotgraph.tensor.nnet  # noqa: F401
from aotgraph.ops.base import CATEGORY_SETS, OPS

# Import every module that registers ops, so the list does not depend on
# which other tests ran first.
for _info in pkgutil.iter_modules(aotgraph.ops.__path__, "aotgraph.ops."):
    importlib.import_module(_info.name)
for _name in ("aotgraph.gradient", "aotgraph.opt.ops", "aotgraph.loops"):
    if importlib.util.find_spec(_name) is not None:
        importlib.import_module(_name)

ALL_OPS = sorted(OPS)


def _problems(name):
    d = OPS[name]
    found = []
    if not callable(d.impl):
        found.append("no reference implementation (impl)")
    if not callable(d.infer):
        found.append("no shape rule (infer)")
    if d.vjp is None and not (isinstance(d.nondiff, str) and d.nondiff.strip()):
        found.append("no vjp and no nondiff reason")
    if d.vjp is not None and d.nondiff is not None:
        found.append("both a vjp and a nondiff reason")
    if d.jvp is not None and not callable(d.jvp):
        found.append("a jvp that is not callable")
    if not d.doc.strip():
        found.append("no doc")
    return found


def test_the_registry_holds_the_core_ops():
    expected = {
        "add",
        "exp",
        "sum",
        "max",
        "matmul",
        "softmax",
        "log_softmax",
        "crossentropy_1hot",
        "dimshuffle",
        "reshape",
        "sum_to_like",
        "switch",
        "cast",
    }
    assert expected <= set(ALL_OPS)


def test_every_op_is_complete():
    missing = {name: _problems(name) for name in ALL_OPS if _problems(name)}
    assert not missing, "incomplete op records:\n" + "\n".join(
        f"  {name}: {', '.join(p)}" for name, p in sorted(missing.items())
    )


@pytest.mark.parametrize("name", ALL_OPS)
def test_op_categories_are_consistent(name):
    for cat in OPS[name].categories:
        assert name in CATEGORY_SETS[cat]
    for cat, members in CATEGORY_SETS.items():
        if name in members:
            assert cat in OPS[name].categories
