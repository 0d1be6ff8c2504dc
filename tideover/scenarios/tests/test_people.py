"""The people on shift: comms post every scripted update, in order."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from tideover.core.roles import Role
from tideover.core.services import grant_role
from tideover.incidents.models import PublicUpdate
from tideover.scenarios.loader import parse_scenario
from tideover.scenarios.people import Shift

DAY = """\
scenario: 1
name: Two updates in one minute
start: {weekday: saturday, time: "14:00"}
failures:
  - {kind: registers_lose_hq, component: in-store-checkout, until: 1h}
staff:
  title: Registers cannot reach HQ
  first_update: Registers in some stores cannot reach HQ; stores keep selling.
  resolution: Every store is connected again and every sale has arrived.
  update_every: 15m
  updates:
    - {at: 2m, text: "Stores keep selling; every sale will reach HQ when the line is back."}
    - {at: 20m15s, text: "Stores are selling offline; card payments are taken within limits."}
    - {at: 20m45s, state: identified, text: "We found the cause: a failed network link at HQ."}
"""


def _shift_declared_at_5m(start):
    scenario = parse_scenario(DAY)
    User = get_user_model()
    for name, role in (("casey.commander", Role.INCIDENT_COMMANDER), ("morgan.comms", Role.COMMS)):
        grant_role(User.objects.create_user(name, "", "pw"), role)
    shift = Shift(scenario)
    shift.declare(start + timedelta(minutes=5), started_at=start, detected_at=start, stores=[])
    return shift


def test_every_scripted_update_is_posted(severities, components, staff):
    """Two updates in one minute are both posted, in order, and one timed before the
    declaration is posted right after it."""
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(hours=2)
    shift = _shift_declared_at_5m(start)
    for minute in range(6, 60):
        shift.keep_updating(start + timedelta(minutes=minute), timedelta(minutes=minute))
    updates = list(shift.incident.public_updates.order_by("posted_at", "pk"))
    bodies = [u.body for u in updates]
    assert PublicUpdate.objects.filter(body__startswith="We found the cause").exists(), bodies
    shift.incident.refresh_from_db()
    assert shift.incident.state == "identified"
    early = next(u for u in updates if u.body.startswith("Stores keep selling"))
    assert early.posted_at == start + timedelta(minutes=6)
    offline = bodies.index("Stores are selling offline; card payments are taken within limits.")
    assert bodies[offline + 1].startswith("We found the cause")
    assert sum(b.startswith("Stores keep selling") for b in bodies) == 1
