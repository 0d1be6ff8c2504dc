"""What store associates report during a replay (``staff.reports_per_store``): in every store a
failure reaches, an associate sends problem reports through the front-line service a few minutes
after it starts, the first soon, the rest spread through the trouble. Their reports are a signal
Detect counts like any other; the HQ triage of them is left to the people in the console.

Stores see registers losing HQ, card declines and stuck loyalty points at the till; a failing
web checkout they only hear about from customers, so that is what they report."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model

from tideover.core.models import StaffProfile, Store
from tideover.core.roles import Role
from tideover.core.services import grant_role
from tideover.scenarios.schema import Failure, FailureKind

SAY = {
    FailureKind.REGISTERS_LOSE_HQ: (
        "problem",
        "registers",
        "Registers show offline; we keep selling but customers ask if their points count",
    ),
    FailureKind.CARD_PROCESSOR_DOWN: (
        "problem",
        "card-payments",
        "Card payments keep failing at every till; we are asking for cash",
    ),
    FailureKind.WEB_CHECKOUT_ERRORS: (
        "insight",
        "online",
        "Customers say the website would not take their order and came in instead",
    ),
    FailureKind.LOYALTY_POSTING_DELAYED: (
        "problem",
        "loyalty",
        "Members say today's points are not showing in the app",
    ),
}
FIRST_AFTER = timedelta(minutes=4)  # noticing, then finding a moment to tell HQ
SPREAD = 11  # minutes over which the stores' first reports fall (by store)
THEN_EVERY = timedelta(minutes=25)


def reporter(store: Store):
    """The store's associate who reports during the replay (a login without a password)."""
    User = get_user_model()
    user, created = User.objects.get_or_create(username=f"scenario.associate.{store.code.lower()}")
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        grant_role(user, Role.STORE_ASSOCIATE)
        StaffProfile.objects.update_or_create(user=user, defaults={"store": store})
    return user


def planned_reports(
    failures: list[Failure],
    affected: dict[int, set[str]],
    stores: dict[str, Store],
    start: datetime,
    per_store: int,
) -> list[tuple[datetime, Store, Failure]]:
    """When each store reports which failure: ``per_store`` reports per store and failure."""
    planned = []
    for index, failure in enumerate(failures):
        codes = sorted(affected.get(index, ()))
        begins, ends = start + failure.at, start + failure.until
        for n, code in enumerate(codes):
            at = begins + FIRST_AFTER + timedelta(minutes=n % SPREAD)
            for _ in range(per_store):
                if at >= ends:
                    break
                planned.append((at, stores[code], failure))
                at += THEN_EVERY
    return sorted(planned, key=lambda item: (item[0], item[1].code))


def send_report(store: Store, failure: Failure, at: datetime) -> None:
    from tideover.frontline import services as frontline

    kind, category, text = SAY[failure.kind]
    frontline.submit_report(
        kind=kind, category=category, text=text, store=store, reporter=reporter(store), at=at
    )
