"""Runs that do what they say and nothing else: importing the settings writes nothing, help
names the command as typed, the web server uses every core unless told otherwise."""

import os
import subprocess
import sys
from pathlib import Path

from tideover.core.serving import default_web_workers, web_server_argv

ROOT = Path(__file__).resolve().parents[3]


def _python(code: str, data: Path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY",)}
    environment.update({"TIDEOVER_DATA_DIR": str(data), **env})
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_importing_the_settings_creates_no_folder_and_writes_no_key(tmp_path):
    data = tmp_path / "data"
    done = _python("import tideover.settings as s; print(len(s.SECRET_KEY))", data)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 40
    assert not data.exists()


def test_the_tideover_command_keeps_one_key_in_the_data_folder(tmp_path):
    data = tmp_path / "data"
    code = (
        "from tideover.datadir import prepare; prepare(); "
        "import tideover.settings as s; print(s.SECRET_KEY)"
    )
    first, second = _python(code, data), _python(code, data)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert (data / "secret_key").read_text() == first.stdout.strip()
    assert (data / "secret_key").stat().st_mode & 0o777 == 0o600


def test_command_help_names_the_command_as_the_user_typed_it(tmp_path):
    for name in ("demo", "export-status", "createtoken"):
        done = subprocess.run(
            [sys.executable, "-m", "tideover", name, "--help"],
            cwd=ROOT,
            env={**os.environ, "TIDEOVER_DATA_DIR": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: tideover {name} "), done.stdout[:80]


def test_web_server_starts_one_process_per_core_unless_told(monkeypatch):
    argv = web_server_argv("127.0.0.1:8000")
    assert argv[argv.index("--workers") + 1] == str(default_web_workers())
    assert default_web_workers() == len(os.sched_getaffinity(0))
    argv = web_server_argv("127.0.0.1:8000", workers=3)
    assert argv[argv.index("--workers") + 1] == "3"


def _make_test(
    tmp_path, sqlite: str, postgres: str, rq: str = "true"
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["scripts/test-both.sh", ".venv/bin", "postgresql://unused"],
        cwd=ROOT,
        env={
            **os.environ,
            "TEST_SQLITE_CMD": sqlite,
            "TEST_POSTGRES_CMD": postgres,
            "TEST_RQ_CMD": rq,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_test_runs_the_postgresql_half_even_when_sqlite_fails_and_reports_both(tmp_path):
    marker = tmp_path / "postgres-ran"
    done = _make_test(tmp_path, "false", f"touch {marker}", rq="false")
    assert marker.exists()
    assert done.returncode != 0
    assert done.stdout.strip().splitlines()[-1] == (
        "== make test: SQLite FAILED (exit 1); PostgreSQL passed; RQ + Redis FAILED (exit 1)"
    )


def test_make_test_reports_a_skipped_postgresql_half_as_skipped(tmp_path):
    done = _make_test(tmp_path, "true", "echo SKIPPED: PostgreSQL at x is unreachable")
    assert done.returncode == 0
    assert "PostgreSQL skipped (no server); RQ + Redis passed" in done.stdout


def test_the_web_command_of_a_deployment_loads_and_explains_itself(capsys):
    """``tideover web`` (the Procfile's web process) must at least start: its options load."""
    from django.core.management import load_command_class

    command = load_command_class("tideover.core", "web")
    parser = command.create_parser("tideover", "web")
    options = parser.parse_args(["--bind", "127.0.0.1:9", "--workers", "1"])
    assert options.workers == 1 and options.bind == "127.0.0.1:9"
