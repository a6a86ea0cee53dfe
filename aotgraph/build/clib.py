"""``--emit c-lib``: a module as C sources, one header and a static library.

:func:`build_c_library` writes, under ``DIR``:

- ``<name>.h``: the one header a C program includes; it documents every
  entry point (dtypes, static shapes, dynamic shapes, error codes,
  workspace and thread-safety rules, who frees outputs) and carries the
  runtime's ``ag_buffer`` / ``ag_error`` definitions;
- ``lib<name>.a``: the static library (``ar`` in deterministic mode,
  members sorted), built with the platform compiler and no Python headers;
- ``<name>_src/``: the sources it was built from (generated C, the C
  runtime, the embedded data), so it can be rebuilt without aotgraph.

``<name>`` is the last part of the module's dotted name.  The C API is a
context holding the shared variables (``<name>_create`` / ``_destroy``,
``_shared_get`` / ``_shared_set``) and one ``<name>_<function>(ctx,
inputs..., outputs..., err)`` per function, wrapping the same entry points
the Python extension calls.  Two builds of one spec give byte-identical
files.

>>> import os, tempfile, numpy as np
>>> import aotgraph as ag, aotgraph.tensor as at
>>> mod = ag.Module("doctest_clib.scale")
>>> x = at.dvector("x")
>>> mod.function("scale", [x], x * 3)
>>> out = tempfile.mkdtemp()
>>> lib = build_c_library(mod, out)
>>> sorted(os.listdir(out))
['libscale.a', 'scale.h', 'scale_src']
>>> "int scale_scale(scale_ctx *ctx, const ag_buffer *in_x, ag_buffer *out0, ag_error *err);" in open(lib.header).read()
True
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from aotgraph.build.compiler import BuildOptions, compiler_command
from aotgraph.errors import BuildError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Names of the context API: a spec function must not take them.
RESERVED = frozenset({"create", "destroy", "shared_get", "shared_set", "ctx"})
_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch typedef "
    "union unsigned void volatile while".split()
)


@dataclass
class CLibrary:
    """Paths of a built C library."""

    name: str
    header: str
    archive: str
    source_dir: str
    link_flags: list


def build_c_library(module, out_dir, options=None, verbose=False) -> CLibrary:
    """Emit and build the C library of ``module`` into ``out_dir``."""
    from aotgraph.build import module_ir

    options = options or BuildOptions()
    if not module.functions:
        raise BuildError(
            f"module {module.name}: it has no functions; add some with mod.function(...)"
        )
    name = module.name.rsplit(".", 1)[-1]
    ir, ir_text = module_ir(module)
    src_dir = os.path.join(out_dir, f"{name}_src")
    sources, blob_files, tables = _emit_sources(ir, ir_text, name, options)
    if os.path.isdir(src_dir):
        shutil.rmtree(src_dir)  # stale sources of another spec would be archived too
    os.makedirs(os.path.join(src_dir, "blobs"))
    for fname, data in sorted(sources.items()):
        _write(os.path.join(src_dir, fname), data)
    for blob, rel in sorted(blob_files.items()):
        _write(os.path.join(src_dir, rel), ir_text.encode() if blob == "ir" else ir.blobs[blob])
    header = os.path.join(out_dir, f"{name}.h")
    _write(header, sources[f"{name}.h"])
    archive = os.path.join(out_dir, f"lib{name}.a")
    c_files = sorted(n for n in sources if n.endswith(".c"))
    _compile_archive(src_dir, c_files, archive, options, verbose)
    return CLibrary(name, header, archive, src_dir, tables["link_flags"])


def _emit_sources(ir, ir_text, name, options):
    """name -> bytes of every source of the library, blob files, template tables."""
    from aotgraph.build.package import _ENV, _runtime_files, _version
    from aotgraph.emit.c_module import emit_c_module

    emitted = emit_c_module(ir, ir_text)
    sources = dict(_runtime_files(emitted.support_files))
    sources.update({k: v.encode() for k, v in emitted.files.items()})
    lib = library_tables(ir, name)
    lib["version"] = _version()
    lib["blas"] = "ag_blas.c" in emitted.support_files
    lib["runtime_header"] = sources["ag_runtime.h"].decode()
    flags = (["-fopenmp"] if options.openmp else []) + ["-lm"]
    flags += ["-ldl"] if lib["blas"] and options.blas != "none" else []
    lib["link_flags"] = " ".join(flags)
    sources[f"{name}.h"] = _ENV.get_template("clib.h.j2").render(lib=lib).encode()
    sources[f"{name}_api.c"] = _ENV.get_template("clib_api.c.j2").render(lib=lib).encode()
    return sources, emitted.blob_files, {"link_flags": flags}


def _type_text(dtype, shape):
    return f"{dtype}[{', '.join('?' if d is None else str(d) for d in shape)}]"


def library_tables(ir, name) -> dict:
    """What the C API templates need: shared variables and functions, in order."""
    from aotgraph.emit.c_module import DTYPE_CODE, FUNCTION_PREFIX

    if not _IDENT.match(name) or name in _C_KEYWORDS:
        raise BuildError(
            f"--emit c-lib: module name part {name!r} is not a C identifier; rename the Module"
        )
    shared_names = sorted(ir.shared)
    shared = []
    for sname in shared_names:
        s = ir.shared[sname]
        value_shape = ir.doc["blobs"][s["value"]]["shape"] if s["value"] else None
        shared.append(
            dict(
                name=sname,
                dtype_code=DTYPE_CODE[s["dtype"]],
                ndim=len(s["shape"]),
                shape=[-1 if d is None else d for d in s["shape"]],
                blob=s["value"],
                value_shape=value_shape,
                type=_type_text(s["dtype"], s["shape"]),
            )
        )
    functions = []
    for fname, fn in sorted(ir.functions.items()):
        if fname in RESERVED:
            raise BuildError(
                f"--emit c-lib: function name {fname!r} clashes with {name}_{fname} of the "
                "context API; rename the function in the spec"
            )
        functions.append(_function_table(name, fn, shared_names, DTYPE_CODE, FUNCTION_PREFIX))
    return {
        "name": name,
        "module": ir.name,
        "guard": name.upper() + "_AOTGRAPH_H",
        "shared": shared,
        "functions": functions,
    }


def _function_table(lib_name, fn, shared_names, dtype_code, prefix) -> dict:
    inputs, used = [], set()
    for k, vid in enumerate(fn.inputs):
        v = fn.vars[vid]
        arg = f"in_{v['name']}" if _IDENT.match(v.get("name") or "") else f"in{k}"
        if arg in used:
            arg = f"in{k}"
        used.add(arg)
        inputs.append(
            dict(
                name=v["name"],
                c_arg=arg,
                dtype_code=dtype_code[v["dtype"]],
                ndim=len(v["shape"]),
                shape=[-1 if d is None else d for d in v["shape"]],
                type=_type_text(v["dtype"], v["shape"]),
            )
        )
    outputs = [
        dict(name=f"out{k}", type=_type_text(fn.vars[vid]["dtype"], fn.vars[vid]["shape"]))
        for k, vid in enumerate(fn.outputs)
    ]
    metas = [len(fn.vars[v]["shape"]) for v in fn.inputs] + [
        len(fn.vars[f"v{len(fn.inputs) + j}"]["shape"]) for j in range(len(fn.shared))
    ]
    updates = [
        dict(shared_index=shared_names.index(u["shared"]), slot=len(fn.outputs) + k)
        for k, u in enumerate(fn.updates)
    ]
    return dict(
        name=fn.name,
        c_name=f"{lib_name}_{fn.name}",
        symbol=prefix + fn.name,
        inputs=inputs,
        outputs=outputs,
        shared=[shared_names.index(s) for s in fn.shared],
        n_args=len(metas),
        n_meta=2 * sum(metas),
        n_results=len(fn.outputs) + len(fn.updates),
        updates=[u["shared"] for u in fn.updates],
        update_slots=updates,
    )


def _compile_archive(src_dir, c_files, archive, options, verbose):
    """Compile ``c_files`` in ``src_dir`` and archive them deterministically."""
    from concurrent.futures import ThreadPoolExecutor

    from aotgraph.build.compiler import _run

    src_dir = os.path.abspath(src_dir)
    common = compiler_command() + options.flags() + [f"-ffile-prefix-map={src_dir}=.", "-I."]
    objects = [c[:-2] + ".o" for c in c_files]
    compiles = [common + ["-c", c, "-o", o] for c, o in zip(c_files, objects)]
    workers = max(1, min(len(compiles), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda cmd: _run(cmd, src_dir, archive, verbose), compiles))
    ar = shlex.split(os.environ.get("AR") or "ar")
    if shutil.which(ar[0]) is None:
        raise BuildError(
            f"--emit c-lib: the archiver {ar[0]!r} is not installed; install binutils or set AR"
        )
    tmp = os.path.abspath(archive) + ".tmp"
    if os.path.exists(tmp):
        os.remove(tmp)
    cmd = ar + ["rcsD", tmp] + sorted(objects)
    if verbose:
        print("aotgraph: " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    proc = subprocess.run(cmd, cwd=src_dir, capture_output=True, text=True)
    for obj in objects:
        os.remove(os.path.join(src_dir, obj))
    if proc.returncode != 0:
        raise BuildError(
            f"--emit c-lib: {ar[0]} failed building {archive}: {proc.stderr.strip()[:500]}"
        )
    os.replace(tmp, archive)


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
