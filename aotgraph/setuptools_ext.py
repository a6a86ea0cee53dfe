"""The setuptools hook: build aotgraph modules inside a downstream wheel.

A project opts in with ``[tool.aotgraph] modules = ["src/pkg/spec.py"]`` in
its ``pyproject.toml`` (read by :func:`finalize_options`, registered under
the ``setuptools.finalize_distribution_options`` entry point) or with
``setup(aotgraph_modules=[...])`` (the ``distutils.setup_keywords`` entry
point :func:`aotgraph_modules`).  Nothing happens for other projects.

When ``build_ext`` runs, each spec is executed and its Modules are built
(sources generated under ``build_temp``) into the build tree at the dotted
name they declare, which must lie inside one of the project's packages.
The existing ``build_ext`` command is wrapped, not replaced.
"""

from __future__ import annotations

import os

_ATTR = "_aotgraph_specs"


class HookError(Exception):
    """A problem in the project's aotgraph configuration, with how to fix it."""


def _fail(message):
    from setuptools.errors import SetupError

    raise SetupError(f"aotgraph: {message}")


def _read_pyproject(root):
    path = os.path.join(root, "pyproject.toml")
    if not os.path.isfile(path):
        return None
    import tomllib

    with open(path, "rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            _fail(f"cannot parse {path}: {exc}")
    return data.get("tool", {}).get("aotgraph")


def _spec_list(value, where):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        _fail(f'{where} must be a list of spec file paths, e.g. ["src/mypkg/model_spec.py"]')
    return list(value)


def finalize_options(dist):
    """Entry point: read ``[tool.aotgraph]`` from the project's pyproject.toml."""
    root = getattr(dist, "src_root", None) or os.getcwd()
    config = _read_pyproject(root)
    if config is None:
        return
    if not isinstance(config, dict) or "modules" not in config:
        _fail(
            "[tool.aotgraph] needs a 'modules' list of spec files, e.g. modules = [\"src/mypkg/model_spec.py\"]"
        )
    unknown = set(config) - {"modules", "blas", "native"}
    if unknown:
        _fail(f"[tool.aotgraph] has unknown keys {sorted(unknown)}; known: modules, blas, native")
    _register(dist, _spec_list(config["modules"], "[tool.aotgraph] modules"), root, config)


def aotgraph_modules(dist, attr, value):
    """Entry point for ``setup(aotgraph_modules=[...])``."""
    _register(dist, _spec_list(value, "aotgraph_modules"), os.getcwd(), {})


def _register(dist, specs, root, config):
    paths = []
    for spec in specs:
        path = spec if os.path.isabs(spec) else os.path.join(root, spec)
        if not os.path.isfile(path):
            _fail(
                f"spec file {spec!r} does not exist (paths are relative to {root}); fix the "
                "[tool.aotgraph] modules list"
            )
        paths.append(path)
    if getattr(dist, _ATTR, None):
        return
    setattr(dist, _ATTR, (paths, dict(config)))
    # The wheel holds a compiled extension: mark it platform-specific.
    dist.has_ext_modules = lambda: True
    _wrap_build_ext(dist)
    _limited_api_wheel(dist)


def _limited_api_wheel(dist):
    """The built extensions use the stable ABI (cffi's default): tag the wheel abi3."""
    opts = dist.get_option_dict("bdist_wheel")
    opts.setdefault("py_limited_api", ("aotgraph", "cp310"))


def _wrap_build_ext(dist):
    from setuptools.command.build_ext import build_ext as default

    base = dist.cmdclass.get("build_ext", default)

    class build_ext_with_aotgraph(base):
        def run(self):
            base.run(self)
            _build_all(self)

        def get_outputs(self):
            return list(base.get_outputs(self)) + list(getattr(self, "_aotgraph_outputs", []))

    build_ext_with_aotgraph.__name__ = "build_ext"
    dist.cmdclass["build_ext"] = build_ext_with_aotgraph


def _build_all(cmd):
    from aotgraph.build import BuildOptions, build_module
    from aotgraph.errors import AotgraphError
    from aotgraph.spec import load_spec

    dist = cmd.distribution
    paths, config = getattr(dist, _ATTR)
    packages = set(dist.packages or [])
    target = cmd.build_lib if not cmd.inplace else _inplace_root(cmd)
    try:
        options = BuildOptions(
            blas=config.get("blas", "auto"), native=bool(config.get("native", False))
        )
    except AotgraphError as exc:
        _fail(f"[tool.aotgraph]: {exc}")
    outputs = []
    for path in paths:
        try:
            modules = load_spec(path)
        except AotgraphError as exc:
            _fail(f"spec {path}: {exc}")
        for module in modules:
            parent = module.name.rpartition(".")[0]
            if packages and parent not in packages:
                _fail(
                    f"spec {path} declares module {module.name!r}, which is not inside one of "
                    f"the project's packages ({', '.join(sorted(packages))}); name it "
                    f"'<package>.<module>', e.g. {sorted(packages)[0] + '.model'!r}"
                )
            try:
                built = build_module(module, target, options=options, verbose=bool(cmd.verbose))
            except AotgraphError as exc:
                _fail(f"building {module.name} from {path} failed: {exc}")
            for dirpath, _, files in os.walk(built):
                outputs.extend(os.path.join(dirpath, f) for f in files)
    cmd._aotgraph_outputs = sorted(outputs)


def _inplace_root(cmd):
    build_py = cmd.get_finalized_command("build_py")
    package_dir = build_py.package_dir or {}
    return os.path.abspath(package_dir.get("", "."))
