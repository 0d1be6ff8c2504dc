"""Pages for the public: subscribe, confirm, unsubscribe; and Twilio's webhooks."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from tideover.core.clientip import client_ip
from tideover.core.errors import DomainError
from tideover.notifications import inbound, signup, verification
from tideover.notifications.forms import CodeForm, SubscribeForm
from tideover.notifications.models import Subscriber, SubscriberState


def public(view):
    """Anyone may open this page (the role-matrix test reads this mark)."""
    view.public_page = True
    return view


@public
# No CSRF check: the public status page is one cached page for everyone and cannot carry a
# token, and this form has no session to ride on. What a forged post could do (start a sign-up
# that still needs the owner's confirmation) anyone can do directly; the per-IP, per-number and
# per-country limits are the guard.
@csrf_exempt
def subscribe(request):
    form = SubscribeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                subscriber = signup.subscribe(
                    channel=form.cleaned_data["channel"],
                    address=form.address(),
                    components=list(form.cleaned_data["components"]),
                    ip=client_ip(request),
                )
            except DomainError as exc:
                field = {"email": "email", "phone": "phone", "url": "url"}.get(exc.field or "")
                form.add_error(field, exc.message)
                status = exc.status_code
            else:
                return _after_signup(request, subscriber)
        else:
            status = 400
    return render(request, "notifications/subscribe.html", {"form": form}, status=status)


def _after_signup(request, subscriber: Subscriber):
    if not getattr(subscriber, "is_new", False):
        return _already_subscribed(request, subscriber)
    if subscriber.channel == "sms" and subscriber.state == SubscriberState.PENDING:
        return redirect("notifications:sms-code", token=subscriber.token)
    if subscriber.channel == "webhook" and subscriber.secret:
        # The signing secret is shown once, right after sign-up, and never again.
        return render(
            request,
            "notifications/subscribed.html",
            {
                "channel": "webhook",
                "secret": subscriber.secret,
                "unsubscribe_url": reverse("notifications:unsubscribe", args=[subscriber.token]),
                "verify_url": reverse("notifications:webhook-verify", args=[subscriber.token]),
            },
        )
    return render(request, "notifications/subscribed.html", {"channel": subscriber.channel})


def _already_subscribed(request, subscriber: Subscriber):
    """The answer for an address that was already on: the same page a new sign-up sees for
    e-mail and SMS (so nobody can probe who subscribed), never its token or secret."""
    if subscriber.channel == "sms":
        # A new number goes to the code page; so does this one, under a token that opens
        # nothing (the real token is the number's unsubscribe link).
        return redirect("notifications:sms-code", token=secrets.token_urlsafe(24))
    if subscriber.channel == "webhook":
        return render(request, "notifications/subscribed.html", {"channel": "webhook-again"})
    return render(request, "notifications/subscribed.html", {"channel": subscriber.channel})


@public
def sms_code(request, token):
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            signup.confirm_sms(token, form.cleaned_data["code"], ip=client_ip(request))
        except DomainError as exc:
            form.add_error("code" if exc.field == "code" else None, exc.message)
            status = exc.status_code
        else:
            return render(request, "notifications/confirmed.html", {"channel": "sms"})
    return render(request, "notifications/sms_code.html", {"form": form}, status=status)


@public
# No CSRF token: the sign-up page that links here is as token-less as the form before it. A
# forged post can only make us send the owner's endpoint the challenge it asked for; the
# per-network and per-subscription limits bound how often.
@csrf_exempt
def webhook_verify(request, token):
    """The owner of a pending webhook asks for its signed challenge (verification.py)."""
    if request.method == "POST":
        try:
            verification.verify_webhook(token, ip=client_ip(request))
        except DomainError as exc:
            return render(
                request,
                "notifications/webhook_verify.html",
                {"message": exc.message},
                status=exc.status_code,
            )
        return render(request, "notifications/confirmed.html", {"channel": "webhook"})
    if not Subscriber.objects.filter(token=token, channel="webhook").exists():
        return render(
            request,
            "notifications/problem.html",
            {"message": "This link is not valid any more; subscribe again"},
            status=404,
        )
    return render(request, "notifications/webhook_verify.html", {})


@public
def confirm(request, token):
    # GET only shows a button: mail scanners follow links, and must not confirm for the person.
    if request.method == "POST":
        try:
            subscriber = signup.confirm_email(token)
        except DomainError as exc:
            return render(
                request,
                "notifications/problem.html",
                {"message": exc.message},
                status=exc.status_code,
            )
        return render(request, "notifications/confirmed.html", {"channel": subscriber.channel})
    if not Subscriber.objects.filter(token=token, channel="email").exists():
        return render(
            request,
            "notifications/problem.html",
            {"message": "This link is not valid any more; subscribe again"},
            status=404,
        )
    return render(request, "notifications/confirm.html", {})


@public
@csrf_exempt  # the token in the URL is the credential; mail clients POST here (RFC 8058)
def unsubscribe(request, token):
    # The same pages whether or not the token is real: an SMS sign-up of a number already on
    # is sent to a decoy token, and a 404 here would tell a prober the number is subscribed.
    if request.method == "POST":
        signup.unsubscribe(token)
        return render(request, "notifications/unsubscribed.html", {})
    return render(request, "notifications/unsubscribe.html", {})


def _twilio_signed(request) -> bool:
    if not settings.TWILIO_AUTH_TOKEN:
        return False
    url = settings.SITE_URL + request.get_full_path()
    signature = request.headers.get("X-Twilio-Signature", "")
    params = {key: request.POST.get(key) for key in request.POST}
    return RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(url, params, signature)


def _twiml(reply: str) -> HttpResponse:
    from xml.sax.saxutils import escape

    body = f"<Message>{escape(reply)}</Message>" if reply else ""
    return HttpResponse(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
        content_type="application/xml",
    )


@public
@csrf_exempt
@require_POST
def twilio_inbound(request):
    if not _twilio_signed(request):
        return HttpResponseForbidden("bad Twilio signature")
    reply = inbound.handle_inbound_sms(
        sender=request.POST.get("From", ""),
        body=request.POST.get("Body", ""),
        provider_message_id=request.POST.get("MessageSid", ""),
    )
    return _twiml(reply)


@public
@csrf_exempt
@require_POST
def twilio_status(request):
    if not _twilio_signed(request):
        return HttpResponseForbidden("bad Twilio signature")
    inbound.record_delivery_receipt(
        provider_message_id=request.POST.get("MessageSid", ""),
        status=request.POST.get("MessageStatus", ""),
        error_code=request.POST.get("ErrorCode", ""),
    )
    return HttpResponse(status=204)
