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


def _plain_file_name(name) -> bool:
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
    )


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
            # names must stay inside the entry (a manifest naming ../../dev/zero
            # would otherwise make the hash check read forever)
            ok = manifest.get("key") == key and all(
                _plain_file_name(name) and file_sha256(os.path.join(path, name)) == digest
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


def _tree_size(path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass  # removed meanwhile by a concurrent clear
    return total


def cache_info(root=None) -> dict:
    """Where the cache is, how many entries it holds and their total size.

    >>> import tempfile
    >>> info = cache_info(tempfile.mkdtemp())
    >>> (info["entries"], info["total_bytes"])
    (0, 0)
    """
    cache = BuildCache(root)
    entries = os.path.join(cache.root, "entries")
    keys = sorted(os.listdir(entries))
    return {
        "location": cache.root,
        "entries": len(keys),
        "total_bytes": _tree_size(cache.root),
    }


def clear_cache(root=None) -> dict:
    """Remove every cache entry; returns ``{"removed": n, "busy": m}``.

    Each entry is removed under its build lock, so a build of that key in
    another process finishes first (an entry whose lock is held longer than
    a few seconds is left in place and counted as busy).  Directories of
    builds in progress under ``tmp/`` are left alone.

    >>> import tempfile
    >>> clear_cache(tempfile.mkdtemp())
    {'removed': 0, 'busy': 0}
    """
    import filelock

    cache = BuildCache(root)
    entries = os.path.join(cache.root, "entries")
    removed = busy = 0
    for key in sorted(os.listdir(entries)):
        lock = filelock.FileLock(os.path.join(cache.root, "locks", key + ".lock"), timeout=5)
        try:
            with lock:
                shutil.rmtree(cache.entry_path(key), ignore_errors=True)
                removed += 1
        except filelock.Timeout:
            busy += 1
    return {"removed": removed, "busy": busy}


def format_size(n) -> str:
    """``n`` bytes in human units.

    >>> format_size(1536)
    '1.5 KiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
