"""The static export: the whole public status page as files any web server or CDN can serve.

The site is built in a temporary folder next to the target and swapped in with one atomic
rename (Linux ``renameat2(RENAME_EXCHANGE)`` when the target already exists), so a reader sees
the old site or the new one, never half of each. A lock file serialises exports from several
processes: the one that waited renders after the other's swap, so the newest state wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import gzip
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tideover.statuspage import api_v2, render, snapshot
from tideover.statuspage.cache import GZIP_MIN_BYTES
from tideover.statuspage.render import Links

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@dataclass
class ExportResult:
    folder: Path
    files: int
    rewritten: int = 0  # files whose bytes changed; the others keep their inode and mtime


def build_files() -> dict[str, bytes]:
    """Every file of the export by its relative path."""
    top, nested = Links(root="", static=True), Links(root="../", static=True)
    files = {
        "index.html": render.index_page(top),
        "history.html": render.history_page(top),
        "feed.atom": render.feed("atom"),
        "feed.rss": render.feed("rss"),
    }
    for pk, incident in snapshot.incidents_by_id(render.exported_incident_ids()).items():
        files[f"incidents/{pk}.html"] = render.incident_page(pk, nested, incident)
    for name in api_v2.DOCUMENTS:
        files[f"api/v2/{name}"] = render.api_document(name)
    return files


def _write_tree(folder: Path, files: dict[str, bytes], current: Path | None = None) -> int:
    """Write ``files`` under ``folder``; a file identical to the one in the ``current`` export
    is hard-linked from it instead (same inode and mtime, so rsync, a CDN sync or a caching
    proxy sees it unchanged). Returns how many files were written afresh."""
    written = 0
    for relative, body in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if current is not None and _link_if_same(current / relative, path, body):
            packed = current / (relative + ".gz")
            if packed.exists():
                os.link(packed, path.with_name(path.name + ".gz"))
            continue
        written += 1
        path.write_bytes(body)
        path.chmod(0o644)
        if len(body) >= GZIP_MIN_BYTES:
            # Pre-compressed twins for nginx ``gzip_static`` and CDNs that honour them.
            packed = path.with_name(path.name + ".gz")
            packed.write_bytes(gzip.compress(body, 6, mtime=0))
            packed.chmod(0o644)
    folder.chmod(0o755)
    return written


def _link_if_same(old: Path, new: Path, body: bytes) -> bool:
    try:
        if old.stat().st_size != len(body) or old.read_bytes() != body:
            return False
        os.link(old, new)
    except OSError:
        return False
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux). False where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def _swap_into_place(fresh: Path, target: Path) -> None:
    if not target.exists():
        fresh.rename(target)
        return
    if _exchange(fresh, target):
        shutil.rmtree(fresh, ignore_errors=True)  # ``fresh`` now holds the old site
        return
    # Fallback: two renames; the target is missing for a moment but never half-written.
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def export_to(folder: str | os.PathLike) -> ExportResult:
    """Render the public status page into ``folder`` and swap it in atomically."""
    target = Path(folder).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            files = build_files()
            fresh = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
            try:
                rewritten = _write_tree(fresh, files, target if target.is_dir() else None)
                _swap_into_place(fresh, target)
            finally:
                if fresh.exists():
                    shutil.rmtree(fresh, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return ExportResult(folder=target, files=len(files), rewritten=rewritten)
