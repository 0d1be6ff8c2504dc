"""Every page and every API endpoint refuses the roles that must not reach it.

The tests walk ``tideover.urls`` and the NinjaAPI's OpenAPI document instead of listing pages,
so a page or endpoint that another app adds later is covered the day it lands:

- a page must carry ``required_capability`` (``tideover.core.access.capability_required``), or be
  on PUBLIC_PAGES below with the reason it is public, or be marked
  ``public_page = True`` on purpose (``tideover.statuspage.views.public_page``); then every
  role is allowed or refused exactly as ``role_expectations`` says (the answers are written
  out there, not read from ``ROLE_CAPABILITIES``), a store's own page only to its own people,
  and anonymous visitors are sent to the login page;
- an API operation must answer 401 without credentials and to a logged-in account with no
  role, refuse a token that holds no scope (403), unless it is on PUBLIC_API, and answer each
  role and each token scope (unbound and bound to a store) as ``role_expectations.API`` says.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from tideover.core.models import ApiToken, ComponentStatus
from tideover.core.tests import role_expectations as expect
from tideover.core.tests.api_requests import _call, _for_store, _operations

# Pages anyone may open, by URL name, each with why. A page that is not here must name the
# capability it needs.
PUBLIC_PAGES = {
    "healthz": "load balancer probe, says only 'ok'",
    "login": "the way in",
    "logout": "the way out (POST)",
    "api-v1:openapi-json": "the API's published description",
    "api-v1:openapi-view": "the API's published description",
}
# Namespaces with their own access control, checked by their own tests here.
OWN_ACCESS_CONTROL = {
    "admin": "Django's admin: administrators only (test_admin_is_for_administrators_only)",
    "api-v1": "the REST API: every operation walked in test_api_refuses_*",
}
# API operations (METHOD path) that answer without credentials, each with why.
PUBLIC_API: dict[str, str] = {}

_PLACEHOLDER = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


def _walk(patterns, prefix="", namespace=None):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = entry.namespace or namespace
            if entry.namespace and namespace:
                inner = f"{namespace}:{entry.namespace}"
            yield from _walk(entry.url_patterns, route, inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield route, name, entry


def _top_namespace(name: str | None) -> str | None:
    return name.split(":", 1)[0] if name and ":" in name else None


def console_pages():
    """(route, name, view) for every page that is not public or guarded elsewhere."""
    pages = []
    for route, name, entry in _walk(get_resolver().url_patterns):
        if _top_namespace(name) in OWN_ACCESS_CONTROL:
            continue
        if route.startswith(("admin/", "api/v1/")):
            continue
        pages.append((route, name, entry))
    return pages


_PAGES = console_pages()


def unguarded(pages) -> list[str]:
    """Pages that neither name a capability nor are public on purpose."""
    return [
        f"/{route} ({name or 'unnamed'})"
        for route, name, entry in pages
        if not hasattr(entry.callback, "required_capability")
        and not getattr(entry.callback, "public_page", False)
        and name not in PUBLIC_PAGES
    ]


def test_every_page_names_its_capability_or_is_public_on_purpose():
    found = unguarded(_PAGES)
    assert not found, (
        "These pages neither use tideover.core.access.capability_required nor are marked "
        f"public (public_page = True, or PUBLIC_PAGES in {__name__}): {', '.join(found)}"
    )
    stale = set(PUBLIC_PAGES) - {name for _, name, _ in _walk(get_resolver().url_patterns)}
    assert not stale, f"PUBLIC_PAGES names pages that no longer exist: {stale}"


def test_the_walk_catches_a_page_added_without_a_capability():
    from django.urls import include, path

    from tideover.core.access import capability_required
    from tideover.core.roles import Capability

    def forgotten(request):
        raise AssertionError("never called")

    inner = ([path("oops/", forgotten, name="oops")], "newapp")
    patterns = [
        path("console/new/", include(inner)),
        path("guarded/", capability_required(Capability.VIEW_SALES)(forgotten), name="guarded"),
    ]
    assert unguarded(list(_walk(patterns))) == ["/console/new/oops/ (newapp:oops)"]


@pytest.fixture
def world(severities, components, chain, staff):
    """One of everything a page may point at: an incident, a maintenance window, a severity."""
    from tideover.incidents import services

    incident = services.declare_incident(
        title="Card payments failing",
        severity=severities["SEV1"],
        components={components["card-payments"]: ComponentStatus.MAJOR_OUTAGE},
        all_stores=True,
        message="Looking into it.",
    )
    window = services.schedule_maintenance(
        title="Loyalty upgrade",
        scheduled_for=timezone.now() + timedelta(days=1),
        scheduled_until=timezone.now() + timedelta(days=1, hours=1),
        components=[components["loyalty"]],
        message="",
    )
    return {
        "incident_id": incident.pk,
        "maintenance_id": window.pk,
        "severity_id": severities["SEV3"].pk,
        "slug": "loyalty",
        "code": "S001",
        "store_code": "S001",
    }


def _url(route: str, world: dict) -> str:
    def fill(match):
        name, conv = match["name"], match["conv"] or "str"
        if "maintenance" in route and name == "incident_id":
            return str(world["maintenance_id"])
        if name in world:
            return str(world[name])
        return "1" if conv == "int" else "unknown"

    return "/" + _PLACEHOLDER.sub(fill, route)


_GUARDED = [(r, n, e) for r, n, e in _PAGES if hasattr(e.callback, "required_capability")]
_PEOPLE = [
    "store_associate",
    "store_manager",
    "incident_commander",
    "comms",
    "customer_service",
    "cx_manager",
    "administrator",
    "associate_s002",
    "outsider",
]


def _allowed(person: str, capability: str, store_code: str | None = None) -> bool:
    """The matrix's own answer: does this person reach a page needing ``capability``?"""
    role = expect.PEOPLE[person]
    if role is None or role not in expect.HOLDERS[capability]:
        return False
    home = expect.HOME_STORE.get(person)
    return store_code is None or home is None or home == store_code


