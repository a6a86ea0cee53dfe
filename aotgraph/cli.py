"""``python -m aotgraph``: compile specs, show build metadata, inspect graphs.

    python -m aotgraph compile spec.py [-o DIR] [--target cpu] [--native]
                                       [--blas auto|openblas|none] [-v]
    python -m aotgraph compile spec.py --emit c-lib -o DIR   (C sources, header, lib<name>.a)
    python -m aotgraph info DIR_OR_SO
    python -m aotgraph inspect ...      (see python -m aotgraph inspect --help)
    python -m aotgraph cache info|clear

Builds report their stages (optimize, emit, compile) on standard error when
it is a terminal and ``CI`` is not set; ``-v`` also prints compiler commands.
User errors print one short message (``--debug`` shows the traceback).

>>> main(["--help"])  # doctest: +ELLIPSIS
usage: python -m aotgraph ...
0
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys

TARGETS = ("cpu", "cuda")
EXIT_CODES = """exit status:
  0  success
  1  error: a mistake in the spec or its use, a failed compiler run, an
     unreadable module (one short message; --debug shows the traceback)
  2  bad command line (unknown command or option, missing argument)"""


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m aotgraph",
        description="aotgraph: ahead-of-time compiler for symbolic tensor graphs.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    comp = sub.add_parser("compile", help="build the modules a spec file defines")
    comp.add_argument("spec", help="the spec file (a Python script creating ag.Module objects)")
    comp.add_argument(
        "-o", "--output", default=".", help="directory to write packages into (default .)"
    )
    comp.add_argument(
        "--target",
        default="cpu",
        help="cpu, cuda or cpu,cuda (cuda functions go to <package>.cuda)",
    )
    comp.add_argument(
        "--native", action="store_true", help="optimize for this CPU (-march=native; not portable)"
    )
    comp.add_argument(
        "--blas",
        default="auto",
        choices=("auto", "openblas", "none"),
        help="matrix products: scipy-openblas32 when installed (auto), required (openblas), "
        "or the built-in GEMM only (none)",
    )
    comp.add_argument("--no-openmp", action="store_true", help="build without OpenMP")
    comp.add_argument(
        "--emit",
        default="module",
        choices=("module", "c-lib"),
        help="module: importable Python packages (default); c-lib: C sources, a "
        "header and a static library lib<name>.a for C programs",
    )
    comp.add_argument(
        "--nan-guard",
        action="store_true",
        help="debug build: calls raise ValueError naming the first node producing "
        "NaN/Inf and its spec line (embeds spec paths; not for release)",
    )
    comp.add_argument(
        "--profile",
        action="store_true",
        help="debug build: time each node; <module>.profile_report() prints the table",
    )
    comp.add_argument("-v", "--verbose", action="store_true", help="show the compiler commands")
    comp.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    info = sub.add_parser("info", help="print how a built module was built")
    info.add_argument("path", help="a built package directory or its extension (.so)")
    info.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    sub.add_parser(
        "inspect", help="show a spec's graphs before and after optimization", add_help=False
    )
    cache = sub.add_parser("cache", help="show or clear the build cache")
    cache.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    cache_sub = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    for name, text in (
        ("info", "location, number of entries and total size"),
        ("clear", "remove every entry (builds running meanwhile are waited for)"),
    ):
        action = cache_sub.add_parser(name, help=text)
        action.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser


def _print_help(parser):
    parser.print_help()


def main(argv=None) -> int:
    """Entry point of ``python -m aotgraph`` and the ``aotgraph`` script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    lead = 1 if argv[:1] == ["--debug"] else 0
    if argv[lead : lead + 1] == ["inspect"]:
        rest = argv[lead + 1 :]
        debug = bool(lead) or "--debug" in rest
        return _inspect([a for a in rest if a != "--debug"], debug)
    if not argv or argv[0] in ("-h", "--help"):
        _print_help(parser)
        return 0 if argv else 2
    args = parser.parse_args(argv)
    if args.command is None:
        _print_help(parser)
        return 2
    try:
        if args.command == "compile":
            return _compile(args)
        if args.command == "cache":
            return _cache(args)
        return _info(args)
    except BrokenPipeError:
        # the reader went away (`... | head`, `grep -q`): stop quietly, as Unix tools do
        _silence_stdout()
        return 0
    except Exception as exc:  # noqa: BLE001 - user-facing boundary
        from aotgraph.errors import AotgraphError

        if args.debug or not isinstance(exc, (AotgraphError, OSError)):
            if args.debug:
                raise
            print(
                f"aotgraph: internal error: {type(exc).__name__}: {exc} (run with --debug "
                "for the traceback)",
                file=sys.stderr,
            )
            return 1
        # one line: the message (with the spec line it names), then a hint
        print(f"aotgraph: error: {exc} (hint: {error_hint(exc)})", file=sys.stderr)
        return 1


