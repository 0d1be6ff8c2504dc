"""Role checks for pages: every console view names the capability it needs."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from tideover.core.roles import Capability, has_capability, sees_all_stores


def capability_required(capability: Capability):
    """Send anonymous visitors to the login page; answer 403 to staff without the capability."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_capability(request.user, capability):
                raise PermissionDenied(f"Your role does not allow: {capability.label}")
            return view(request, *args, **kwargs)

        wrapped.required_capability = capability
        return wrapped

    return decorator


def may_see_store(user, store) -> bool:
    """HQ roles see every store; store associates and managers only their own."""
    if sees_all_stores(user):
        return True
    profile = getattr(user, "staff_profile", None)
    return profile is not None and profile.store_id == store.pk


def own_store(request, store_code: str, queryset=None):
    """The store a store page is about, for someone who may see it; otherwise 404 (not 403),
    so another store's pages do not exist for its neighbours and codes cannot be probed."""
    from tideover.core.models import Store

    store = get_object_or_404(queryset if queryset is not None else Store, code=store_code)
    if not may_see_store(request.user, store):
        raise Http404("No such store for you")
    return store
