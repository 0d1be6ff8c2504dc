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