def test_every_page_and_operation_is_in_the_matrix():
    pages = {n: e.callback.required_capability.value for _, n, e in _GUARDED}
    missing = sorted(set(pages) - set(expect.PAGES))
    assert not missing, f"Add these pages to PAGES in {expect.__name__}: {missing}"
    wrong = {n: (c, expect.PAGES[n]) for n, c in pages.items() if expect.PAGES[n] != c}
    assert not wrong, f"Pages needing another capability than the matrix says: {wrong}"
    operations = {f"{m} {p}" for m, p, _ in _OPERATIONS}
    missing = sorted(operations - set(expect.API) - set(PUBLIC_API))
    assert not missing, f"Add these operations to API in {expect.__name__}: {missing}"
    stale = sorted(set(expect.API) - operations) + sorted(set(expect.PAGES) - set(pages))
    assert not stale, f"The matrix lists what no longer exists: {stale}"


def test_the_role_table_is_the_one_the_matrix_expects():
    from tideover.core.roles import ROLE_CAPABILITIES

    actual = {c.value: {r.value for r in roles} for c, roles in ROLE_CAPABILITIES.items()}
    differ = {
        c: {"table": sorted(actual.get(c, ())), "matrix": sorted(expect.HOLDERS.get(c, ()))}
        for c in set(actual) | set(expect.HOLDERS)
        if actual.get(c) != expect.HOLDERS.get(c)
    }
    assert not differ, f"core.roles and {expect.__name__}.HOLDERS disagree: {differ}"


