import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tideover.cli import COMMANDS, main
from tideover.core.models import Component, ComponentStatus, Store
from tideover.demo import scenario
from tideover.incidents.models import Incident, IncidentState
from tideover.loyalty.models import Member
from tideover.notifications.models import OutboxMessage
from tideover.recovery.results import results
from tideover.sales.models import Sale
from tideover.scenarios.chain import start_time
from tideover.scenarios.models import ScenarioRun

CHAIN_TZ = zoneinfo.ZoneInfo("America/Chicago")


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # to the demo's sink
    return tmp_path


def test_demo_seeds_the_chain_and_replays_the_outage_once(db, data_dir, capsys):
    call_command("demo", stores=24, members=400, subscribers=12)
    assert Store.objects.count() == 24 and Member.objects.count() == 400
    day = scenario.saturday()
    outage = Incident.objects.get(title=day.staff.title)
    assert outage.severity.name == "SEV1" and outage.state == IncidentState.RESOLVED
    # HQ returns at 16:00; the commander resolves two minutes later, once stores are draining.
    assert outage.started_at.astimezone(CHAIN_TZ).strftime("%a %H:%M") == "Sat 14:00"
    assert outage.resolved_at.astimezone(CHAIN_TZ).strftime("%a %H:%M") == "Sat 16:02"
    posted = list(outage.public_updates.order_by("posted_at").values_list("posted_at", flat=True))
    posted.append(outage.resolved_at)
    gaps = [later - earlier for earlier, later in zip(posted, posted[1:], strict=False)]
    assert gaps and max(gaps) <= timedelta(minutes=15)
    assert set(Component.objects.values_list("status", flat=True)) == {ComponentStatus.OPERATIONAL}
    # In service long enough for the 90-day bars to show the outage and the older incidents.
    assert not Component.objects.filter(
        created_at__gt=outage.started_at - timedelta(days=90)
    ).exists()
    card = ScenarioRun.objects.get(incident=outage).scorecard
    assert card["sales"]["lost"] == 0 and card["sales"]["doubled"] == 0
    assert card["sales"]["accepted_offline"] > 0
    # The scenario's sales, and the week of goodwill redemptions posted after it (GW).
    scenario_sales = Sale.objects.exclude(sale_id__contains="-GW-")
    assert scenario_sales.count() == card["sales"]["posted"] > 24 * 40
    offline_sale = Sale.objects.filter(store__code="S001").order_by("occurred_at").first()
    # Made during the outage, it reached HQ when the store's line came back at 16:00 (the
    # replay's clock stamps the posting with the scenario's time).
    back = outage.started_at + timedelta(hours=2)
    assert offline_sale.occurred_at < back <= offline_sale.posted_at < outage.resolved_at
    assert Sale.objects.filter(member_id__gt="").exists()
    sent = OutboxMessage.objects.filter(state="sent")
    assert set(sent.values_list("channel", flat=True)) >= {"email", "sms", "webhook"}
    # Goodwill offers are marketing: those due after quiet hours in their store wait for them.
    later = OutboxMessage.objects.filter(category="marketing", next_attempt_at__gt=timezone.now())
    assert not (
        OutboxMessage.objects.filter(state__in=["queued", "sending", "failed"])
        .exclude(pk__in=later.values("pk"))
        .exists()
    )
    goodwill = results(outage)["rows"]["all stores"]
    assert goodwill["captured_by_source"]["associate"] and goodwill["captured_by_source"]["qr"]
    assert goodwill["captured_by_source"].get("sale_offline", 0) > 0
    assert goodwill["offers"] > 0 and goodwill["redeemed"] > 0
    assert (
        len(list((data_dir / "outbox-mail").glob("*.eml"))) == sent.filter(channel="email").count()
    )
    assert (
        len((data_dir / "webhooks.log").read_text().splitlines())
        == sent.filter(channel="webhook").count()
    )
    out = capsys.readouterr().out
    assert "Sales lost" in out and " 0 conflicts, 0 rejected" in out
    sales = Sale.objects.count()
    call_command("demo", stores=24, members=400, subscribers=12)  # a second run changes nothing
    assert Sale.objects.count() == sales
    assert Incident.objects.filter(title=day.staff.title).count() == 1
    assert "replayed before" in capsys.readouterr().out


def test_outage_starts_on_the_last_saturday_at_two():
    day = scenario.saturday()
    monday = datetime(2026, 11, 23, 12, 0, tzinfo=CHAIN_TZ)
    assert start_time(day, monday) == datetime(2026, 11, 21, 14, 0, tzinfo=CHAIN_TZ)
    saturday_morning = datetime(2026, 11, 28, 9, 0, tzinfo=CHAIN_TZ)
    assert start_time(day, saturday_morning) == datetime(2026, 11, 21, 14, 0, tzinfo=CHAIN_TZ)


def test_cli_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_cli_refuses_unknown_command(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err
