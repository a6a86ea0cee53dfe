"""``python -m aotgraph inspect spec.py [--function NAME] [--dot FILE]``.

Shows, for each function of the spec's modules, the graph before and after
optimization, the node count after each pass and the rules that fired.
``--dot FILE`` writes Graphviz source of the optimized graph; a ``.svg``,
``.png`` or ``.pdf`` FILE is rendered with the ``dot`` program when it is
installed (otherwise the source is written next to it as ``FILE.dot``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

RENDERED = (".svg", ".png", ".pdf")


def _parser():
    parser = argparse.ArgumentParser(
        prog="aotgraph inspect",
        description="Show a spec's graphs before and after optimization.",
    )
    parser.add_argument("spec", help="the spec file (a Python file creating ag.Module objects)")
    parser.add_argument("--function", "-f", metavar="NAME", help="only this function")
    parser.add_argument("--dot", metavar="FILE", help="write Graphviz of the optimized graph")
    return parser


def _selected(modules, name):
    found = []
    for mod in modules:
        for fname, fg in mod.functions.items():
            if name is None or fname == name or f"{mod.name}.{fname}" == name:
                found.append((f"{mod.name}.{fname}", fg))
    return found


def _dot_path(path, qualified, several):
    if not several:
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}.{qualified}{ext}"


def write_dot(text, path, err):
    """Write dot source to ``path``, rendered when its extension asks for it.
    Returns the path written, or None when rendering failed."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in RENDERED:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path
    dot = shutil.which("dot")
    if dot is None:
        source = path + ".dot"
        with open(source, "w", encoding="utf-8") as fh:
            fh.write(text)
        err.write(
            f"aotgraph inspect: the Graphviz 'dot' program is not installed, so {path} "
            f"was not rendered; wrote the dot source to {source} instead\n"
        )
        return source
    done = subprocess.run(
        [dot, f"-T{ext[1:]}", "-o", path], input=text.encode(), capture_output=True
    )
    if done.returncode != 0:
        err.write(
            f"aotgraph inspect: dot failed to render {path} (exit {done.returncode}): "
            f"{done.stderr.decode(errors='replace').strip()}\n"
        )
        return None
    return path


def inspect_function(qualified, fgraph, out):
    """Print one function's report; returns the optimized graph."""
    from aotgraph.opt import optimize_graph
    from aotgraph.opt.record import OptRecord
    from aotgraph.printing import debugprint

    out.write(f"=== {qualified} ===\n")
    out.write("--- before optimization ---\n")
    debugprint(fgraph, file=out)
    record = OptRecord()
    optimized = optimize_graph(fgraph, record=record)
    out.write("--- after optimization ---\n")
    debugprint(optimized, file=out, with_trace=True)
    out.write("--- optimizer ---\n")
    out.write(record.summary() + "\n")
    return optimized


def main(argv=None, out=None, err=None):
    """Run ``inspect``; returns the process exit code (0 on success)."""
    from aotgraph.errors import AotgraphError
    from aotgraph.printing import dot_text
    from aotgraph.spec import load_spec

    out = out or sys.stdout
    err = err or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["inspect"]:
        argv = argv[1:]
    args = _parser().parse_args(argv)
    try:
        modules = load_spec(args.spec)
    except AotgraphError as exc:
        err.write(f"aotgraph inspect: {exc}\n")
        return 2
    chosen = _selected(modules, args.function)
    if not chosen:
        names = ", ".join(f"{m.name}.{f}" for m in modules for f in m.functions) or "none"
        what = f"no function named {args.function!r}" if args.function else "no functions"
        err.write(f"aotgraph inspect: {args.spec} has {what}; functions: {names}\n")
        return 2
    for qualified, fgraph in chosen:
        optimized = inspect_function(qualified, fgraph, out)
        if args.dot:
            path = _dot_path(args.dot, qualified, len(chosen) > 1)
            written = write_dot(dot_text(optimized), path, err)
            if written is None:
                return 1
            out.write(f"wrote {written}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
