"""The data folder keeps the SQLite database for the install's own user."""

import os

from tideover import datadir


def test_a_new_database_is_made_readable_by_its_owner_only(tmp_path, monkeypatch):
    monkeypatch.setenv("TIDEOVER_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    datadir.prepare()
    assert (tmp_path / "tideover.sqlite3").stat().st_mode & 0o777 == 0o600


def test_an_older_database_and_its_wal_are_closed_to_other_users(tmp_path, monkeypatch):
    database = tmp_path / "other.sqlite3"
    for name in ("other.sqlite3", "other.sqlite3-wal", "other.sqlite3-shm"):
        (tmp_path / name).write_bytes(b"")
        os.chmod(tmp_path / name, 0o644)
    monkeypatch.setenv("TIDEOVER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    datadir.prepare()
    for name in ("other.sqlite3", "other.sqlite3-wal", "other.sqlite3-shm"):
        # Others lose access; the group the operator gave it keeps what it had.
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o640, name


def test_another_database_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("TIDEOVER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/x")
    datadir.prepare()
    assert not (tmp_path / "tideover.sqlite3").exists()
