"""An opened alert pages the on-call people through the notifications outbox: once, with a link
to the alert page, again until someone acknowledges it, and never for a dismissed pattern."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tideover.core.models import StaffProfile
from tideover.detect import paging, services
from tideover.detect.models import Alert
from tideover.detect.scoring import run_detection
from tideover.detect.tests.test_alerts import normal, push
from tideover.notifications.models import (
    Category,
    ChannelEndpoint,
    OutboxMessage,
    StaffTeam,
    TeamChannel,
)

TEAM = "Detect on call"


@pytest.fixture
def on_call(settings, staff):
    """The incident commander with a mobile number, and a team with a chat room first and an
    SMS backup second."""
    settings.SITE_URL = "http://tideover.test"
    settings.NOTIFY_ENQUEUE_TASKS = False
    settings.DETECT_PAGE_TEAM = TEAM
    settings.DETECT_PAGE_REPEAT_MINUTES = 5
    settings.DETECT_PAGE_REPEATS = 2
    commander = staff["incident_commander"]
    StaffProfile.objects.create(user=commander, mobile_e164="+15125550111")
    team = StaffTeam.objects.create(name=TEAM)
    room = ChannelEndpoint.objects.create(
        name="#detect", channel="chat", target="http://127.0.0.1:9/hooks/detect"
    )
    backup = ChannelEndpoint.objects.create(name="Pager SMS", channel="sms", target="+15125550199")
    TeamChannel.objects.create(team=team, endpoint=room, position=1)
    TeamChannel.objects.create(team=team, endpoint=backup, position=2)
    return {"commander": commander, "room": room, "backup": backup}


@pytest.fixture
def coverage(make_signal, components):
    from tideover.detect.tests.conftest import train

    signal = make_signal("coverage", unit="%", components=[components["in-store-checkout"]])
    return signal, train(signal)


def open_alert(start, minutes=4):
    push("coverage", start, normal(start, 2) + normal(start + timedelta(minutes=2), minutes, 0.2))
    for minute in range(2, 2 + minutes):
        run_detection(start + timedelta(minutes=minute))
    return Alert.objects.get()


def pages():
    return OutboxMessage.objects.filter(dedupe_key__startswith="detect-alert:").order_by("pk")


def test_an_opened_alert_pages_the_commanders_and_the_detect_team_once(coverage, on_call):
    _, start = coverage
    alert = open_alert(start)  # four anomalous minutes: the alert opens, then is joined
    sent = list(pages())
    assert sorted((m.channel, m.recipient) for m in sent) == [
        ("chat", on_call["room"].target),
        ("email", on_call["commander"].email),
        ("sms", "+15125550111"),
    ]
    assert all(m.category == Category.INTERNAL for m in sent)
    link = f"http://tideover.test/console/detect/alerts/{alert.pk}/"
    assert all(link in m.body and alert.title in m.subject for m in sent)
    alert.refresh_from_db()
    assert alert.pages_sent == 1


def test_a_page_wakes_the_delivery_workers_after_commit(
    coverage, on_call, settings, django_capture_on_commit_callbacks
):
    from django_tasks.signals import task_enqueued

    enqueued = []

    def record(sender, task_result, **kwargs):
        enqueued.append(task_result.task.name)

    settings.NOTIFY_ENQUEUE_TASKS = True
    _, start = coverage
    task_enqueued.connect(record)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            open_alert(start, minutes=2)
            assert enqueued == [], "nothing is enqueued before the commit"
    finally:
        task_enqueued.disconnect(record)
    assert pages().count() == 3 and "deliver_outbox" in enqueued


def test_the_alert_page_says_who_was_paged_and_when(coverage, on_call, client_as):
    _, start = coverage
    alert = open_alert(start, minutes=2)
    page = client_as("incident_commander").get(f"/console/detect/alerts/{alert.pk}/")
    assert f"paged 1 time, last at {alert.opened_at:%H:%M}" in page.content.decode()


def test_the_page_reaches_the_commander_by_email(coverage, on_call, settings):
    from tideover.notifications.outbox import drain
    from tideover.notifications.sinks import SmtpSink

    sink = SmtpSink().start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        _, start = coverage
        alert = open_alert(start, minutes=2)
        drain(channels=["email"])
    finally:
        sink.stop()
    assert [m["To"] for m in sink.messages] == [on_call["commander"].email]
    assert f"/console/detect/alerts/{alert.pk}/" in sink.bodies()[0]


def test_an_unacknowledged_alert_pages_again_until_someone_acknowledges_it(coverage, on_call):
    _, start = coverage
    alert = open_alert(start, minutes=2)
    opened = alert.opened_at
    assert paging.page_again(opened + timedelta(minutes=4)) == 0  # not yet
    assert paging.page_again(opened + timedelta(minutes=5)) == 1
    assert pages().count() == 6
    assert "reminder 1" in pages().last().subject
    services.acknowledge_alert(alert, user=on_call["commander"])
    assert paging.page_again(opened + timedelta(minutes=10)) == 0
    assert pages().count() == 6


def test_repeats_stop_after_the_configured_number(coverage, on_call):
    _, start = coverage
    alert = open_alert(start, minutes=2)
    for k in range(1, 6):
        paging.page_again(alert.opened_at + timedelta(minutes=5 * k))
    alert.refresh_from_db()
    assert alert.pages_sent == 3  # the page and two repeats
    assert pages().count() == 9


def test_a_dismissed_pattern_pages_nobody_when_it_comes_back(coverage, on_call):
    _, start = coverage
    first = open_alert(start, minutes=2)
    services.dismiss_alert(first, "Planned network test", user=on_call["commander"])
    assert paging.page_again(first.opened_at + timedelta(minutes=5)) == 0
    before = pages().count()
    later = start + timedelta(hours=2)
    push("coverage", later, normal(later, 3, 0.2))
    for minute in range(3):
        run_detection(later + timedelta(minutes=minute))
    second = Alert.objects.exclude(pk=first.pk).get()
    assert not second.paged
    assert paging.page_again(later + timedelta(minutes=20)) == 0
    assert pages().count() == before == 3


def test_without_a_team_or_commanders_an_alert_still_opens(coverage, settings, db):
    settings.DETECT_PAGE_TEAM = ""
    _, start = coverage
    alert = open_alert(start, minutes=2)
    assert alert.pages_sent == 1 and not pages().exists()