def _silence_stdout():
    """Point stdout at /dev/null so the interpreter's final flush does not
    fail again on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


#: exception class name -> what to try; the first class of the MRO found wins
_HINTS = {
    "MissingInputError": "pass the variable in the function's inputs, or give it a value "
    "with givens={var: value}",
    "UnusedInputError": "remove the input, or pass on_unused_input='ignore'",
    "ShapeError": "check the static shapes given to at.tensor(..., shape=...) and the axes "
    "of the expression at that line",
    "AotgraphTypeError": "check the dtypes and numbers of dimensions of the operands at that "
    "line (x.type shows them)",
    "GradientError": "check that the cost is a scalar and depends on every wrt variable "
    "(or pass disconnected_inputs='ignore')",
    "IRError": "rebuild the module with this version of aotgraph",
    "SpecError": "fix the spec at that line; --debug shows the full traceback",
    "BuildError": "run with -v to see the compiler commands, --debug for the traceback",
    "OSError": "check the path and its permissions",
}


def error_hint(exc) -> str:
    """A one-line suggestion for a user error.

    >>> error_hint(FileNotFoundError("x"))
    'check the path and its permissions'
    """
    for cls in type(exc).__mro__:
        if cls.__name__ in _HINTS:
            return _HINTS[cls.__name__]
    return "run with --debug to see where it was raised"


def _compile(args) -> int:
    from aotgraph.build import BuildOptions, build_module
    from aotgraph.errors import BuildError

    targets = [t.strip() for t in args.target.split(",") if t.strip()]
    for t in targets:
        if t not in TARGETS:
            raise BuildError(f"--target {t}: not available (available: {', '.join(TARGETS)})")
    options = BuildOptions(native=args.native, openmp=not args.no_openmp, blas=args.blas)
    modules = _load_spec(args.spec, args.debug)
    os.makedirs(args.output, exist_ok=True)
    if args.emit == "c-lib":
        from aotgraph.build.clib import build_c_library

        if targets != ["cpu"]:
            raise BuildError("--emit c-lib: only --target cpu is available for C libraries")
        if args.nan_guard or args.profile:
            raise BuildError(
                "--nan-guard and --profile build Python packages; drop them with --emit c-lib"
            )
        for module in modules:
            lib = build_c_library(module, args.output, options, verbose=args.verbose)
            print(f"built {lib.archive} and {lib.header} (link with {' '.join(lib.link_flags)})")
        return 0
    for module in modules:
        progress = _progress_reporter(module.name, args.verbose)
        debug = tuple(k for k in ("nan_guard", "profile") if getattr(args, k))
        pkg = build_module(
            module, args.output, options, verbose=args.verbose, progress=progress, debug=debug
        )
        if "cuda" in targets:  # the CUDA part: pkg/cuda.py (aotgraph/build/cuda.py)
            from aotgraph.build.cuda import build_cuda_package_part

            for fname, why in sorted(build_cuda_package_part(module, pkg).items()):
                print(f"aotgraph: {module.name}.{fname}: cpu only ({'; '.join(why)})")
        print(f"built {pkg}")
    return 0


def show_progress(stream=None, environ=None) -> bool:
    """Whether builds report their stages: only on a terminal, never in CI.

    >>> import io
    >>> show_progress(io.StringIO())
    False
    """
    stream = sys.stderr if stream is None else stream
    environ = os.environ if environ is None else environ
    if environ.get("CI"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _progress_reporter(module_name, verbose):
    """A stage callback printing ``aotgraph: <module>: <stage> (time)`` lines
    on standard error, or None when progress stays quiet."""
    import time

    if not (verbose or show_progress()):
        return None
    start = time.perf_counter()

    def report(stage):
        elapsed = time.perf_counter() - start
        print(f"aotgraph: {module_name}: {stage} ({elapsed:.1f}s)", file=sys.stderr, flush=True)

    return report


def _cache(args) -> int:
    from aotgraph.build.cache import cache_info, clear_cache, format_size

    if args.cache_command == "clear":
        result = clear_cache()
        busy = f", {result['busy']} busy (left in place)" if result["busy"] else ""
        removed = result["removed"]
        print(f"removed {removed} {'entry' if removed == 1 else 'entries'}{busy}")
        return 0
    info = cache_info()
    print(f"location: {info['location']}")
    print(f"entries: {info['entries']}")
    print(f"total size: {format_size(info['total_bytes'])} ({info['total_bytes']} bytes)")
    return 0


def _load_spec(path, debug):
    """The spec's Modules; an exception in the spec becomes a SpecError
    naming the spec line that raised it."""
    import traceback

    from aotgraph.errors import AotgraphError
    from aotgraph.spec import SpecError, load_spec

    try:
        return load_spec(path)
    except AotgraphError:
        raise
    except Exception as exc:
        if debug:
            raise
        spec = os.path.abspath(path)
        frames = [
            f
            for f in traceback.extract_tb(exc.__traceback__)
            if os.path.abspath(f.filename) == spec
        ]
        where = f" (line {frames[-1].lineno})" if frames else ""
        raise SpecError(f"spec {path} failed{where}: {type(exc).__name__}: {exc}") from None


def _info(args) -> int:
    from aotgraph.errors import BuildError

    path = os.path.abspath(args.path)
    pkg_dir = path if os.path.isdir(path) else os.path.dirname(path)
    init = os.path.join(pkg_dir, "__init__.py")
    if not os.path.isfile(init):
        raise BuildError(
            f"{args.path} is not a module built by aotgraph (no __init__.py beside it)"
        )
    info, functions, shared = _read_tables(init)
    if info is None:
        raise BuildError(f"{init} has no build_info: was it built by aotgraph?")
    print(json.dumps(info, indent=2, sort_keys=True))
    _print_compat(info)
    for name in sorted(functions or {}):
        print(f"function {functions[name].get('doc', name)}")
    for name, s in sorted((shared or {}).items()):
        dims = ", ".join("?" if d is None else str(d) for d in s["shape"])
        print(f"shared {name}: {s['dtype']}[{dims}]")
    return 0


def _print_compat(info):
    """The compatibility summary: versions, ISA, and whether this CPU can load it."""
    from aotgraph.build.pkg_runtime import ABI_VERSION, cpu_flags

    print(
        f"aotgraph {info.get('aotgraph_version')}, C ABI {info.get('c_abi_version')} "
        f"(this runtime: {ABI_VERSION}), content hash {info.get('hash')}"
    )
    print(f"compiler: {info.get('compiler')}")
    print(f"flags: {' '.join(info.get('flags', []))}")
    print(f"target ISA: {info.get('isa', 'not recorded (built by an older aotgraph)')}")
    required = info.get("cpu_features") or []
    have = cpu_flags() if required else set()
    if have is None:
        print(f"requires CPU features: {', '.join(required)} (this CPU's are unknown)")
    elif required:
        missing = sorted(set(required) - have)
        state = f"this CPU LACKS {', '.join(missing)}" if missing else "this CPU has them all"
        print(f"requires CPU features: {', '.join(required)} ({state})")


def _read_tables(init):
    """build_info, _FUNCTIONS and _SHARED of a generated __init__.py, read
    as literals (nothing is imported or run)."""
    with open(init, encoding="utf-8") as f:
        tree = ast.parse(f.read(), init)
    found = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            name = node.targets[0].id
            if name in ("build_info", "_FUNCTIONS", "_SHARED"):
                found[name] = ast.literal_eval(node.value)
    return found.get("build_info"), found.get("_FUNCTIONS"), found.get("_SHARED")


def _inspect(argv, debug=False) -> int:
    try:
        from aotgraph.opt import inspect as inspect_mod
    except ImportError:
        print(
            "aotgraph: the inspect command is not available in this installation "
            "(aotgraph.opt.inspect is missing)",
            file=sys.stderr,
        )
        return 1
    if not hasattr(inspect_mod, "main"):
        print("aotgraph: aotgraph.opt.inspect has no main(argv)", file=sys.stderr)
        return 1
    try:
        result = int(inspect_mod.main(argv) or 0)
    except Exception as exc:  # noqa: BLE001 - user-facing boundary (a spec that raises)
        if debug:
            raise
        print(
            f"aotgraph: error: {type(exc).__name__}: {exc}{_user_frame(exc)} "
            f"(hint: {error_hint(exc)})",
            file=sys.stderr,
        )
        return 1
    # inspect.main returns 2 for a spec it cannot use; usage errors exit 2 via argparse
    return 1 if result == 2 else result


def _user_frame(exc) -> str:
    """`` (at FILE:LINE)`` of the innermost traceback frame outside aotgraph
    and the standard library (the user's spec), or ``""``."""
    import sysconfig
    import traceback

    skip = (os.path.dirname(os.path.abspath(__file__)), sysconfig.get_paths()["stdlib"])
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not os.path.abspath(f.filename).startswith(skip) and not f.filename.startswith("<")
    ]
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
