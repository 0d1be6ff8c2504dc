"""Log-in throttling: wrong passwords first slow log-ins down, then lock them out.

django-axes counts failed log-ins per account and per client address in the database and
locks out at ``AXES_FAILURE_LIMIT`` (``locked_out`` below is the page it shows). Axes has no
step before that, so a guesser gets its first few tries at full speed; ``login_paced`` adds
the step from axes' own records: after ``LOGIN_SLOWDOWN_AFTER`` wrong passwords for the
account or from the address, the next try must wait ``LOGIN_SLOWDOWN_SECONDS``, doubling with
each further failure, until the lockout. A try during the wait is answered 429 "wait N
seconds" without checking the password and without counting, so a person who types too fast
is not punished and a guesser gains nothing by hammering.
"""

from __future__ import annotations

import logging
from functools import wraps

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.shortcuts import render

log = logging.getLogger("tideover.login")


class OwnFailuresHandler(AxesDatabaseHandler):
    """Axes's database handler, except that a successful log-in forgets only the failures
    of the account that logged in. Axes forgets every failure matching the account *or the
    address*: anyone with a log-in could then clear, from their own address, the count of
    guesses at someone else's password between every few guesses, and never be locked out.
    The address's failures for other accounts keep counting until the cool-off ends them."""

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


def locked_out(request, original_response=None, credentials=None):
    """429 with a page that says how long log-ins are paused and what to do."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(
        request,
        "registration/locked_out.html",
        {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )


def slowdown_wait(failures: int) -> int:
    """Seconds a try must wait after this many wrong passwords (0: no wait)."""
    after = settings.LOGIN_SLOWDOWN_AFTER
    if after <= 0 or failures < after:
        return 0
    # Capped at the lockout's length: waiting longer than a lockout makes no sense.
    ceiling = int(settings.AXES_COOLOFF_TIME.total_seconds())
    return min(ceiling, settings.LOGIN_SLOWDOWN_SECONDS * 2 ** min(failures - after, 20))


def seconds_to_wait(request) -> int:
    """How long this log-in must still wait, from axes' failures for its account and address."""
    from axes.handlers.proxy import AxesProxyHandler

    AxesProxyHandler.update_request(request)
    from django.contrib.auth.forms import UsernameField

    # As the log-in form cleans it: "admin " is admin's attempts too.
    username = UsernameField().to_python(request.POST.get(settings.AXES_USERNAME_FORM_FIELD, ""))
    credentials = {settings.AXES_USERNAME_FORM_FIELD: username}
    handler = AxesProxyHandler.get_implementation()
    wait = 0
    for attempts in handler.get_user_attempts(request, credentials):
        seen = attempts.aggregate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        failures = seen["failures"] or 0
        if not failures or failures >= settings.AXES_FAILURE_LIMIT:
            continue  # nothing to wait for, or axes' lockout answers
        due = seen["last"].timestamp() + slowdown_wait(failures)
        wait = max(wait, int(due - request.axes_attempt_time.timestamp() + 0.999))
    return wait


def login_paced(view):
    """Wrap a log-in view: a POST that comes too soon after wrong passwords is refused."""

    @wraps(view)
    def paced(request, *args, **kwargs):
        if request.method == "POST" and settings.AXES_ENABLED:
            wait = seconds_to_wait(request)
            if wait > 0:
                # Neither the account nor the address: they are personal data.
                log.warning("Log-in refused during a slow-down; %d s left", wait)
                response = render(
                    request, "registration/slowed_down.html", {"seconds": wait}, status=429
                )
                response["Retry-After"] = str(wait)
                return response
        return view(request, *args, **kwargs)

    return paced