@pytest.mark.parametrize(("route", "name", "entry"), _GUARDED, ids=[n or r for r, n, _ in _GUARDED])
def test_page_allows_and_refuses_each_person_as_the_matrix_says(route, name, entry, world, staff):
    capability = expect.PAGES.get(name)
    assert capability is not None, f"{name} is not in the matrix (role_expectations.PAGES)"
    url = _url(route, world)
    store_code = world["store_code"] if name in expect.STORE_PAGES else None
    # A POST-only page may answer a GET with 405 before it looks at the visitor; then the
    # refusal is checked on a POST, which is what could change something.
    anonymous = Client().get(url)
    if anonymous.status_code == 405:
        anonymous = Client().post(url, {"title": "x", "body": "x"})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"], url
    for person in _PEOPLE:
        client = Client(raise_request_exception=False)
        client.force_login(staff[person])
        response = client.get(url)
        if _allowed(person, capability, store_code):
            assert response.status_code not in (302, 403), f"{person} refused {url}"
            assert response.status_code < 500, f"{url} broke for {person}"
        elif store_code is not None and expect.PEOPLE[person] in expect.HOLDERS[capability]:
            # Another store's page: not found or refused, never shown.
            assert response.status_code in (403, 404), f"{person} reached {url} (other store)"
            assert client.post(url, {"title": "x", "body": "x"}).status_code in (403, 404), person
        else:
            assert response.status_code in (403, 405), f"{person} reached {url} ({capability})"
            # A refused POST changes nothing and never reaches the form.
            assert client.post(url, {"title": "x", "body": "x"}).status_code == 403, person


_PUBLIC = [
    (r, n, e)
    for r, n, e in _PAGES
    if not hasattr(e.callback, "required_capability") and r.find("<") == -1
]


@pytest.mark.parametrize(("route", "name", "entry"), _PUBLIC, ids=[n or r for r, n, _ in _PUBLIC])
def test_public_page_opens_without_login(route, name, entry, world):
    response = Client(raise_request_exception=False).get(_url(route, world))
    assert response.status_code < 500, f"/{route} broke for an anonymous visitor"
    assert "/accounts/login/" not in response.get("Location", ""), f"/{route} asks to log in"


# --- the REST API ---------------------------------------------------------------------------


_OPERATIONS = list(_operations())


@pytest.mark.parametrize(
    ("method", "path", "example"), _OPERATIONS, ids=[f"{m} {p}" for m, p, _ in _OPERATIONS]
)
def test_api_refuses_strangers_and_roleless_accounts(method, path, example, staff):
    if f"{method} {path}" in PUBLIC_API:
        pytest.skip(PUBLIC_API[f"{method} {path}"])
    anonymous = _call(Client(raise_request_exception=False), method, path, example)
    assert anonymous.status_code == 401, f"{method} {path} answered {anonymous.status_code}"
    outsider = Client(raise_request_exception=False)
    outsider.force_login(staff["outsider"])
    refused = _call(outsider, method, path, example)
    assert refused.status_code in (401, 403), f"{method} {path} let a roleless account in"


@pytest.mark.parametrize(
    ("method", "path", "example"), _OPERATIONS, ids=[f"{m} {p}" for m, p, _ in _OPERATIONS]
)
def test_api_answers_each_role_as_the_matrix_says(method, path, example, staff):
    _scope, capability = expect.API[f"{method} {path}"]
    for person in _PEOPLE:
        client = Client(raise_request_exception=False)
        client.force_login(staff[person])
        response = _call(client, method, path, example)
        role = expect.PEOPLE[person]
        if role is not None and capability is not None and role in expect.HOLDERS[capability]:
            assert response.status_code not in (401, 403), (person, response.content)
            assert response.status_code < 500, f"{method} {path} broke for {person}"
        else:
            assert response.status_code in (401, 403), (person, response.status_code)


@pytest.mark.parametrize(
    ("method", "path", "example"), _OPERATIONS, ids=[f"{m} {p}" for m, p, _ in _OPERATIONS]
)
def test_api_answers_each_token_scope_as_the_matrix_says(method, path, example, chain):
    """A token of every scope, unbound and bound to store S001, against every operation."""
    from tideover.core.services import create_api_token

    needed, _capability = expect.API[f"{method} {path}"]
    operation = f"{method} {path}"
    for scope in expect.SCOPES:
        for store in (None, chain["stores"]["S001"]):
            _, secret = create_api_token(name=f"{scope} {store}", scopes=[scope], store=store)
            response = _call(
                Client(raise_request_exception=False),
                method,
                path,
                _for_store(example, "S001"),
                HTTP_AUTHORIZATION=f"Bearer {secret}",
            )
            bound_only = operation in expect.STORE_TOKEN_ONLY
            if scope == needed and (store is not None or not bound_only):
                assert response.status_code not in (401, 403), (scope, store, response.content)
                assert response.status_code < 500, (scope, store, operation)
            else:
                assert response.status_code == 403, (scope, store, response.status_code)


