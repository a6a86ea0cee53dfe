"""Running a spec file and collecting the Modules it defines."""

from __future__ import annotations

import os
import runpy

from aotgraph.errors import AotgraphError


class SpecError(AotgraphError):
    """A spec file is missing, fails to run, or defines no Module."""


def load_spec(path):
    """Run the spec at ``path``; return the Modules it created, in order."""
    from aotgraph import module as module_mod

    if not os.path.isfile(path):
        raise SpecError(f"spec file {path!r} does not exist")
    before = len(module_mod._REGISTRY)
    try:
        runpy.run_path(os.path.abspath(path), run_name="__aotgraph_spec__")
    except AotgraphError:
        raise
    except SystemExit as exc:
        raise SpecError(f"spec {path} called sys.exit({exc.code})") from None
    created = module_mod._REGISTRY[before:]
    del module_mod._REGISTRY[before:]
    if not created:
        raise SpecError(
            f"spec {path} defines no module: create one with mod = ag.Module('pkg.name') "
            "and add functions with mod.function(name, inputs, outputs)"
        )
    names = [m.name for m in created]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise SpecError(f"spec {path} defines module {sorted(dup)[0]!r} twice")
    return created
