"""Fixtures shared by every app's tests: a small chain, components, severities, one user per
role (plus an outsider), logged-in clients and API tokens. Tests never leave this machine."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

_real_connect = socket.socket.connect


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise OSError(f"tests may not leave this machine (tried {host})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def no_internet():
    socket.socket.connect = _loopback_only
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(autouse=True, scope="session")
def _redis_database_per_test_process():
    """With REDIS_URL set (the RQ + Redis pass, scripts/test-rq.sh), each xdist process takes a
    Redis database of its own (the URL's number plus its index), because RQ's queue keys have
    no prefix: two processes sharing one would run each other's tasks."""
    import os

    from django.conf import settings

    if not settings.REDIS_URL:
        yield
        return
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    base, _, number = settings.REDIS_URL.rpartition("/")
    url = f"{base}/{int(number or 0) + index}"
    settings.REDIS_URL = url
    settings.CACHES["default"]["LOCATION"] = url
    if getattr(settings, "RQ_QUEUES", None):
        settings.RQ_QUEUES = {
            name: {**queue, "URL": url} for name, queue in settings.RQ_QUEUES.items()
        }
    os.environ["REDIS_URL"] = url  # for worker processes the tests start
    yield


@pytest.fixture(autouse=True)
def _empty_task_queue(_redis_database_per_test_process):
    """On RQ, each test starts with an empty queue in its process's own Redis database."""
    from django.conf import settings

    if getattr(settings, "RQ_QUEUES", None) and "django_rq" in settings.INSTALLED_APPS:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture(autouse=True)
def _isolated_cache(settings, tmp_path):
    """Each test gets its own cache and static-export folder, on the backend the product runs:
    Redis with REDIS_URL set (under a key prefix of its own), else the file cache (in a folder
    of its own). Never an in-memory cache, which hides what the real one does."""
    import uuid

    configured = settings.CACHES["default"]
    if configured["BACKEND"].endswith("FileBasedCache"):
        settings.CACHES = {"default": {**configured, "LOCATION": str(tmp_path / "cache")}}
    else:
        settings.CACHES = {"default": {**configured, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}
    settings.STATUS_EXPORT_DIR = str(tmp_path / "status-export")
    # What this process remembers of the status page belongs to the cache it came from: a page
    # from an earlier test's data would be served while a change of this test is being rendered.
    from tideover.statuspage import cache as status_cache

    status_cache.forget_process_state()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Every test makes staff users; the real (slow on purpose) hasher costs ~0.2 s each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_configure(config):
    # The settings create nothing when imported; the test database lives in the data folder.
    from tideover.datadir import prepare

    prepare()


def pytest_sessionfinish(session, exitstatus):
    """The test runner deletes this process's SQLite test database, but not the lock files
    delivery and Detect keep beside it (notifications/delivery.py, detect/scoring.py)."""
    from pathlib import Path

    from django.conf import settings

    from tideover.core.lockfiles import SUFFIXES

    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if name and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        for suffix in SUFFIXES:
            Path(f"{name}{suffix}").unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _no_status_page_retry_outlives_its_test():
    """A test whose cache was down leaves a thread retrying for minutes (statuspage/
    cache_owed.py): it must not bump a later test's cache or queue its task."""
    yield
    from tideover.statuspage import cache_owed

    if cache_owed.pending():
        cache_owed.forget()


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip = pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL=postgresql://...)")
    for item in items:
        if "postgres_only" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture
def severities(db):
    from tideover.incidents.models import Severity
    from tideover.incidents.services import ensure_default_severities

    ensure_default_severities()
    return {s.name: s for s in Severity.objects.all()}


@pytest.fixture
def components(db):
    from tideover.core.models import Component

    names = [
        "In-store checkout",
        "Card payments",
        "Online checkout",
        "Loyalty & rewards",
        "Mobile app",
    ]
    return {
        slug: Component.objects.create(name=name, slug=slug, position=i)
        for i, (name, slug) in enumerate(
            zip(
                names,
                ["in-store-checkout", "card-payments", "online-checkout", "loyalty", "mobile-app"],
                strict=True,
            )
        )
    }


@pytest.fixture
def chain(db):
    """Two regions with two stores each, and a register per store."""
    from tideover.core.models import Region, Register, Store

    north = Region.objects.create(name="North", slug="north")
    south = Region.objects.create(name="South", slug="south")
    stores = {}
    for code, region in (("S001", north), ("S002", north), ("S003", south), ("S004", south)):
        store = Store.objects.create(
            code=code, name=f"Store {code}", region=region, time_zone="America/Chicago"
        )
        Register.objects.create(store=store, code="R1")
        stores[code] = store
    return {"regions": {"north": north, "south": south}, "stores": stores}


@pytest.fixture
def staff(db, chain):
    """One user per role (named after it), 'outsider' with no role, associates of S001 and S002."""
    from tideover.core.models import StaffProfile
    from tideover.core.roles import Role
    from tideover.core.services import ensure_role_groups, grant_role

    ensure_role_groups()
    User = get_user_model()
    users = {}
    for role in Role:
        user = User.objects.create_user(
            role.value, f"{role.value}@staff.example", "pw-for-tests-only"
        )
        grant_role(user, role)
        users[role.value] = user
    for role in (Role.STORE_ASSOCIATE, Role.STORE_MANAGER):
        StaffProfile.objects.create(user=users[role.value], store=chain["stores"]["S001"])
    other = User.objects.create_user("associate_s002", "", "pw-for-tests-only")
    grant_role(other, Role.STORE_ASSOCIATE)
    StaffProfile.objects.create(user=other, store=chain["stores"]["S002"])
    users["associate_s002"] = other
    users["outsider"] = User.objects.create_user("outsider", "", "pw-for-tests-only")
    return users


@pytest.fixture
def client_as(staff):
    """client_as('comms') -> a Django test client logged in as that role's user."""

    def make(name: str) -> Client:
        client = Client()
        client.force_login(staff[name])
        return client

    return make


@pytest.fixture
def api_token(db):
    """api_token('incidents:write', store=store) -> headers with a fresh bearer token."""
    from tideover.core.services import create_api_token

    def make(*scopes: str, store=None, name: str = "test token") -> dict:
        _, secret = create_api_token(name=name, scopes=list(scopes), store=store)
        return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    return make


@pytest.fixture
def phone_page(monkeypatch, live_server, transactional_db):
    """A page in real Chromium on a phone-sized screen. The database is set up before
    Playwright's event loop starts and flushed after it stops, so Django's connections stay the
    main thread's own (otherwise PostgreSQL is left with an open session at teardown)."""
    from tideover.core.tests.browser import phone_browser

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # meanwhile are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with phone_browser() as page:
        yield page
        # ORM calls the test made while Playwright's loop ran got connections of their own
        # (Django keeps them per async context): closed here, inside that context, or
        # PostgreSQL keeps their sessions open past the test database's teardown.
        from django.db import connections

        connections.close_all()
