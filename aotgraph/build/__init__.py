"""Building modules: spec → optimized graphs → IR → C → extension → package.

:func:`build_module` builds one :class:`~aotgraph.module.Module` into an
importable package under a directory; :func:`compile_spec` does it for every
Module of a spec file (what ``python -m aotgraph compile`` runs);
:func:`compile_in_process` backs ``ag.function(..., target="cpu")`` with the
same pipeline, through the same cache.

Built modules load the scipy-openblas32 library at import when it is
installed (``$AOTGRAPH_BLAS_LIB`` names another library or its directory)
and otherwise use the built-in matrix product.  Builds go through the cache
in ``$AOTGRAPH_CACHE`` (default: the user cache directory).

>>> import os, sys, tempfile, numpy as np
>>> import aotgraph as ag, aotgraph.tensor as at
>>> mod = ag.Module("doctest_pkg.double")
>>> x = at.dvector("x")
>>> mod.function("double", [x], x * 2)
>>> out = tempfile.mkdtemp()
>>> _ = build_module(mod, out)
>>> sys.path.insert(0, out)
>>> from doctest_pkg import double as built
>>> built.double(np.array([1.0, 2.5]))
array([2., 5.])
>>> sys.path.remove(out)
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import re
import threading

from aotgraph.build.cache import BuildCache
from aotgraph.build.compiler import BuildOptions
from aotgraph.errors import BuildError

__all__ = ["BuildOptions", "BuildCache", "build_module", "compile_spec", "compile_in_process", "module_ir"]


def module_ir(module, optimize=True, embed_shared=True):
    """``(ModuleIR, ir_text)`` of a Module: each function optimized, serialized
    and validated as any IR read from disk would be."""
    from aotgraph.ir import dump_ir, load_ir, module_to_ir

    graphs = {}
    for name, fg in module.functions.items():
        if optimize:
            from aotgraph.opt import optimize_graph

            fg = optimize_graph(fg)
        graphs[name] = fg
    doc, blobs = module_to_ir(module.name, graphs, module.options, embed_shared=embed_shared)
    text = dump_ir(doc)
    return load_ir(text, blobs, verify_blobs=False), text


def build_module(module, out_dir, options=None, cache=None, verbose=False, emitters=None, optimize=True):
    """Build ``module`` into the package ``out_dir/<name as path>/``; returns its path."""
    from aotgraph.build.package import build_extension, write_package

    ir, text = module_ir(module, optimize=optimize)
    if not module.functions:
        raise BuildError(f"module {module.name}: it has no functions; add some with mod.function(...)")
    ext_name = f"{module.name}._{module.name.rsplit('.', 1)[-1]}"
    build = build_extension(ir, text, ext_name, options, cache, verbose, emitters)
    if verbose:
        state = "compiled" if build.compiled else "cache hit"
        print(f"aotgraph: {module.name}: {state} ({build.build_info['hash'][:16]})", flush=True)
    return write_package(out_dir, ir, build)


def compile_spec(path, out_dir=".", options=None, verbose=False, cache=None):
    """Build every Module defined by the spec file at ``path``; returns package paths."""
    from aotgraph.spec import load_spec

    return [build_module(m, out_dir, options, cache, verbose) for m in load_spec(path)]


# --- in-process functions ---------------------------------------------------

_LOADED = {}  # so path -> extension module
_LOAD_LOCK = threading.Lock()
#: Held by in-process calls that update shared variables (they may share them).
UPDATE_LOCK = threading.RLock()
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")


def compile_in_process(fgraph, target="cpu", allow_input_downcast=False, options=None, cache=None):
    """A :class:`~aotgraph.function.Function` running ``fgraph`` (already
    optimized) as native code built through the cache.  Its shared variables
    are the user's: read at each call, updated with ``set_value``."""
    from aotgraph.build.package import build_extension, package_tables
    from aotgraph.build.pkg_runtime import CompiledFunction
    from aotgraph.function import Function
    from aotgraph.ir import _name_shared, dump_ir, load_ir, module_to_ir

    if target == "cuda":
        from aotgraph.build.cuda import compile_cuda_in_process

        return compile_cuda_in_process(fgraph, allow_input_downcast)
    if target != "cpu":
        raise BuildError(f"function: target {target!r} is not available yet; use 'cpu' or 'py'")
    fname = fgraph.name if _IDENT.match(fgraph.name or "") else "function"
    opts = {fname: {"allow_input_downcast": bool(allow_input_downcast)}}
    doc, blobs = module_to_ir("_agjit", {fname: fgraph}, opts, embed_shared=False)
    text = dump_ir(doc)
    ir = load_ir(text, blobs, verify_blobs=False)
    ext_name = "_agjit_" + hashlib.sha256(text.encode()).hexdigest()[:24]
    build = build_extension(ir, text, ext_name, options, cache)
    ext = _load_extension(ext_name, build)
    spec = package_tables(ir, build)["functions"][fname]
    shared = {name: var for var, name in _name_shared([fgraph]).values()}
    import aotgraph.callcheck

    compiled = CompiledFunction(spec, ext.ffi, ext.lib, shared, UPDATE_LOCK, aotgraph.callcheck)
    fn = Function(fgraph, target, allow_input_downcast, backend=compiled.call_converted)
    fn.build_info = build.build_info
    return fn


def _load_extension(ext_name, build):
    with _LOAD_LOCK:
        mod = _LOADED.get(build.so_path)
        if mod is not None:
            return mod
        loader = importlib.machinery.ExtensionFileLoader(ext_name, build.so_path)
        spec = importlib.util.spec_from_file_location(ext_name, build.so_path, loader=loader)
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
        if build.blas:
            _load_blas(mod)
        _LOADED[build.so_path] = mod
        return mod


def _load_blas(ext):
    path = os.environ.get("AOTGRAPH_BLAS_LIB")
    if not path:
        try:
            import scipy_openblas32
        except ImportError:
            return
        path = scipy_openblas32.get_lib_dir()
    err = ext.ffi.new("ag_error *")
    if ext.lib.ag_blas_load(path.encode(), err) != 0:
        import warnings

        warnings.warn(
            "aotgraph: using the built-in matrix product: "
            + ext.ffi.string(err.message).decode("utf-8", "replace"),
            RuntimeWarning,
            stacklevel=3,
        )
