import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tideover import env

ROOT = Path(__file__).resolve().parents[3]


def test_every_environment_setting_is_documented():
    source = (ROOT / "tideover" / "settings.py").read_text()
    names = set(re.findall(r'env(?:str|bool|int|float|list)\(\s*"([A-Z0-9_]+)"', source))
    documented = set(
        re.findall(r"^\| `([A-Z0-9_]+)` \|", (ROOT / "docs" / "configuration.md").read_text(), re.M)
    )
    assert names, "no settings found; has settings.py changed shape?"
    assert names - documented == set(), "add these to docs/configuration.md"


def test_bad_boolean_stops_the_start_with_the_name(monkeypatch):
    monkeypatch.setenv("TIDEOVER_TEST_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="TIDEOVER_TEST_FLAG"):
        env.envbool("TIDEOVER_TEST_FLAG")


def test_bad_number_stops_the_start_with_the_name(monkeypatch):
    monkeypatch.setenv("TIDEOVER_TEST_N", "ten")
    with pytest.raises(ImproperlyConfigured, match="TIDEOVER_TEST_N"):
        env.envint("TIDEOVER_TEST_N", 1)


def test_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("TIDEOVER_TEST_SECRET_FILE", str(secret))
    assert env.envstr("TIDEOVER_TEST_SECRET") == "s3cret"


def test_lists_are_comma_separated(monkeypatch):
    monkeypatch.setenv("TIDEOVER_TEST_LIST", "US, CA,,GB")
    assert env.envlist("TIDEOVER_TEST_LIST") == ["US", "CA", "GB"]


def test_a_deployment_behind_a_tls_proxy_gets_https_redirects_hsts_and_secure_cookies(tmp_path):
    """The settings docs/deploy.md gives, read by a fresh process as a deployment would."""
    import json
    import os
    import subprocess
    import sys

    probe = (
        "import json, django; from django.conf import settings as s; django.setup();"
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_PROXY_SSL_HEADER, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS]))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tideover.settings",
        "TIDEOVER_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "test-only",
        "SITE_URL": "https://status.example.com",
        "TRUSTED_PROTO_HEADER": "X-Forwarded-Proto",
        "HTTPS_REDIRECT": "true",
        "HSTS_SECONDS": "31536000",
    }
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == [
        True, True, ["HTTP_X_FORWARDED_PROTO", "https"], True, 31536000,
    ]  # fmt: skip


def test_check_deploy_requires_one_secret_key_once_machines_share_redis_or_a_database(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "SECRET_KEY_FILE")}
    env.update(TIDEOVER_DATA_DIR=str(tmp_path), REDIS_URL="redis://127.0.0.1:6379/9")
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "-m", "tideover", "manage", "check", "--deploy"]

    def check(**extra):
        return subprocess.run(
            command, env={**env, **extra}, cwd=ROOT, capture_output=True, text=True, timeout=120
        )

    made_here = check()
    assert made_here.returncode != 0 and "tideover.E001" in made_here.stderr
    assert "set SECRET_KEY (or SECRET_KEY_FILE) to one value everywhere" in made_here.stderr
    assert "tideover.E001" not in check(SECRET_KEY="one-for-every-machine-" * 3).stderr
    # One machine on its own SQLite file: the key in its data folder is all it needs.
    env.pop("REDIS_URL")
    assert "tideover.E001" not in check().stderr
