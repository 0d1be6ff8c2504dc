"""Who is calling the API, and may they do this?

Machines send ``Authorization: Bearer tdo_...`` with a scoped token; staff in the console call
with their session (CSRF-checked). Endpoints call :func:`require` with the token scope and the
staff capability that allow the action.
"""

from __future__ import annotations

from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from tideover.core.models import ApiToken
from tideover.core.roles import Capability, has_capability
from tideover.core.services import authenticate_token


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        found = authenticate_token(token)
        if found is not None:
            request.api_token = found
        return found


class StaffSessionAuth(SessionAuth):
    """A logged-in staff member; CSRF is checked as for any form post."""

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        if user is not None and not has_capability(user, Capability.VIEW_CONSOLE):
            return None
        return user


API_AUTH = [TokenAuth(), StaffSessionAuth()]


def require(request, *, scope: str | None = None, capability: Capability | None = None):
    """Refuse with 403 unless the caller's token has ``scope`` or their role has ``capability``."""
    caller = request.auth
    if isinstance(caller, ApiToken):
        if scope is not None and caller.has_scope(scope):
            return caller
        if scope is None:
            raise HttpError(403, "Tokens cannot do this; log in as staff")
        raise HttpError(
            403, f"This token lacks the scope '{getattr(scope, 'value', scope)}' needed here"
        )
    if capability is not None and has_capability(caller, capability):
        return caller
    label = capability.label if capability is not None else "this action"
    raise HttpError(403, f"Your role does not allow: {label}")


def actor_name(request) -> str:
    """How the caller appears on timelines and audit records."""
    caller = request.auth
    if isinstance(caller, ApiToken):
        return f"token:{caller.name}"
    return caller.get_username()


def actor_user(request):
    caller = request.auth
    return None if isinstance(caller, ApiToken) else caller
