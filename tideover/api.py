"""The REST API, /api/v1/. Each app contributes a router; this module only assembles them and
turns errors into answers that say what to fix."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from tideover.core.api_auth import API_AUTH
from tideover.core.errors import DomainError


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "payload"))
    message = error.get("msg", "invalid value")
    return f"{where}: {message}" if where else message


def build_api() -> NinjaAPI:
    api = NinjaAPI(
        title="Tideover API",
        version="1",
        description="Incidents, components, sales and loyalty. Machines authenticate with "
        "`Authorization: Bearer <token>` (scoped tokens from `tideover createtoken`); staff use "
        "their console session.",
        auth=API_AUTH,
        urls_namespace="api-v1",
        docs_url="/docs",
    )

    @api.exception_handler(ValidationError)
    def invalid_input(request, exc):
        errors = exc.errors
        return api.create_response(
            request,
            {"detail": "; ".join(_describe(e) for e in errors), "errors": errors},
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

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        return api.create_response(
            request,
            {"detail": "Send a valid API token as 'Authorization: Bearer <token>' or log in"},
            status=401,
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
