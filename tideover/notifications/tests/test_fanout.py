from django.db import connection
from django.test.utils import CaptureQueriesContext

from tideover.incidents import services as incidents
from tideover.incidents.models import TimelineEvent
from tideover.notifications.models import ChannelEndpoint, Notification, OutboxMessage


def _declare(severities, components, drill=False, message="Registers are down in some stores."):
    return incidents.declare_incident(
        title="Checkout down",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: "major_outage"},
        message=message,
        is_drill=drill,
    )


def test_declaring_with_a_message_queues_one_message_per_subscriber(
    severities, components, make_subscriber
):
    everything = make_subscriber()
    follows = make_subscriber(components=[components["in-store-checkout"]])
    elsewhere = make_subscriber(components=[components["mobile-app"]])
    make_subscriber(state="pending")
    incident = _declare(severities, components)
    queued = OutboxMessage.objects.filter(incident_id=incident.pk)
    assert sorted(queued.values_list("subscriber_id", flat=True)) == sorted(
        [everything.pk, follows.pk]
    )
    assert elsewhere.pk not in queued.values_list("subscriber_id", flat=True)
    notification = Notification.objects.get(incident=incident)
    assert notification.body == "Registers are down in some stores."


def test_state_change_with_message_sends_one_message_not_two(
    severities, components, make_subscriber
):
    make_subscriber()
    incident = _declare(severities, components)
    incidents.change_state(incident, "identified", message="We found the cause.")
    notes = Notification.objects.filter(incident=incident).order_by("pk")
    assert [n.event for n in notes] == ["incident.declared", "incident.state_changed"]
    assert notes[1].body == "We found the cause."
    assert OutboxMessage.objects.filter(incident_id=incident.pk).count() == 2


def test_drill_never_reaches_public_but_staff_channels_get_it_marked(
    severities, components, make_subscriber
):
    make_subscriber()
    ChannelEndpoint.objects.create(name="ops", channel="chat", target="json://127.0.0.1:9/chat")
    incident = _declare(severities, components, drill=True)
    rows = OutboxMessage.objects.filter(incident_id=incident.pk)
    assert [row.category for row in rows] == ["internal"]
    from tideover.notifications.rendering import render

    assert render(rows[0]).subject.startswith("[DRILL]")


def test_internal_note_with_talking_points_goes_to_staff_only(
    severities, components, make_subscriber
):
    make_subscriber()
    ChannelEndpoint.objects.create(name="ops", channel="email", target="ops@staff.example")
    incident = _declare(severities, components, message="")
    before = OutboxMessage.objects.count()
    incidents.add_internal_note(
        incident, "Card terminals rebooting", talking_points="Say: cash works"
    )
    new = OutboxMessage.objects.order_by("-pk")[: OutboxMessage.objects.count() - before]
    assert [m.category for m in new] == ["internal"]
    from tideover.notifications.rendering import render

    text = render(new[0]).text
    assert "Card terminals rebooting" in text and "Say: cash works" in text


def test_messages_sent_are_one_timeline_entry_per_update(severities, components, make_subscriber):
    for _ in range(5):
        make_subscriber()
    incident = _declare(severities, components)
    incidents.post_public_update(incident, "Still working on it.")
    entries = TimelineEvent.objects.filter(incident=incident, kind="messages")
    assert entries.count() == 2
    assert "Queued 5 subscriber message(s) (5 email)" in entries.first().body


def test_fan_out_queries_do_not_grow_with_subscribers(severities, components, make_subscriber):
    for _ in range(3):
        make_subscriber()
    incident = _declare(severities, components, message="")
    with CaptureQueriesContext(connection) as few:
        incidents.post_public_update(incident, "First")
    for _ in range(30):
        make_subscriber(channel="sms", address=f"+1512555{len(connection.queries):04d}{_}")
    with CaptureQueriesContext(connection) as many:
        incidents.post_public_update(incident, "Second")
    assert len(many) == len(few)
    # declared (3) + first update (3) + second update (3 + 30)
    assert OutboxMessage.objects.filter(incident_id=incident.pk).count() == 3 + 3 + 33


def test_an_update_wakes_a_worker_through_the_task_queue_after_commit(
    severities, components, make_subscriber, settings, django_capture_on_commit_callbacks
):
    from django_tasks.signals import task_enqueued

    enqueued = []

    def record(sender, task_result, **kwargs):
        enqueued.append(task_result.task.name)

    settings.NOTIFY_ENQUEUE_TASKS = True
    make_subscriber()
    # The signal is the tasks API's own, so this holds on the database and the RQ backend.
    task_enqueued.connect(record)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _declare(severities, components)
            assert enqueued == [], "nothing is enqueued before the commit"
    finally:
        task_enqueued.disconnect(record)
    assert enqueued.count("deliver_outbox") == 1


def test_a_large_update_wakes_several_workers_at_once(
    severities, components, make_subscriber, settings, django_capture_on_commit_callbacks
):
    from django_tasks.signals import task_enqueued

    enqueued = []

    def record(sender, task_result, **kwargs):
        enqueued.append(task_result.task.name)

    settings.NOTIFY_ENQUEUE_TASKS = True
    settings.NOTIFY_BATCH_SIZE = 2
    settings.NOTIFY_WAKE_TASKS = 3
    for _ in range(5):
        make_subscriber()
    task_enqueued.connect(record)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _declare(severities, components)
    finally:
        task_enqueued.disconnect(record)
    assert enqueued.count("deliver_outbox") == 3  # five messages in batches of two, at most three


def test_an_update_to_many_subscribers_is_queued_well_within_ten_seconds(severities, components):
    """100,000 with TIDEOVER_SLOW=1 (the design's figure); 10,000 by default to stay quick."""
    import os
    import time

    from tideover.notifications.demo import seed_subscribers

    count = 100_000 if os.environ.get("TIDEOVER_SLOW") else 10_000
    seed_subscribers({"email": count // 2, "webhook": count - count // 2})
    from tideover.notifications.models import Subscriber

    Subscriber.objects.update(all_components=True)  # every one of them hears about this
    incident = _declare(severities, components, message="")
    OutboxMessage.objects.all().delete()
    started = time.perf_counter()
    incidents.post_public_update(incident, "Registers are offline; cash works.")
    elapsed = time.perf_counter() - started
    assert OutboxMessage.objects.count() == count
    assert elapsed < 10.0


def test_timeline_counts_the_subscriber_and_staff_messages_really_queued(
    severities, components, make_subscriber
):
    for _ in range(3):
        make_subscriber()
    ChannelEndpoint.objects.create(name="ops", channel="email", target="ops@staff.example")
    ChannelEndpoint.objects.create(name="chat", channel="chat", target="json://127.0.0.1:9/c")
    incident = _declare(severities, components)
    entry = TimelineEvent.objects.get(incident=incident, kind="messages")
    assert entry.body == (
        "Queued 3 subscriber message(s) (3 email) and 2 staff channel message(s)."
    )
    queued = OutboxMessage.objects.filter(incident_id=incident.pk)
    assert queued.filter(subscriber__isnull=False).count() == 3
    assert queued.filter(endpoint__isnull=False).count() == 2
