"""Pages in the store: the associate's sign-up form, the QR code, the shopper's own sign-up
page (reached from the QR code) and the opt-out page."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from tideover.core.access import capability_required, own_store
from tideover.core.actors import Actor
from tideover.core.clientip import client_ip
from tideover.core.errors import DomainError
from tideover.core.roles import Capability
from tideover.notifications.ratelimit import check_signup
from tideover.recovery import capture, qr
from tideover.recovery.forms import OptOutForm, SignUpForm
from tideover.recovery.models import Source


def _client_ip(request) -> str:
    # The same address the status page's forms count (TRUSTED_PROXY_HEADER behind a proxy).
    return client_ip(request)


def _add_error(form, exc: DomainError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


def _sign_up(form, incident, store, *, source, actor, ip=None) -> int:
    """Validate and record one sign-up; errors land on the form. 0 when recorded, else the
    HTTP status to answer with."""
    if not form.is_valid():
        return 400
    data = form.cleaned_data
    try:
        person = capture.person_from_form(
            name=data["name"],
            phone=data["phone"],
            email=data["email"],
            loyalty_id=data["loyalty_id"],
        )
        if ip is not None:
            check_signup(ip=ip, phone=person.phone_e164, email=person.email)
        capture.sign_up(
            incident, store, person, consent=data["consent"],
            shown_consent_text=capture.consent_text(), source=source, actor=actor,
        )  # fmt: skip
    except DomainError as exc:
        _add_error(form, exc)
        return exc.status_code
    return 0


@capability_required(Capability.CAPTURE_AFFECTED)
@never_cache
def capture_form(request, store_code):
    """The associate signs shoppers up one after the other: the form comes back empty."""
    store = own_store(request, store_code)
    incident = capture.current_incident(store)
    form = SignUpForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if incident is None:
            raise Http404("No incident to sign shoppers up for")
        actor = Actor.of(request.user)
        status = _sign_up(form, incident, store, source=Source.ASSOCIATE, actor=actor)
        if not status:
            messages.success(request, "Signed up. Next shopper?")
            return redirect("recovery:capture", store_code=store.code)
    count = incident.affected_customers.filter(store=store).count() if incident else 0
    return render(
        request,
        "recovery/capture.html",
        {"store": store, "incident": incident, "form": form, "consent_text": capture.consent_text(),
         "count": count},
        status=status,
    )  # fmt: skip


@capability_required(Capability.VIEW_STORE)
def store_qr(request, store_code):
    """The QR code to show in the store (SVG), for the store's current incident."""
    store = own_store(request, store_code)
    incident = capture.current_incident(store)
    if incident is None:
        raise Http404("No incident to sign shoppers up for")
    response = HttpResponse(qr.svg(qr.sign_up_url(incident, store)), content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=300"
    return response


@never_cache
@transaction.non_atomic_requests
def self_sign_up(request, token):
    """The shopper's own sign-up page, from the QR code in the store."""
    try:
        incident, store = qr.read_token(token)
    except DomainError as exc:
        return render(
            request, "recovery/link_problem.html", {"message": exc.message}, status=exc.status_code
        )
    form = SignUpForm(request.POST or None)
    status = 200
    if request.method == "POST":
        actor = Actor.of(name="shopper (QR)")
        status = _sign_up(
            form, incident, store, source=Source.QR, actor=actor, ip=_client_ip(request)
        )
        if not status:
            return render(request, "recovery/self_done.html", {"store": store})
    elif request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    return render(
        request,
        "recovery/self_sign_up.html",
        {
            "store": store,
            "incident": incident,
            "form": form,
            "consent_text": capture.consent_text(),
        },
        status=status,
    )


self_sign_up.public_page = True


@never_cache
def optout(request):
    """Stop goodwill and marketing messages to a phone or e-mail."""
    from tideover.recovery.consent import opt_out

    form = OptOutForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            check_signup(ip=_client_ip(request))
            opt_out(form.cleaned_data["contact"])
        except DomainError as exc:
            _add_error(form, exc)
            return render(request, "recovery/optout.html", {"form": form}, status=exc.status_code)
        return render(request, "recovery/optout.html", {"form": None, "done": True})
    return render(
        request, "recovery/optout.html", {"form": form}, status=400 if form.errors else 200
    )


optout.public_page = True
