"""Who is calling the API, and may they do this?

Machines send ``Authorization: Bearer tdo_...`` with a scoped token; staff in the console call
with their session. The order of the answers is part of the contract:

1. An ``Authorization`` header decides alone: missing secret, wrong scheme, unknown or revoked
   token is a ``401`` saying which, with ``WWW-Authenticate: Bearer``. A token request is never
   checked for CSRF (a token is not sent by browsers on their own).
2. Without the header, the console session is used. No session is a ``401``; a session on an
   unsafe method must carry the CSRF token (``403`` otherwise), as any form post does.
3. The scope (tokens) or capability (staff) is checked next, **before the body is validated**,
   so a caller who may not do something learns that first (``403`` naming what is missing).

Operations declare what they need with ``auth=access(scope=..., capability=...)``; ninja runs
that before reading the body, and it is the operation's only role check (the caller is then
``request.auth``). A test checks that every operation names its own; finer decisions (which
store, which record) are the view's or the service's.
"""

from __future__ import annotations

from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from tideover.core.models import ApiToken, hash_token
from tideover.core.roles import Capability, has_capability
from tideover.core.services import authenticate_token

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
ANY = object()  # no scope or capability named: authenticate only, the view decides


class Unauthenticated(Exception):
    """No credentials, or ones that do not identify anybody: 401 with the reason."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _scope_name(scope) -> str:
    return str(getattr(scope, "value", scope))


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``; with a scope named, only tokens holding it pass."""

    def __init__(self, scope=ANY):
        super().__init__()
        self.scope = scope

    def __call__(self, request):
        header = request.headers.get("Authorization")
        if header is None:
            return None  # not a token request: the session decides
        scheme, _, secret = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated(
                "Malformed Authorization header: send 'Authorization: Bearer <token>'"
            )
        return self.authenticate(request, secret.strip())

    def authenticate(self, request, token):
        found = authenticate_token(token)
        if found is None:
            revoked = ApiToken.objects.filter(
                hashed_secret=hash_token(token), revoked_at__isnull=False
            ).exists()
            if revoked:
                raise Unauthenticated("This API token has been revoked; ask for a new one")
            raise Unauthenticated("Unknown API token: check the secret you send")
        request.api_token = found
        if self.scope is not ANY:
            if self.scope is None:
                raise HttpError(403, "API tokens cannot do this; log in to the console as staff")
            if not found.has_scope(self.scope):
                raise HttpError(
                    403, f"This token lacks the scope '{_scope_name(self.scope)}' needed here"
                )
        return found


class StaffSessionAuth(SessionAuth):
    """A logged-in staff member; CSRF is checked on unsafe methods as for any form post."""

    def __init__(self, capability=ANY):
        super().__init__(csrf=True)
        self.capability = capability

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            raise Unauthenticated(
                "Send an API token as 'Authorization: Bearer <token>' or log in to the console"
            )
        unsafe = request.method not in SAFE_METHODS
        if unsafe and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise HttpError(
                403,
                "CSRF token missing or wrong: a console session must send the csrftoken "
                "cookie's value in the X-CSRFToken header (machines use a Bearer token)",
            )
        return self.authenticate(request, None)

    def authenticate(self, request, key):
        user = request.user
        if not has_capability(user, Capability.VIEW_CONSOLE):
            raise HttpError(403, "Your account has no staff role; ask an administrator for one")
        if self.capability is not ANY:
            if self.capability is None:
                raise HttpError(403, "Only API tokens can do this")
            if not has_capability(user, self.capability):
                raise HttpError(403, f"Your role does not allow: {self.capability.label}")
        return user


def access(*, scope=None, capability=None) -> list:
    """The ``auth=`` of an operation: tokens need ``scope``, staff need ``capability``
    (None: that kind of caller may not do it at all)."""
    return [TokenAuth(scope), StaffSessionAuth(capability)]


API_AUTH = [TokenAuth(), StaffSessionAuth()]


def actor_name(request) -> str:
    """How the caller appears on timelines and audit records."""
    caller = request.auth
    if isinstance(caller, ApiToken):
        return f"token:{caller.name}"
    return caller.get_username()


def actor_user(request):
    caller = request.auth
    return None if isinstance(caller, ApiToken) else caller
