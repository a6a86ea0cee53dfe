"""Every shell command and Python snippet of the docs and the README runs.

Conventions of the Markdown files (see docs/README.md, "Conventions"):

- a ```` ```python ```` block runs in one namespace shared by the blocks of
  its file, in order; a block starting with ``>>>`` runs as a doctest (its
  shown output is checked);
- a ```` ```sh ```` block runs line by line in bash (``\\`` continues a line);
- ``<!-- file: NAME -->`` before a block writes the block to ``NAME``
  instead of running it;
- ``<!-- skip: reason -->`` before a block leaves it out (network access,
  long builds); other languages (``text``, ``toml``) are never run.

Each file runs in a fresh interpreter in a temporary directory holding a
link to the repository's ``examples/``, so relative paths work as they do
from the repository root.  In the README, ``pip install`` steps (network)
and ``python -m pytest`` (this suite itself) are skipped.
"""

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs")
FENCE = re.compile(r"^(?:<!-- (file|skip): ?(.*?) -->\n)?```(\w*)\n(.*?)^```$", re.M | re.S)
RUNNABLE = ("python", "sh")

DRIVER = r"""
import doctest, json, os, subprocess, sys
blocks = json.load(open(sys.argv[1]))
ns = {"__name__": "__docs__"}
for b in blocks:
    where = f"{b['file']}:{b['line']}"
    print(f"--- {where} ({b['kind']})", flush=True)
    if b["kind"] == "file":
        os.makedirs(os.path.dirname(b["name"]) or ".", exist_ok=True)
        with open(b["name"], "w") as f:
            f.write(b["text"])
    elif b["kind"] == "sh":
        for cmd in b["commands"]:
            print(f"$ {cmd}", flush=True)
            rc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", cmd]).returncode
            if rc:
                sys.exit(f"{where}: command failed with status {rc}: {cmd}")
    elif b["text"].lstrip().startswith(">>>"):
        test = doctest.DocTestParser().get_doctest(b["text"], ns, where, b["file"], b["line"])
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        failed = runner.run(test, clear_globs=False).failed
        ns.update(test.globs)  # DocTest runs in a copy of the namespace
        if failed:
            sys.exit(f"{where}: doctest failed")
    else:
        exec(compile(b["text"], where, "exec"), ns)
"""


def shell_commands(text):
    """The commands of a sh block: ``\\`` joins lines; comments are dropped."""
    joined = text.replace("\\\n", " ")
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def fenced_blocks(path):
    """(kind, marker argument, text, line) of each fenced block of ``path``."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for m in FENCE.finditer(text):
        line = text.count("\n", 0, m.start(4)) + 1
        yield m.group(1), m.group(2), m.group(3), m.group(4), line


def runnable_blocks(path):
    rel = os.path.relpath(path, ROOT)
    blocks = []
    for marker, arg, lang, text, line in fenced_blocks(path):
        if marker == "file":
            blocks.append({"kind": "file", "name": arg, "text": text, "file": rel, "line": line})
        elif marker == "skip" or lang not in RUNNABLE:
            continue
        elif lang == "sh":
            blocks.append(
                {"kind": "sh", "commands": shell_commands(text), "file": rel, "line": line}
            )
        else:
            blocks.append({"kind": "python", "text": text, "file": rel, "line": line})
    return blocks


def readme_blocks():
    """The README's indented command lines (pip installs and pytest left out)
    and its fenced Python blocks."""
    path = os.path.join(ROOT, "README.md")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    blocks = []
    for i, line in enumerate(lines, 1):
        if not line.startswith("    python "):
            continue
        steps = [s.strip() for s in line.strip().split("&&")]
        keep = [s for s in steps if not re.match(r"python -m (pip install|pytest)", s)]
        if keep:
            blocks.append(
                {"kind": "sh", "commands": [" && ".join(keep)], "file": "README.md", "line": i}
            )
    return blocks + runnable_blocks(path)


def run_blocks(blocks, tmp_path, timeout=900):
    os.symlink(os.path.join(ROOT, "examples"), tmp_path / "examples")
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    (tmp_path / "driver.py").write_text(DRIVER)
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    )
    run = subprocess.run(
        [sys.executable, "driver.py", "blocks.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, f"{run.stdout[-6000:]}\n{run.stderr[-6000:]}"
    return run.stdout


DOC_FILES = sorted(f for f in os.listdir(DOCS) if f.endswith(".md"))


RUNNABLE_DOCS = [n for n in DOC_FILES if runnable_blocks(os.path.join(DOCS, n))]


@pytest.mark.parametrize("name", RUNNABLE_DOCS)
def test_doc_runs(name, tmp_path):
    run_blocks(runnable_blocks(os.path.join(DOCS, name)), tmp_path)


def test_guides_have_runnable_blocks():
    """Only the index and the generated API page are prose only."""
    assert set(DOC_FILES) - set(RUNNABLE_DOCS) <= {"README.md", "api.md"}


def test_readme_runs(tmp_path):
    blocks = readme_blocks()
    assert any(b["kind"] == "sh" for b in blocks), "the README's commands were not found"
    run_blocks(blocks, tmp_path)


def test_skipped_blocks_say_why():
    for name in DOC_FILES:
        for marker, arg, _, _, line in fenced_blocks(os.path.join(DOCS, name)):
            if marker == "skip":
                assert arg.strip(), f"docs/{name}:{line}: a skip marker needs a reason"


def test_every_doc_is_linked_from_the_index():
    with open(os.path.join(DOCS, "README.md"), encoding="utf-8") as f:
        index = f.read()
    missing = [n for n in DOC_FILES if n != "README.md" and f"({n})" not in index]
    assert not missing, f"docs/README.md does not link {missing}"


def test_api_reference_matches_docstrings():
    """docs/api.md is what docs/gen_api.py renders from today's docstrings,
    and it covers every name SPEC §2 lists."""
    sys.path.insert(0, DOCS)
    try:
        import gen_api
    finally:
        sys.path.remove(DOCS)
    with open(os.path.join(DOCS, "api.md"), encoding="utf-8") as f:
        assert f.read() == gen_api.render(), "docs/api.md is stale: run python docs/gen_api.py"
    assert gen_api.missing_names() == []
