"""From a validated IR to a cached extension, and from there to a package.

:func:`build_extension` emits the sources, derives the cache key from
everything that reaches the compiler, and compiles once per key.
:func:`write_package` writes ``DIR/<pkg path>/`` (generated ``__init__.py``,
the call checker, the runtime and the extension), touching only files whose
content changes.
"""

from __future__ import annotations

import hashlib
import os
import pprint
import shutil

import jinja2

from aotgraph.build.cache import BuildCache
from aotgraph.build.compiler import (
    BLAS_CDEF,
    RUNTIME_CDEF,
    BuildOptions,
    cffi_wrapper,
    compile_extension,
    compiler_identity,
    extension_suffix,
    target_isa,
)
from aotgraph.errors import BuildError

#: Runtime sources compiled into every module (besides the emitters' files).
RUNTIME_SOURCES = ("ag_runtime.c", "ag_threads.c", "ag_workspace.c")
WRAPPER_SOURCE = "ag_wrapper.c"
_BUILD_FORMAT = "aotgraph-build-1"
_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("aotgraph.emit", "templates"),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def runtime_c_dir() -> str:
    """Where runtime_c/ lives: inside an installed package, else the source tree."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for path in (os.path.join(here, "runtime_c"), os.path.join(os.path.dirname(here), "runtime_c")):
        if os.path.isfile(os.path.join(path, "ag_runtime.h")):
            return path
    raise BuildError(
        f"the C runtime (runtime_c/ag_runtime.h) is missing near {here}; reinstall aotgraph"
    )


def c_abi_version() -> int:
    """AG_ABI_VERSION of runtime_c/ag_runtime.h."""
    import re

    with open(os.path.join(runtime_c_dir(), "ag_runtime.h"), encoding="utf-8") as f:
        match = re.search(r"#define AG_ABI_VERSION (\d+)", f.read())
    if match is None:
        raise BuildError("runtime_c/ag_runtime.h does not define AG_ABI_VERSION")
    return int(match.group(1))


def _runtime_files(support) -> dict:
    """name -> bytes of every runtime_c header plus the sources compiled."""
    root = runtime_c_dir()
    names = {n for n in os.listdir(root) if n.endswith(".h")}
    names |= set(RUNTIME_SOURCES) | set(support)
    files = {}
    for name in sorted(names):
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            raise BuildError(
                f"runtime file {name} (needed by the C emitters) is missing from {root}"
            )
        with open(path, "rb") as f:
            files[name] = f.read()
    return files


class ExtensionBuild:
    """A compiled extension in the cache: its entry dir, file and metadata."""

    def __init__(self, entry, manifest, so_name, blas, compiled):
        self.entry = entry
        self.manifest = manifest
        self.so_name = so_name
        self.so_path = os.path.join(entry, so_name)
        self.build_info = manifest["build_info"]
        self.blas = blas
        self.compiled = compiled  # False on a cache hit


def build_extension(
    module_ir,
    ir_text,
    ext_name,
    options=None,
    cache=None,
    verbose=False,
    emitters=None,
    progress=None,
) -> ExtensionBuild:
    """Compile ``module_ir`` into extension ``ext_name`` (dotted), via the cache;
    ``progress(stage)`` is told of the emit and compile stages."""
    from aotgraph.emit.c_module import emit_c_module

    options = options or BuildOptions()
    progress = progress or (lambda stage: None)
    progress("emit")
    emitted = emit_c_module(module_ir, ir_text, emitters)
    if options.blas == "openblas":
        _require_openblas()
    has_blas = "ag_blas.c" in emitted.support_files
    cdef = RUNTIME_CDEF + (BLAS_CDEF if has_blas else "") + emitted.cdef
    sources = dict(_runtime_files(emitted.support_files))
    sources.update({k: v.encode() for k, v in emitted.files.items()})
    headers = [emitted.header_name] + (["ag_blas.h"] if has_blas else [])
    sources[WRAPPER_SOURCE] = cffi_wrapper(ext_name, cdef, headers).encode()
    compiler = compiler_identity()
    flags = options.flags()
    isa, features = target_isa(flags)
    # -march=native depends on the build machine: its features are part of the key
    key = _cache_key(ext_name, sources, module_ir, ir_text, compiler, flags + features)
    so_name = ext_name.rsplit(".", 1)[-1] + extension_suffix()
    info = {
        "aotgraph_version": _version(),
        "c_abi_version": c_abi_version(),
        "compiler": compiler,
        "flags": flags,
        "hash": key,
        "module": module_ir.name,
        "blas": options.blas if has_blas else "none",
        "target": "cpu",
        "isa": isa,
        "cpu_features": features,
    }
    cache = cache or BuildCache()
    with cache.lock(key):
        manifest = cache.lookup(key)
        if manifest is not None:
            progress("compile: cache hit")
            return ExtensionBuild(
                cache.entry_path(key), manifest, so_name, has_blas and options.blas != "none", False
            )
        build_dir = cache.new_build_dir(key)
        try:
            _write_sources(build_dir, sources, module_ir, ir_text, emitted.blob_files)
            c_files = sorted(n for n in sources if n.endswith(".c"))
            progress(f"compile {len(c_files)} translation units in parallel")
            compile_extension(build_dir, c_files, so_name, options, verbose)
            shutil.rmtree(os.path.join(build_dir, "blobs"), ignore_errors=True)
            manifest = cache.commit(key, build_dir, [so_name] + sorted(sources), info)
        except BuildError:
            raise  # the compiler failed: its sources stay in build_dir (named in the message)
        except BaseException:
            shutil.rmtree(build_dir, ignore_errors=True)
            raise
    return ExtensionBuild(
        cache.entry_path(key), manifest, so_name, has_blas and options.blas != "none", True
    )


def _require_openblas():
    try:
        import scipy_openblas32  # noqa: F401
    except ImportError:
        raise BuildError(
            "--blas openblas: the scipy-openblas32 package is not installed; "
            "pip install scipy-openblas32, or use --blas auto / none"
        ) from None


def _version():
    import aotgraph

    return aotgraph.__version__


def _cache_key(ext_name, sources, module_ir, ir_text, compiler, flags) -> str:
    h = hashlib.sha256()
    for part in (_BUILD_FORMAT, _version(), compiler, "\0".join(flags), ext_name):
        h.update(part.encode() + b"\0")
    for name, data in sorted(sources.items()):
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    h.update(hashlib.sha256(ir_text.encode()).digest())
    for name, meta in sorted(module_ir.doc["blobs"].items()):
        h.update(name.encode() + b"\0" + meta["sha256"].encode())
    return h.hexdigest()


def _write_sources(build_dir, sources, module_ir, ir_text, blob_files):
    for name, data in sources.items():
        with open(os.path.join(build_dir, name), "wb") as f:
            f.write(data)
    os.makedirs(os.path.join(build_dir, "blobs"), exist_ok=True)
    for name, rel in blob_files.items():
        data = ir_text.encode() if name == "ir" else module_ir.blobs[name]
        with open(os.path.join(build_dir, rel), "wb") as f:
            f.write(data)


# --- the package ----------------------------------------------------------


def package_tables(module_ir, build) -> dict:
    """The tables the generated ``__init__.py`` hands to the runtime."""
    from aotgraph.emit.c_module import FUNCTION_PREFIX, ir_node_label

    functions = {}
    for name, fn in module_ir.functions.items():
        inputs = [
            {"name": fn.vars[v]["name"], "dtype": fn.vars[v]["dtype"], "shape": fn.vars[v]["shape"]}
            for v in fn.inputs
        ]
        results = [fn.vars[v]["dtype"] for v in fn.outputs + [u["value"] for u in fn.updates]]
        functions[name] = {
            "name": name,
            "symbol": FUNCTION_PREFIX + name,
            "inputs": inputs,
            "shared": list(fn.shared),
            "updates": [u["shared"] for u in fn.updates],
            "results": results,
            "result_ndims": [
                len(fn.vars[v]["shape"]) for v in fn.outputs + [u["value"] for u in fn.updates]
            ],
            "n_outputs": len(fn.outputs),
            "n_meta": 2
            * sum(len(fn.vars[f"v{i}"]["shape"]) for i in range(len(fn.inputs) + len(fn.shared))),
            "single_output": fn.single_output,
            "allow_input_downcast": fn.allow_input_downcast,
            "doc": _signature(name, inputs, len(fn.outputs), [u["shared"] for u in fn.updates]),
        }
        if fn.doc.get("profile"):  # profile builds: labels of the per-node counters
            functions[name]["profile_labels"] = [ir_node_label(node) for node in fn.nodes]
    shared = {}
    for name, s in module_ir.shared.items():
        value_shape = module_ir.doc["blobs"][s["value"]]["shape"] if s["value"] else None
        shared[name] = {
            "dtype": s["dtype"],
            "shape": s["shape"],
            "value": s["value"],
            "value_shape": value_shape,
        }
    return {"functions": functions, "shared": shared}


def _signature(name, inputs, n_out, updates):
    args = ", ".join(
        f"{i['name']}: {i['dtype']}[{','.join('?' if d is None else str(d) for d in i['shape'])}]"
        for i in inputs
    )
    text = f"{name}({args}) -> {n_out} output(s)"
    return text + (f"; updates {', '.join(updates)}" if updates else "")


def _docstring_safe(text):
    return text.encode("ascii", "backslashreplace").decode().replace("\\", "/").replace('"', "'")


def render_init(module_ir, build) -> str:
    tables = package_tables(module_ir, build)
    fmt = lambda obj: pprint.pformat(obj, indent=1, width=100, sort_dicts=True)  # noqa: E731
    pkg = {
        "module": module_ir.name,
        "version": _version(),
        "ext_module": build.so_name.split(".", 1)[0],
        "signatures": [
            _docstring_safe(tables["functions"][n]["doc"]) for n in sorted(tables["functions"])
        ],
        "build_info": fmt(build.build_info),
        "functions": fmt(tables["functions"]),
        "shared": fmt(tables["shared"]),
        "blas": build.blas,
        "function_names": sorted(tables["functions"]),
        "profile": any("profile_labels" in f for f in tables["functions"].values()),
    }
    return _ENV.get_template("package_init.py.j2").render(pkg=pkg)


def write_package(out_dir, module_ir, build) -> str:
    """Write the importable package for ``module_ir.name`` under ``out_dir``."""
    import aotgraph.callcheck
    from aotgraph.build import pkg_runtime

    pkg_dir = os.path.join(out_dir, *module_ir.name.split("."))
    os.makedirs(pkg_dir, exist_ok=True)
    with open(aotgraph.callcheck.__file__, "rb") as f:
        callcheck = f.read()
    with open(pkg_runtime.__file__, "rb") as f:
        runtime = f.read()
    with open(build.so_path, "rb") as f:
        so = f.read()
    files = {
        "__init__.py": render_init(module_ir, build).encode(),
        "_aotgraph_callcheck.py": callcheck,
        "_aotgraph_runtime.py": runtime,
        build.so_name: so,
    }
    for name, data in files.items():
        _write_if_changed(os.path.join(pkg_dir, name), data)
    return pkg_dir


def _write_if_changed(path, data):
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return
    except OSError:
        pass
    import tempfile

    fd, tmp = tempfile.mkstemp(
        prefix=os.path.basename(path) + ".", suffix=".tmp", dir=os.path.dirname(path)
    )
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o755 if path.endswith(".so") else 0o644)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        os.utime(tmp, (int(epoch), int(epoch)))
    os.replace(tmp, path)
