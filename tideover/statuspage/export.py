"""The static export: the whole public status page as files any web server or CDN can serve.

Only what changed is rendered: the front page, history, feeds and JSON documents are rendered
on every export (any public change shows on them), but an incident's page only when what it
shows changed. Each incident page's fingerprint (render.incident_fingerprint: its incident's
public data, the templates, the site settings) is kept in a manifest next to the folder; an
export renders the pages whose fingerprint is new and hard-links the others from the current
export. A page kept this way keeps the "generated" time of the export that rendered it.

The site is built in a temporary folder next to the target and swapped in with one atomic
rename (Linux ``renameat2(RENAME_EXCHANGE)`` when the target already exists), so a reader sees
the old site or the new one, never half of each. A lock file serialises exports from several
processes: the one that waited renders after the other's swap, so the newest state wins.
"""

from __future__ import annotations

import ctypes
import fcntl
import functools
import gzip
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tideover.statuspage import api_v2, render, snapshot
from tideover.statuspage.cache import GZIP_MIN_BYTES
from tideover.statuspage.render import Links

log = logging.getLogger("tideover.statuspage")

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@dataclass
class ExportResult:
    folder: Path
    files: int
    rewritten: int = 0  # files whose bytes changed; the others keep their inode and mtime
    rendered: int = 0  # documents rendered; the others were kept from the current export


def build_files(
    unchanged: dict[str, str] | None = None,
) -> tuple[dict[str, bytes], dict[str, str]]:
    """The files to write by relative path, and the fingerprint of every incident page.

    An incident page whose fingerprint equals its entry in ``unchanged`` (the current export's
    manifest) is not rendered and not in the files: the caller keeps the current copy."""
    unchanged = unchanged or {}
    top, nested = Links(root="", static=True), Links(root="../", static=True)
    files = {
        "index.html": render.index_page(top),
        "history.html": render.history_page(top),
        "feed.atom": render.feed("atom"),
        "feed.rss": render.feed("rss"),
    }
    site = render.incident_page_site_fingerprint(nested)
    pages = {}
    for pk, incident in snapshot.incidents_by_id(render.exported_incident_ids()).items():
        relative = f"incidents/{pk}.html"
        pages[relative] = render.incident_fingerprint(incident, site)
        if unchanged.get(relative) != pages[relative]:
            files[relative] = render.incident_page(pk, nested, incident)
    for name in api_v2.DOCUMENTS:
        files[f"api/v2/{name}"] = render.api_document(name)
    return files, pages


def _manifest_path(target: Path) -> Path:
    # Next to the folder, not in it: the web server publishes the folder.
    return target.parent / f".{target.name}.pages.json"


def _read_manifest(target: Path) -> dict[str, str]:
    """The current export's incident pages and their fingerprints, those whose file is there."""
    try:
        pages = json.loads(_manifest_path(target).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(pages, dict):
        return {}
    return {
        relative: digest
        for relative, digest in pages.items()
        if isinstance(digest, str) and (target / relative).is_file()
    }


def _write_manifest(target: Path, pages: dict[str, str]) -> None:
    """Written after the swap (and removed before it): if it is lost, the next export renders
    every page, never keeps one it should have rendered."""
    path = _manifest_path(target)
    try:
        staged = path.with_name(f"{path.name}.{os.getpid()}")
        staged.write_text(json.dumps(pages, sort_keys=True))
        staged.replace(path)
    except OSError:
        log.warning("could not write the export manifest; the next export renders every page")


def _write_tree(
    folder: Path, files: dict[str, bytes], current: Path | None = None, kept: tuple[str, ...] = ()
) -> int:
    """Write ``files`` under ``folder`` and hard-link the ``kept`` ones from the ``current``
    export; a file identical to the one in the ``current`` export is hard-linked from it too
    (same inode and mtime, so rsync, a CDN sync or a caching proxy sees it unchanged). Returns
    how many files were written afresh."""
    for relative in kept:
        _link_from(current / relative, folder / relative)
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


def _link_from(old: Path, new: Path) -> None:
    new.parent.mkdir(parents=True, exist_ok=True)
    os.link(old, new)
    packed = old.with_name(old.name + ".gz")
    if packed.exists():
        os.link(packed, new.with_name(new.name + ".gz"))


def _link_if_same(old: Path, new: Path, body: bytes) -> bool:
    try:
        if old.stat().st_size != len(body) or old.read_bytes() != body:
            return False
        os.link(old, new)
    except OSError:
        return False
    return True


@functools.cache
def _renameat2():
    """libc's renameat2, or None. Looked up once, in the symbols the process already has
    loaded: ``ctypes.util.find_library`` runs ``ldconfig`` (and may run gcc) in a child process
    at every call, which every export paid and which a worker's process checks caught."""
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except OSError:
        return None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux). False where the system cannot."""
    renameat2 = _renameat2()
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
            current = target if target.is_dir() else None
            files, pages = build_files(_read_manifest(target) if current else None)
            kept = tuple(relative for relative in pages if relative not in files)
            fresh = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
            try:
                rewritten = _write_tree(fresh, files, current, kept)
                # No manifest while the folder changes: one from before the swap could match
                # a page that changed back after it and keep the wrong copy.
                _manifest_path(target).unlink(missing_ok=True)
                _swap_into_place(fresh, target)
            finally:
                if fresh.exists():
                    shutil.rmtree(fresh, ignore_errors=True)
            _write_manifest(target, pages)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return ExportResult(
        folder=target, files=len(files) + len(kept), rewritten=rewritten, rendered=len(files)
    )
