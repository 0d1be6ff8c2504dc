"""After a change each document is rendered once, not once per waiting request: while one
caller (a request, another web process, the publish task) renders the new version, the others
are answered with the page before it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.core.cache import cache as django_cache

from tideover.core.tests.tasks import run_queued_tasks
from tideover.incidents import services
from tideover.statuspage import cache, render
from tideover.statuspage.fastpath import StatusPageFastPath
from tideover.statuspage.tests.test_fastpath import Downstream, call

pytestmark = pytest.mark.django_db


@pytest.fixture
def index_renders(monkeypatch):
    """How many times the front page is rendered (the real renderer, counted)."""
    counted = []
    real = render.index_page

    def index_page(*args, **kwargs):
        counted.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(render, "index_page", index_page)
    return counted


@pytest.fixture
def fresh_process():
    """This test's process as one that has served nothing yet."""
    cache._previous.clear()
    yield
    cache._previous.clear()


def _update(outage, text, capture):
    """A change whose publish task does not come (no worker runs): once its hold lapses, the
    readers render it, and the claim below keeps that to one render."""
    with capture(execute=True):
        services.post_public_update(outage, text)
    cache.release(cache.current_version())  # what the hold's timeout does


def test_after_a_change_no_reader_renders_the_publish_task_renders_it_once(
    client, outage, index_renders, django_capture_on_commit_callbacks
):
    before = client.get("/").content
    index_renders.clear()
    for n in range(10):  # ten updates in a burst
        with django_capture_on_commit_callbacks(execute=True):
            services.post_public_update(outage, f"Update number {n}.")
        assert client.get("/").content == before
        assert call(StatusPageFastPath(Downstream(), ""), "/")["body"] == before
    assert index_renders == []
    run_queued_tasks()
    # One for the served page, one for the static export (its links differ).
    assert len(index_renders) == 2
    index_renders.clear()
    assert "Update number 9." in client.get("/").content.decode()
    assert "Update number 9." in call(StatusPageFastPath(Downstream(), ""), "/")["body"].decode()
    assert index_renders == []


def _claim_as_another_process(name="index.html"):
    assert django_cache.add(cache._claim_key(cache.current_version(), name), 1, timeout=10)


def test_while_another_process_renders_a_change_readers_get_the_page_before_it(
    client, outage, fresh_process, index_renders, django_capture_on_commit_callbacks
):
    client.get("/")
    _update(outage, "Registers in the north are back.", django_capture_on_commit_callbacks)
    _claim_as_another_process()
    index_renders.clear()

    during = client.get("/").content.decode()
    fast = call(StatusPageFastPath(Downstream(), ""), "/")
    assert index_renders == [], "nobody waits on, or repeats, the render in progress"
    assert "Registers in the north are back." not in during
    assert "We found the cause" in during and fast["body"].decode() == during

    django_cache.delete(cache._claim_key(cache.current_version(), "index.html"))
    after = client.get("/").content.decode()
    assert "Registers in the north are back." in after
    assert len(index_renders) == 1


def test_a_process_that_holds_no_earlier_page_renders_it_itself(
    client, outage, fresh_process, index_renders
):
    _claim_as_another_process()
    assert "Registers cannot reach HQ" in client.get("/").content.decode()
    assert len(index_renders) == 1


def test_concurrent_requests_after_a_change_render_the_page_once(
    outage, fresh_process, monkeypatch, django_capture_on_commit_callbacks
):
    builds = []

    def slow_build():
        builds.append(1)
        time.sleep(0.3)  # long enough that the other requests arrive while it renders
        return f"page {len(builds)}".encode()

    cache.get_or_render("index.html", slow_build, "text/html")
    _update(outage, "Registers in the north are back.", django_capture_on_commit_callbacks)
    answers = []

    def request():
        answers.append(cache.get_or_render("index.html", slow_build, "text/html").body)

    threads = [threading.Thread(target=request) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(builds) == 2, "one render for the first version, one for the change"
    assert answers.count(b"page 2") >= 1 and set(answers) <= {b"page 1", b"page 2"}
    assert cache.get_or_render("index.html", slow_build, "text/html").body == b"page 2"


def test_a_new_rendering_removes_the_one_it_supersedes_from_the_shared_cache(
    client, outage, settings, django_capture_on_commit_callbacks
):
    def entries():
        return len(list(Path(settings.CACHES["default"]["LOCATION"]).glob("*.djcache")))

    if not settings.CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
        pytest.skip("counts the file cache's entries")
    client.get("/")
    client.get("/api/v2/summary.json")
    before = entries()
    for n in range(10):
        _update(outage, f"Update number {n}.", django_capture_on_commit_callbacks)
        client.get("/")
        client.get("/api/v2/summary.json")
    assert "Update number 9." in client.get("/").content.decode()
    # Plus the "publish pending" flag of the queued export: one entry per document, not per change.
    assert entries() == before + 1
