"""The data folder (``TIDEOVER_DATA_DIR``, default ``data/`` beside the ``tideover`` package)
and the secret key kept in it.

Importing the settings creates and writes nothing: the ``tideover`` command and the WSGI entry
point call :func:`prepare` before Django reads the settings, so every process of one install
(web processes started together, workers) reads the same key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from tideover.env import envstr

BASE_DIR = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return Path(envstr("TIDEOVER_DATA_DIR", str(BASE_DIR / "data"))).resolve()


def key_file() -> Path:
    return data_dir() / "secret_key"


def prepare() -> None:
    """Create the data folder (with ``static/``) and, unless SECRET_KEY or SECRET_KEY_FILE is
    set, a secret key file. Safe when several processes start at once: one file wins."""
    folder = data_dir()
    (folder / "static").mkdir(parents=True, exist_ok=True)
    _keep_database_private(folder)
    if os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FILE"):
        return
    try:
        fd = os.open(key_file(), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(50))


def sqlite_path(folder: Path) -> Path | None:
    """The SQLite database file this install uses (None: another database)."""
    import dj_database_url

    url = os.environ.get("DATABASE_URL", "")
    if not url:
        return folder / "tideover.sqlite3"
    database = dj_database_url.parse(url)  # as the settings read it
    name = str(database.get("NAME") or "")
    if database["ENGINE"] != "django.db.backends.sqlite3" or name in ("", ":memory:"):
        return None
    return Path(name)


def _keep_database_private(folder: Path) -> None:
    """Only the install's own user may read the SQLite database (password hashes, session
    keys, shoppers' contacts): created 0600 before SQLite makes it with the umask's 0644,
    and an older one readable by everyone made readable by its owner and group only.
    SQLite gives its -wal and -shm files the database's mode."""
    path = sqlite_path(folder)
    if path is None:
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:  # no such folder, or not ours to write: SQLite will say what is wrong
        return
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(OSError):  # gone meanwhile, or another user's file
            mode = file.stat().st_mode
            if mode & 0o007:  # others' access goes; a group the operator chose stays
                file.chmod(mode & 0o770)


def read_key() -> str | None:
    """The key :func:`prepare` wrote, or None before it ran."""
    try:
        return key_file().read_text().strip() or None
    except FileNotFoundError:
        return None
