"""The data folder (``TIDEOVER_DATA_DIR``, default ``./data``) and the secret key kept in it.

Importing the settings creates and writes nothing: the ``tideover`` command and the WSGI entry
point call :func:`prepare` before Django reads the settings, so every process of one install
(web processes started together, workers) reads the same key.
"""

from __future__ import annotations

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
    if os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FILE"):
        return
    try:
        fd = os.open(key_file(), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(50))


def read_key() -> str | None:
    """The key :func:`prepare` wrote, or None before it ran."""
    try:
        return key_file().read_text().strip() or None
    except FileNotFoundError:
        return None
