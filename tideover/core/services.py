"""Stores, components, staff roles and API tokens."""

from __future__ import annotations

import re
import secrets

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.functions import Upper
from django.utils import timezone

from tideover.core.errors import DomainError, NotFound
from tideover.core.models import ApiToken, Component, ComponentStatus, Store, TokenScope, hash_token
from tideover.core.roles import Role

TOKEN_PREFIX = "tdo"


def ensure_role_groups() -> None:
    """Create one group per staff role (idempotent; runs after every migrate)."""
    for role in Role:
        Group.objects.get_or_create(name=role.value)


def grant_role(user, role: Role) -> None:
    """Put a user in a role's group."""
    group, _ = Group.objects.get_or_create(name=role.value)
    user.groups.add(group)
    if hasattr(user, "_tideover_roles"):
        del user._tideover_roles


def create_api_token(
    *, name: str, scopes: list[str], store: Store | None = None, created_by=None
) -> tuple[ApiToken, str]:
    """Make a token and return it with its secret, which is shown once and never stored."""
    unknown = sorted(set(scopes) - set(TokenScope.values))
    if unknown:
        raise DomainError(
            f"Unknown scope(s) {', '.join(unknown)}; choose from {', '.join(TokenScope.values)}",
            field="scopes",
        )
    if not scopes:
        raise DomainError("Give the token at least one scope", field="scopes")
    if not name.strip():
        raise DomainError("Give the token a name that says who uses it", field="name")
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        name=name.strip(),
        prefix=prefix,
        hashed_secret=hash_token(secret),
        scopes=sorted(set(scopes)),
        store=store,
        created_by=created_by,
    )
    return token, secret


def authenticate_token(secret: str) -> ApiToken | None:
    """The active token with this secret, or None. Marks it used (at most once a minute)."""
    if not secret.startswith(f"{TOKEN_PREFIX}_"):
        return None
    token = (
        ApiToken.objects.select_related("store").filter(hashed_secret=hash_token(secret)).first()
    )
    if token is None or not token.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke_api_token(token: ApiToken) -> None:
    """Stop a token working from now on."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def _code_key(code: str) -> str:
    """A store code without case or leading zeros in its number: "s0042", "S042", "S42" -> "S42"."""
    match = _CODE_PARTS.match(code.strip().upper())
    return f"{match[1]}{int(match[2])}" if match else code.strip().upper()


_CODE_PARTS = re.compile(r"^([A-Z-]*)(\d+)$")


def stores_by_code(codes) -> tuple[list[Store], list[str]]:
    """The stores with these codes, matched whatever their case ("s001" finds S001) and, when no
    code matches exactly, whatever the zeros of their number ("S42" finds S0042 if it is the
    only such store), and the codes that name no store (as typed)."""
    wanted = {code.strip().upper(): code.strip() for code in codes if code and code.strip()}
    found = list(
        Store.objects.annotate(code_upper=Upper("code")).filter(code_upper__in=list(wanted))
    )
    known = {store.code.upper() for store in found}
    missing = {upper: typed for upper, typed in wanted.items() if upper not in known}
    if missing:
        # Rare path (a typo or a short form): compare every code's key, once.
        by_key: dict[str, list[str]] = {}
        for code in Store.objects.values_list("code", flat=True):
            by_key.setdefault(_code_key(code), []).append(code)
        extra = []
        for upper in list(missing):
            candidates = by_key.get(_code_key(upper), [])
            if len(candidates) == 1:
                extra.append(candidates[0])
                del missing[upper]
        found += [
            s for s in Store.objects.filter(code__in=extra) if s.pk not in {f.pk for f in found}
        ]
    return found, sorted(missing.values())


def store_by_code(code: str) -> Store | None:
    """The one store a typed code names (any case, any zeros), or None."""
    found, _ = stores_by_code([code])
    return found[0] if found else None


def example_store_codes(count: int = 2) -> str:
    """Real store codes for a form's hint ("e.g. S001 S002"), or a made-up pair before any
    store exists."""
    codes = list(Store.objects.order_by("code").values_list("code", flat=True)[:count])
    return " ".join(codes) if codes else "S001 S002"


def get_component(slug_or_id: str | int) -> Component:
    query = Component.objects.all()
    found = (
        query.filter(pk=int(slug_or_id)).first()
        if str(slug_or_id).isascii() and str(slug_or_id).isdigit()
        else query.filter(slug=slug_or_id).first()
    )
    if found is None:
        raise NotFound(f"No component {slug_or_id!r}")
    return found


@transaction.atomic
def set_component_status_raw(component: Component, status: str) -> bool:
    """Store a component's status; True when it changed. Incidents call this with a timeline
    entry around it: use ``tideover.incidents.services.set_component_status`` from outside."""
    if status not in ComponentStatus.values:
        raise DomainError(
            f"Unknown component status {status!r}; use one of {', '.join(ComponentStatus.values)}",
            field="status",
        )
    if component.status == status:
        return False
    component.status = status
    component.updated_at = timezone.now()
    component.save(update_fields=["status", "updated_at"])
    return True
