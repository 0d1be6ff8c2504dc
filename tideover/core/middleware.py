"""Refuse NUL characters and oversized bodies at the edge.

PostgreSQL cannot store a NUL in text, so a NUL anywhere in a request would otherwise surface as a
database error deep inside a service. No person or till has a reason to send one: answer 400.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse

_MESSAGE = "The request contains a NUL character (\\u0000); remove it and send again."


def _has_nul(request) -> bool:
    raw_query = request.META.get("QUERY_STRING", "")
    if "%00" in raw_query or "\x00" in raw_query or "\x00" in request.path:
        return True
    if request.method in ("POST", "PUT", "PATCH"):
        if request.content_type == "multipart/form-data":
            # Uploaded files (a store's photo) are binary and may hold any byte; only the
            # text fields end up in the database.
            return any("\x00" in v for values in request.POST.lists() for v in values[1])
        body = request.body
        if b"\x00" in body or b"\\u0000" in body:
            return True
        form = request.content_type == "application/x-www-form-urlencoded"
        return form and b"%00" in body
    return False


class RejectNulCharacters:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            has_nul = _has_nul(request)
        except RequestDataTooBig:
            return _too_big(request)
        if has_nul:
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": _MESSAGE}, status=400)
            return HttpResponseBadRequest(_MESSAGE, content_type="text/plain")
        return self.get_response(request)


def _too_big(request):
    """413 naming the limit (JSON for the API), instead of Django's bare 400 page."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    message = (
        f"The request body is larger than the {limit:,} bytes this server accepts; "
        "send less per request (for sales, fewer per batch)."
    )
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "limit_bytes": limit}, status=413)
    return HttpResponse(message, status=413, content_type="text/plain")


class HealthCheck:
    """``GET /healthz`` answers "ok" before anything else looks at the request: a load balancer
    probes each web machine by its address (a Host header not in ALLOWED_HOSTS) and over plain
    HTTP, so host checking and the HTTPS redirect must not turn its probe into a 400 or 301."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == "/healthz" and request.method in ("GET", "HEAD"):
            return HttpResponse("ok", content_type="text/plain")
        return self.get_response(request)
