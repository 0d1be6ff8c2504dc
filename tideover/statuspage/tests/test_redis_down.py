"""With REDIS_URL set and the Redis server gone (a real closed port, not a mock), nothing
answers 500: the status page still answers (rendered afresh, or from its export when the
database cannot render either), and sign-ups refuse with a clear "try again"."""

from __future__ import annotations

import socket
import time

import pytest
from django.db import OperationalError
from django.test import Client

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
    if getattr(settings, "RQ_QUEUES", None):  # tasks on RQ: the queue is down too
        settings.RQ_QUEUES = {"default": {"URL": url, "DEFAULT_TIMEOUT": 600}}
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


@pytest.mark.django_db(transaction=True)
def test_declaring_an_incident_while_redis_is_down_answers_201_and_queues_its_messages(
    severities, components, api_token, redis_down
):
    """Waking the workers after the commit is best effort: the periodic drain sends anyway."""
    from tideover.incidents.models import Incident
    from tideover.notifications.models import OutboxMessage, Subscriber

    Subscriber.objects.create(channel="email", address="shopper@example.com", state="active")
    answer = Client(raise_request_exception=False).post(
        "/api/v1/incidents",
        {
            "title": "Checkout down",
            "severity": "SEV1",
            "components": [{"component": "in-store-checkout"}],
            "message": "We are looking into it.",
        },
        content_type="application/json",
        **api_token("incidents:write"),
    )
    assert answer.status_code == 201, answer.content
    incident = Incident.objects.get(title="Checkout down")
    assert OutboxMessage.objects.filter(incident_id=incident.pk, recipient="shopper@example.com")


@pytest.mark.django_db(transaction=True)
def test_an_update_posted_while_redis_was_down_still_shows_once_it_is_back(
    client, outage, settings, monkeypatch
):
    """The cache comes back holding the page from before the update: it is told at once."""
    from tideover.incidents import services
    from tideover.statuspage import cache_owed

    monkeypatch.setattr(cache_owed, "RETRY_SECONDS", 0.1)
    up = settings.CACHES
    assert client.get("/").status_code == 200  # cached before the outage
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = f"redis://127.0.0.1:{port}/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": down,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    services.post_public_update(outage, "Registers are taking cards again.", state="monitoring")
    assert "Registers are taking cards again." in client.get("/").content.decode()

    settings.CACHES = up  # the cache is back, with the page from before the update
    deadline = time.monotonic() + 10
    while "Registers are taking cards again." not in client.get("/").content.decode():
        assert time.monotonic() < deadline, "the page from before the outage is served again"
        time.sleep(0.1)
