"""Build specs: ``mod = ag.Module("pkg.name")`` collects functions to build.

>>> import aotgraph as ag, aotgraph.tensor as at
>>> mod = ag.Module("demo.model")
>>> x = at.fvector("x")
>>> mod.function("double", [x], x * 2)
>>> sorted(mod.functions)
['double']
"""

from __future__ import annotations

import keyword
import re

from aotgraph.errors import AotgraphTypeError
from aotgraph.fgraph import make_function_graph

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Every Module created, in creation order (the spec loader reads this).
_REGISTRY: list = []


class Module:
    """A module to build: a dotted import name and its functions."""

    def __init__(self, name):
        if (
            not isinstance(name, str)
            or not _DOTTED.match(name)
            or any(keyword.iskeyword(part) for part in name.split("."))
        ):
            raise AotgraphTypeError(
                f"Module: name must be a dotted Python module name like 'pkg.model', got {name!r}"
            )
        self.name = name
        self.functions = {}  # name -> FunctionGraph (unoptimized), in definition order
        self.options = {}  # per-function options, e.g. allow_input_downcast
        _REGISTRY.append(self)

    def function(
        self,
        name,
        inputs,
        outputs,
        updates=None,
        givens=None,
        on_unused_input="raise",
        allow_input_downcast=False,
    ):
        """Declare function ``name`` of this module (same arguments as ``ag.function``)."""
        if not isinstance(name, str) or not _IDENT.match(name) or keyword.iskeyword(name):
            raise AotgraphTypeError(
                f"Module.function: name must be a Python identifier, got {name!r}"
            )
        if name.startswith("_") or name in ("shared", "save", "load", "ir", "build_info"):
            raise AotgraphTypeError(
                f"Module.function: name {name!r} is reserved in built modules; choose another"
            )
        if name in self.functions:
            raise AotgraphTypeError(f"Module.function: {self.name} already has a function {name!r}")
        fg = make_function_graph(name, inputs, outputs, updates, givens, on_unused_input)
        self.functions[name] = fg
        self.options[name] = {"allow_input_downcast": bool(allow_input_downcast)}

    def __repr__(self):
        return f"<aotgraph.Module {self.name}: {', '.join(self.functions) or 'no functions'}>"
