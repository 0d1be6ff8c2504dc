"""The REST API, /api/v1/. Each app contributes a router; this module only assembles them and
turns errors into answers that say what to fix."""

from __future__ import annotations

import pydantic_core
from django.core.exceptions import ValidationError as DjangoValidationError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from tideover.core.api_auth import API_AUTH, Unauthenticated
from tideover.core.errors import DomainError

# What each error answer means; every operation lists the ones it can give (see _error_answers).
ERROR_ANSWERS = {
    "400": "A business rule refuses the input; `field` names the input when there is one",
    "401": "No credentials, or a malformed, unknown or revoked token (`detail` says which)",
    "403": "The token lacks the scope, or the role the capability (`detail` names it)",
    "404": "What the path names does not exist",
    "409": "The request clashes with the current state",
    "413": "The body is larger than the server accepts (`detail` gives the limit)",
    "422": "The input does not match the schema; `errors` lists each problem with its location",
}
ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "What to fix, in words"},
        "field": {"type": "string", "description": "The input the refusal is about"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


def _where(error: dict) -> str:
    return ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "payload"))


def _message(error: dict) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown field: remove it or check its spelling against the API documentation"
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def _describe(error: dict) -> str:
    where, message = _where(error), _message(error)
    return f"{where}: {message}" if where else message


class BodyNotJSON(ValueError):
    """A request body that is not JSON text we can store; the message says what to fix."""


class JSONBody(Parser):
    """Request bodies read with pydantic's JSON parser rather than ``json.loads``.

    ``json.loads`` accepts a lone surrogate escape (``"\\ud800"``): valid JSON, but no UTF-8
    text, so the value failed later, at the database or a content hash, as a 500. This parser
    refuses it, with where the body went wrong, before any handler runs."""

    def parse_body(self, request):
        try:
            return pydantic_core.from_json(request.body)
        except ValueError as exc:
            hint = (
                " (a \\ud800-\\udfff escape must be half of a surrogate pair)"
                if "hex escape" in str(exc) or "surrogate" in str(exc)
                else ""
            )
            raise BodyNotJSON(f"The body is not JSON text: {exc}{hint}; send UTF-8 JSON") from exc


class TideoverAPI(NinjaAPI):
    """Ninja, with each operation's error answers written into the OpenAPI document."""

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        for methods in schema["paths"].values():
            for method, operation in methods.items():
                _error_answers(method, operation)
        return schema


def _error_answers(method: str, operation: dict) -> None:
    codes = ["400", "422"]
    if operation.get("security"):
        codes += ["401", "403"]
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        codes.append("404")
    if method in ("post", "put", "patch", "delete"):
        codes.append("409")
    if "requestBody" in operation:
        codes.append("413")
    responses = operation.setdefault("responses", {})
    for code in sorted(codes):
        responses.setdefault(
            code,
            {
                "description": ERROR_ANSWERS[code],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        )


def build_api() -> NinjaAPI:
    api = TideoverAPI(
        title="Tideover API",
        version="1",
        description="Incidents, components, sales and loyalty. Machines authenticate with "
        "`Authorization: Bearer <token>` (scoped tokens from `tideover createtoken`); staff use "
        "their console session.",
        auth=API_AUTH,
        urls_namespace="api-v1",
        docs_url="/docs",
        parser=JSONBody(),
    )

    @api.exception_handler(HttpError)
    def http_error(request, exc):
        # Ninja answers an unreadable body with a bare "Cannot parse request body"; say why.
        cause = exc.__cause__
        detail = str(cause) if isinstance(cause, BodyNotJSON) else exc.message
        return api.create_response(request, {"detail": detail}, status=exc.status_code)

    @api.exception_handler(ValidationError)
    def invalid_input(request, exc):
        # Only where, what and why: pydantic's "input" and "ctx" would echo the request and
        # Python objects (an exception's repr) back to the caller.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": _message(e), "type": e.get("type", "")}
            for e in exc.errors
        ]
        return api.create_response(
            request,
            {"detail": "; ".join(_describe(e) for e in exc.errors), "errors": errors},
            status=422,
        )

    @api.exception_handler(DomainError)
    def refused(request, exc):
        body = {"detail": exc.message}
        if exc.field:
            body["field"] = exc.field
        return api.create_response(request, body, status=exc.status_code)

    @api.exception_handler(DjangoValidationError)
    def model_invalid(request, exc):
        return api.create_response(request, {"detail": "; ".join(exc.messages)}, status=400)

    @api.exception_handler(Unauthenticated)
    def unauthenticated(request, exc):
        response = api.create_response(request, {"detail": exc.message}, status=401)
        challenge = 'Bearer realm="tideover"'
        if "Authorization" in request.headers:
            challenge += ', error="invalid_token"'
        response["WWW-Authenticate"] = challenge
        return response

    @api.exception_handler(AuthenticationError)
    def not_authenticated(request, exc):
        return unauthenticated(
            request,
            Unauthenticated("Send an API token as 'Authorization: Bearer <token>' or log in"),
        )

    from tideover.incidents.api import components_router, maintenance_router
    from tideover.incidents.api import router as incidents_router

    api.add_router("/components", components_router)
    api.add_router("/incidents", incidents_router)
    api.add_router("/maintenance", maintenance_router)
    for module in (
        "tideover.sales.api",
        "tideover.loyalty.api",
        "tideover.notifications.api",
        "tideover.storelink.api",
        "tideover.recovery.api",
        "tideover.detect.api",
    ):
        _add_optional_router(api, module)
    return api


def _add_optional_router(api: NinjaAPI, module_path: str) -> None:
    """Apps that expose an API define ``router`` and ``PREFIX`` in their api module."""
    import importlib
    import importlib.util

    if importlib.util.find_spec(module_path) is None:
        return
    module = importlib.import_module(module_path)
    api.add_router(module.PREFIX, module.router)
