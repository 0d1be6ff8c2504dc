"""With REDIS_URL set and the Redis server gone (a real closed port, not a mock), nothing
answers 500: the status page still answers (rendered afresh, or from its export when the
database cannot render either), and sign-ups refuse with a clear "try again"."""

from __future__ import annotations

import socket

import pytest
from django.db import OperationalError

from tideover.statuspage import render
from tideover.statuspage.services import export_status


@pytest.fixture
def redis_down(settings):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    return url


@pytest.mark.django_db
def test_status_page_answers_while_redis_is_down(client, outage, redis_down):
    page = client.get("/")
    assert page.status_code == 200 and "Registers cannot reach HQ" in page.content.decode()
    assert client.get("/api/v2/summary.json").status_code == 200


@pytest.mark.django_db
def test_status_page_serves_its_export_when_redis_and_the_database_are_down(
    client, outage, settings, monkeypatch, redis_down
):
    export_status(settings.STATUS_EXPORT_DIR)

    def database_down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(render, "index_page", database_down)
    page = client.get("/")
    assert page.status_code == 200 and "Registers cannot reach HQ" in page.content.decode()


@pytest.mark.django_db
def test_sign_up_refuses_with_try_again_while_redis_is_down(client, redis_down):
    answer = client.post("/subscribe/", {"channel": "email", "email": "shopper@example.com"})
    assert answer.status_code == 503
    assert "try again" in answer.content.decode().lower()
