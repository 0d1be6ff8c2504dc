"""Every page and every API endpoint refuses the roles that must not reach it.

The tests walk ``tideover.urls`` and the NinjaAPI's OpenAPI document instead of listing pages,
so a page or endpoint that another app adds later is covered the day it lands:

- a page must carry ``required_capability`` (``tideover.core.access.capability_required``), or be
  on PUBLIC_PAGES below with the reason it is public, or be marked
  ``public_page = True`` on purpose (``tideover.statuspage.views.public_page``); then every
  role is allowed or refused
  exactly as ``ROLE_CAPABILITIES`` says, and anonymous visitors are sent to the login page;
- an API operation must answer 401 without credentials and to a logged-in account with no
  role, and must refuse a token that holds no scope (403), unless it is on PUBLIC_API.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from tideover.core.models import ApiToken, ComponentStatus
from tideover.core.roles import has_capability

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


@pytest.mark.parametrize(("route", "name", "entry"), _GUARDED, ids=[n or r for r, n, _ in _GUARDED])
def test_page_allows_and_refuses_each_role_as_the_table_says(route, name, entry, world, staff):
    capability = entry.callback.required_capability
    url = _url(route, world)
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
        if has_capability(staff[person], capability):
            assert response.status_code not in (302, 403), f"{person} refused {url}"
            assert response.status_code < 500, f"{url} broke for {person}"
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


def _operations():
    from tideover.urls import api

    schema = api.get_openapi_schema()
    definitions = schema.get("components", {}).get("schemas", {})
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, _request(operation, definitions)


def _example(schema: dict, definitions: dict, depth: int = 0):
    """A small valid-looking value for a JSON schema, so the request passes validation and the
    endpoint's own role check is what answers."""
    if "$ref" in schema:
        return _example(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return _example(options[0], definitions, depth + 1)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "array":  # one item, not the default []: many bodies need at least one line
        return [_example(schema.get("items", {}), definitions, depth + 1)] if depth < 6 else []
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if kind == "object":
        props = schema.get("properties", {}) if depth < 6 else {}
        wanted = set(schema.get("required", [])) | {
            name for name, prop in props.items() if prop.get("type") == "array"
        }
        return {
            name: _example(props[name], definitions, depth + 1) for name in props if name in wanted
        }
    if kind == "string":
        if schema.get("format") == "date-time":
            # An hour ago: inside every endpoint's bounds (sales refuse the future and the very old).
            return (timezone.now() - timedelta(hours=1)).isoformat()
        if schema.get("format") == "email":
            return "someone@example.com"
        return "x" * max(schema.get("minLength", 1), 1)
    return {"integer": 1, "number": 1, "boolean": False}.get(kind, {})


def _request(operation: dict, definitions: dict) -> tuple[str, bytes]:
    """The query string and JSON body of a request that should pass the operation's schema."""
    query = {
        param["name"]: _example(param.get("schema", {}), definitions)
        for param in operation.get("parameters", [])
        if param.get("in") == "query" and param.get("required")
    }
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    body = json.dumps(_example(schema, definitions) if schema else {}).encode()
    return urlencode(query, doseq=True), body


def _api_url(path: str) -> str:
    return "/api/v1" + re.sub(r"{[^}]+}", "1", path.removeprefix("/api/v1"))


def _call(client: Client, method: str, path: str, request=("", b"{}"), **extra):
    query, body = request
    url = _api_url(path) + (f"?{query}" if query else "")
    return client.generic(method, url, body, content_type="application/json", **extra)


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
