"""The content-hash build cache.

An entry is a directory ``entries/<key>/`` holding the compiled extension,
the sources it was built from and ``manifest.json`` (sha256 of each file).
Entries are built under ``tmp/`` and renamed into place; a per-key file lock
makes concurrent builds of one module compile once; an entry whose files no
longer match the manifest is discarded and rebuilt.

The directory is ``$AOTGRAPH_CACHE`` or ``platformdirs.user_cache_dir("aotgraph")``,
created with mode 0700.  A directory that other users could write to is
refused: a planted extension would run as the user at import.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile

from aotgraph.errors import BuildError

MANIFEST = "manifest.json"


def cache_dir() -> str:
    """The cache root (created 0700 if missing, checked if present)."""
    path = os.environ.get("AOTGRAPH_CACHE")
    if not path:
        import platformdirs

        path = platformdirs.user_cache_dir("aotgraph")
    path = os.path.abspath(os.path.expanduser(path))
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise BuildError(
            f"cannot create the aotgraph build cache {path}: {exc}; set AOTGRAPH_CACHE "
            "to a writable directory"
        ) from None
    check_private(path)
    return path


def check_private(path):
    """Refuse a cache directory another user could write to or owns."""
    st = os.stat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise BuildError(f"the aotgraph build cache {path} is not a directory")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise BuildError(
            f"the aotgraph build cache {path} is owned by another user (uid {st.st_uid}); "
            "extensions loaded from it would run code they control. Set AOTGRAPH_CACHE "
            "to a directory of your own"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise BuildError(
            f"the aotgraph build cache {path} is writable by group or others "
            f"(mode {stat.S_IMODE(st.st_mode):o}); extensions loaded from it could be "
            f"replaced. Run `chmod 700 {path}` or set AOTGRAPH_CACHE to a private directory"
        )


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class BuildCache:
    """Entries keyed by content hash under one cache root."""

    def __init__(self, root=None):
        self.root = root or cache_dir()
        for sub in ("entries", "locks", "tmp"):
            os.makedirs(os.path.join(self.root, sub), mode=0o700, exist_ok=True)

    def entry_path(self, key) -> str:
        return os.path.join(self.root, "entries", key)

    def lock(self, key):
        import filelock

        return filelock.FileLock(os.path.join(self.root, "locks", key + ".lock"), timeout=3600)

    def lookup(self, key):
        """The manifest of a valid entry, or None (invalid entries are removed)."""
        path = self.entry_path(key)
        try:
            with open(os.path.join(path, MANIFEST), encoding="utf-8") as f:
                manifest = json.load(f)
            ok = manifest.get("key") == key and all(
                file_sha256(os.path.join(path, name)) == digest
                for name, digest in manifest["files"].items()
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            ok = False
        if ok:
            return manifest
        if os.path.exists(path):
            shutil.rmtree(path, ignore_errors=True)
        return None

    def new_build_dir(self, key) -> str:
        return tempfile.mkdtemp(prefix=key[:16] + "-", dir=os.path.join(self.root, "tmp"))

    def commit(self, key, build_dir, files, info) -> dict:
        """Record ``files`` (relative to ``build_dir``) and move it into place."""
        manifest = {
            "key": key,
            "files": {name: file_sha256(os.path.join(build_dir, name)) for name in sorted(files)},
            "build_info": info,
        }
        with open(os.path.join(build_dir, MANIFEST), "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
        target = self.entry_path(key)
        if os.path.exists(target):
            shutil.rmtree(target, ignore_errors=True)
        os.rename(build_dir, target)
        return manifest
