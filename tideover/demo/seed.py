"""The demo chain of docs/overview.md: 4 regions, 200 stores with registers, the components, the
severities and one staff login per role. Every function is idempotent and bulk-inserts."""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from tideover.core.models import Component, Region, Register, StaffProfile, Store
from tideover.core.roles import Role
from tideover.core.services import ensure_role_groups, grant_role
from tideover.incidents.services import ensure_default_severities

REGIONS = [
    # name, slug, time zone, cities
    (
        "Northeast",
        "northeast",
        "America/New_York",
        ["Boston", "Albany", "Hartford", "Providence", "Portland"],
    ),
    (
        "Southeast",
        "southeast",
        "America/New_York",
        ["Atlanta", "Charlotte", "Orlando", "Nashville", "Raleigh"],
    ),
    (
        "Central",
        "central",
        "America/Chicago",
        ["Chicago", "Dallas", "Austin", "Omaha", "Kansas City"],
    ),
    (
        "West",
        "west",
        "America/Los_Angeles",
        ["Seattle", "Portland OR", "Sacramento", "San Diego", "Reno"],
    ),
]

COMPONENTS = [
    ("In-store checkout", "in-store-checkout", "Registers and self-checkout in our stores"),
    ("Card payments", "card-payments", "Credit and debit cards in stores"),
    ("Online checkout", "online-checkout", "Checkout on our web shop"),
    ("Loyalty & rewards", "loyalty", "Points, rewards and member prices"),
    ("Mobile app", "mobile-app", "The shopping app for iOS and Android"),
]

STORE_COUNT = 200
REGISTERS_PER_STORE = (3, 8)


@transaction.atomic
def seed_chain(store_count: int = STORE_COUNT, *, seed: int = 7) -> dict:
    """Create regions, stores and registers unless they exist. Returns counts."""
    rng = random.Random(seed)
    regions = []
    for name, slug, _tz, _cities in REGIONS:
        region, _ = Region.objects.get_or_create(slug=slug, defaults={"name": name})
        regions.append(region)
    existing = set(Store.objects.values_list("code", flat=True))
    new_stores = []
    for number in range(1, store_count + 1):
        code = f"S{number:03d}"
        if code in existing:
            continue
        index = (number - 1) % len(REGIONS)
        _name, _slug, tz, cities = REGIONS[index]
        city = cities[(number // len(REGIONS)) % len(cities)]
        new_stores.append(
            Store(
                code=code, name=f"{city} #{number}", region=regions[index], time_zone=tz, city=city
            )
        )
    Store.objects.bulk_create(new_stores)
    registers = []
    for store in Store.objects.filter(code__in=[s.code for s in new_stores]):
        for n in range(1, rng.randint(*REGISTERS_PER_STORE) + 1):
            registers.append(Register(store=store, code=f"R{n}"))
    Register.objects.bulk_create(registers)
    return {"stores": Store.objects.count(), "registers": Register.objects.count()}


def seed_components() -> list[Component]:
    """The five components every retailer's status page shows, in service for a year (so the
    90-day history has data for every day, the demo's older incidents included)."""
    result = []
    in_service_since = timezone.now() - timedelta(days=365)
    for position, (name, slug, description) in enumerate(COMPONENTS):
        component, _ = Component.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "description": description,
                "position": position,
                "created_at": in_service_since,
                "updated_at": in_service_since,
            },
        )
        result.append(component)
    return result


DEMO_STAFF = [
    # username, role, store code (store-scoped roles)
    ("casey.commander", Role.INCIDENT_COMMANDER, None),
    ("morgan.comms", Role.COMMS, None),
    ("sam.service", Role.CUSTOMER_SERVICE, None),
    ("riley.cx", Role.CX_MANAGER, None),
    ("jordan.manager", Role.STORE_MANAGER, "S001"),
    ("alex.associate", Role.STORE_ASSOCIATE, "S001"),
]


def seed_staff() -> str:
    """One login per role, all with one demo password (kept in DATA_DIR/demo-staff.txt)."""
    ensure_role_groups()
    password_file = settings.DATA_DIR / "demo-staff-password.txt"
    if password_file.exists():
        password = password_file.read_text().strip()
    else:
        password = secrets.token_urlsafe(9)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
    User = get_user_model()
    hashed = None  # one hash of the shared password for all six (each costs a PBKDF2 run)
    for username, role, store_code in DEMO_STAFF:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@staff.tideover.invalid"}
        )
        if created:
            hashed = hashed or make_password(password)
            user.password = hashed
            user.save(update_fields=["password"])
        grant_role(user, role)
        store = Store.objects.filter(code=store_code).first() if store_code else None
        StaffProfile.objects.update_or_create(
            user=user,
            defaults={
                "store": store,
                "mobile_e164": "+15125550100" if role == Role.INCIDENT_COMMANDER else "",
            },
        )
    return password


def seed_all(store_count: int = STORE_COUNT) -> dict:
    """Everything the scenario needs before it starts."""
    ensure_default_severities()
    counts = seed_chain(store_count)
    seed_components()
    counts["staff_password"] = seed_staff()
    return counts
