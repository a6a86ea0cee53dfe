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

__all__ = [
    "BuildOptions",
    "BuildCache",
    "build_module",
    "compile_spec",
    "compile_in_process",
    "module_ir",
]


def module_ir(module, optimize=True, embed_shared=True, debug=()):
    """``(ModuleIR, ir_text)`` of a Module: each function optimized, serialized
    and validated as any IR read from disk would be.  ``debug`` may hold
    ``"nan_guard"`` and ``"profile"`` for a debug build (:func:`debug_ir`)."""
    from aotgraph.ir import dump_ir, load_ir, module_to_ir

    graphs = {}
    for name, fg in module.functions.items():
        if optimize:
            from aotgraph.opt import optimize_graph

            fg = optimize_graph(fg)
        graphs[name] = fg
    doc, blobs = module_to_ir(module.name, graphs, module.options, embed_shared=embed_shared)
    for name, fg in graphs.items() if debug else ():
        debug_ir(doc["functions"][name], fg, "nan_guard" in debug, "profile" in debug)
    text = dump_ir(doc)
    return load_ir(text, blobs, verify_blobs=False), text


def build_module(
    module,
    out_dir,
    options=None,
    cache=None,
    verbose=False,
    emitters=None,
    optimize=True,
    progress=None,
    debug=(),
):
    """Build ``module`` into the package ``out_dir/<name as path>/``; returns its path.

    ``progress``, when given, is called with the name of each stage as it
    starts (``"optimize"``, ``"emit"``, ``"compile N translation units"``).
    ``debug``: ``("nan_guard", "profile")`` or a part of it for a debug build.
    """
    from aotgraph.build.package import build_extension, write_package

    if progress is not None:
        progress("optimize")
    ir, text = module_ir(module, optimize=optimize, debug=tuple(debug))
    if not module.functions:
        raise BuildError(
            f"module {module.name}: it has no functions; add some with mod.function(...)"
        )
    ext_name = f"{module.name}._{module.name.rsplit('.', 1)[-1]}"
    build = build_extension(
        ir, text, ext_name, options, cache, verbose, emitters, progress=progress
    )
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


def compile_in_process(
    fgraph,
    target="cpu",
    allow_input_downcast=False,
    options=None,
    cache=None,
    nan_guard=False,
    profile=False,
):
    """A :class:`~aotgraph.function.Function` running ``fgraph`` (already
    optimized) as native code built through the cache.  Its shared variables
    are the user's: read at each call, updated with ``set_value``.

    ``nan_guard`` / ``profile`` make a debug build (see :func:`debug_ir`):
    every float node result is checked for NaN/Inf, or each node is timed."""
    from aotgraph.build.package import build_extension, package_tables
    from aotgraph.build.pkg_runtime import CompiledFunction
    from aotgraph.emit.c_module import FUNCTION_PREFIX
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
    if nan_guard or profile:
        debug_ir(doc["functions"][fname], fgraph, nan_guard, profile)
    text = dump_ir(doc)
    ir = load_ir(text, blobs, verify_blobs=False)
    ext_name = "_agjit_" + hashlib.sha256(text.encode()).hexdigest()[:24]
    build = build_extension(ir, text, ext_name, options, cache)
    ext = _load_extension(ext_name, build)
    spec = package_tables(ir, build)["functions"][fname]
    shared = {name: var for var, name in _name_shared([fgraph]).values()}
    import aotgraph.callcheck

    compiled = CompiledFunction(spec, ext.ffi, ext.lib, shared, UPDATE_LOCK, aotgraph.callcheck)
    fn = Function(
        fgraph,
        target,
        allow_input_downcast,
        backend=compiled.call_converted,
        nan_guard=nan_guard,
        profile=profile,
    )
    fn.build_info = build.build_info
    fn.native_guard = bool(nan_guard)
    if profile:
        fn.native_profile = _profile_reader(ext, FUNCTION_PREFIX + fname, fgraph)
    return fn


def debug_ir(fn_doc, fgraph, nan_guard, profile):
    """Mark the IR of one function for a debug build: ``nan_guard`` (each
    node carries ``trace``, the user's source line of its output, so the
    check can name it) and ``profile``.  Normal builds carry neither, so
    they stay path-free and reproducible."""
    from aotgraph.graph import toposort, trace_str

    if nan_guard:
        fn_doc["nan_guard"] = True
        for node_doc, node in zip(fn_doc["nodes"], toposort(fgraph.all_outputs())):
            node_doc["trace"] = trace_str(node.outputs[0])
    if profile:
        fn_doc["profile"] = True


def _profile_reader(ext, symbol, fgraph):
    """A function returning ``{position: [label, calls, seconds]}`` from the
    per-node counters of a profile build."""
    from aotgraph.graph import toposort
    from aotgraph.printing import node_label

    labels = [node_label(node) for node in toposort(fgraph.all_outputs())]
    read = getattr(ext.lib, symbol + "_profile")

    def native_profile():
        n = max(len(labels), 1)
        ns, calls = ext.ffi.new("int64_t[]", n), ext.ffi.new("int64_t[]", n)
        read(ns, calls, n)
        return {
            k: [label, int(calls[k]), ns[k] * 1e-9] for k, label in enumerate(labels) if calls[k]
        }

    return native_profile


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