@pytest.mark.parametrize(
    ("method", "path", "example"), _OPERATIONS, ids=[f"{m} {p}" for m, p, _ in _OPERATIONS]
)
def test_api_refuses_a_token_without_the_scope(method, path, example, db):
    if f"{method} {path}" in PUBLIC_API:
        pytest.skip(PUBLIC_API[f"{method} {path}"])
    from tideover.core.services import create_api_token

    token, secret = create_api_token(name="no scope", scopes=["incidents:read"])
    ApiToken.objects.filter(pk=token.pk).update(scopes=[])
    response = _call(
        Client(raise_request_exception=False),
        method,
        path,
        example,
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    # The scope is checked before the body is read, so the answer is 403 whatever the body.
    assert response.status_code == 403, f"{method} {path}: {response.status_code}"
    assert "token" in response.json()["detail"], response.json()


# --- the admin ------------------------------------------------------------------------------


def test_admin_is_for_administrators_only(staff):
    from django.contrib.auth import get_user_model

    for person in _PEOPLE:
        user = staff[person]
        user.is_staff = True  # even a staff flag alone must not open the admin
        user.save()
        client = Client()
        client.force_login(user)
        response = client.get("/admin/")
        if person == "administrator":
            assert response.status_code == 200
            assert client.get("/admin/core/apitoken/").status_code == 200
        else:
            assert response.status_code == 302, person
            assert client.get("/admin/core/store/").status_code == 302, person
    root = get_user_model().objects.create_superuser("root", "", "pw-for-tests-only")
    client = Client()
    client.force_login(root)
    assert client.get("/admin/incidents/severity/").status_code == 200
    assert Client().get("/admin/").status_code == 302


# --- store isolation --------------------------------------------------------------------------


def test_store_tokens_and_store_staff_reach_only_their_own_store(client, client_as, chain):
    """A store agent's tokens and a store's staff act for their own store only; what belongs to
    another store is rejected or not found, never changed or shown."""
    from tideover.core.services import create_api_token
    from tideover.loyalty.tests.factories import sale
    from tideover.sales.models import Sale
    from tideover.sales.services import post_sales

    s001 = chain["stores"]["S001"]
    theirs = sale(store="S002")
    post_sales([theirs, theirs, {**theirs, "register": "R9"}])  # posted, duplicate, conflict

    _, sales_token = create_api_token(name="agent S001", scopes=["sales:write"], store=s001)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {sales_token}"}
    forged = {**theirs, "sale_id": "S002-FORGED"}
    answer = client.post("/api/v1/sales", json.dumps(forged), "application/json", **bearer)
    assert answer.json()["result"] == "rejected" and "S001 only" in answer.json()["reason"]
    assert not Sale.objects.filter(sale_id="S002-FORGED").exists()
    assert client.get(f"/api/v1/sales/{theirs['sale_id']}", **bearer).status_code == 404

    _, beat_token = create_api_token(name="beat S001", scopes=["heartbeats:write"], store=s001)
    beat = next(e for m, p, e in _OPERATIONS if p == "/api/v1/storelink/heartbeats")
    refused = _call(
        client,
        "POST",
        "/api/v1/storelink/heartbeats",
        _for_store(beat, "S002"),
        HTTP_AUTHORIZATION=f"Bearer {beat_token}",
    )
    assert refused.status_code == 403 and "S001 only" in refused.json()["detail"]

    manager = client_as("store_manager")  # S001's
    assert manager.get(f"/api/v1/sales/{theirs['sale_id']}").status_code == 404
    assert manager.get("/api/v1/sales/conflicts").json() == []
    # Not just "R9": a random CSRF token on the page may hold those two characters.
    page = manager.get("/console/sales/conflicts/?all=1").content.decode()
    assert "register R9" not in page and f"<code>{theirs['sale_id']}</code>" not in page
    hq = client_as("incident_commander").get("/console/sales/conflicts/?all=1").content.decode()
    assert "register R9" in hq  # what the store manager must not see, as HQ sees it
    assert client_as("incident_commander").get("/api/v1/sales/conflicts").json() != []
