"""When Tideover's own parts fail, the status page keeps answering."""

import pytest
from django.core.cache import caches
from django.db import OperationalError

from tideover.statuspage import cache, render
from tideover.statuspage.services import export_status


@pytest.mark.django_db
def test_page_still_renders_when_the_cache_server_is_down(client, outage, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionError("redis is down")

    backend = caches["default"]
    for method in ("get", "set", "add"):
        monkeypatch.setattr(backend, method, refuse)
    assert cache.current_version() == cache.UNAVAILABLE
    response = client.get("/")
    assert response.status_code == 200
    assert "Registers cannot reach HQ" in response.content.decode()
    assert client.get("/api/v2/summary.json").json()["status"]["indicator"] == "critical"


@pytest.mark.django_db
def test_last_export_is_served_when_the_database_cannot_render(
    client, outage, settings, monkeypatch
):
    export_status(settings.STATUS_EXPORT_DIR)

    def database_down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(render, "index_page", database_down)
    monkeypatch.setattr(render, "incident_page", database_down)
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Registers cannot reach HQ" in html
    # The export links relatively; those names answer on the served site too.
    assert f'href="incidents/{outage.pk}.html"' in html
    detail = client.get(f"/incidents/{outage.pk}.html")
    assert detail.status_code == 200 and "We found the cause" in detail.content.decode()


@pytest.mark.django_db
def test_without_an_export_a_database_failure_is_not_hidden(client, outage, monkeypatch, settings):
    settings.STATUS_EXPORT_DIR = ""

    def database_down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(render, "history_page", database_down)
    with pytest.raises(OperationalError):
        client.get("/history")
