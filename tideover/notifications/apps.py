from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "tideover.notifications"
    label = "notifications"
    verbose_name = "Subscribers and delivery"

    def ready(self):
        from tideover.core import events, periodic
        from tideover.notifications import fanout, member_messages, tasks

        events.subscribe_all(
            fanout.PUBLIC_EVENTS + fanout.STAFF_ONLY_EVENTS, fanout.on_incident_event
        )
        # Loyalty is named, never imported: it publishes these with a duck-typed member.
        events.subscribe_all(
            ("loyalty.reward_issued", "loyalty.expiry_reminder"),
            member_messages.on_member_event,
        )
        periodic.register("notifications-deliver", 2, tasks.deliver_periodically)
        periodic.register("cadence-reminders", 30, tasks.remind_periodically)
        from tideover.notifications import pruning

        periodic.register("prune-outbox", 3600, pruning.prune_messages)
        periodic.register("outbox-unrecorded-claims", 3600, tasks.record_claims_periodically)
        try:
            from tideover.core import nav
        except ImportError:  # the console menu registry is optional
            return
        from tideover.core.roles import Capability

        nav.add_link("Subscribers", "notifications:subscribers", Capability.VIEW_DELIVERY, order=40)
        nav.add_link("Delivery", "notifications:delivery", Capability.VIEW_DELIVERY, order=41)
        nav.add_link("Channels", "notifications:channels", Capability.MANAGE_CHANNELS, order=42)
        nav.add_incident_link(
            "Staff briefings", "notifications:briefings", Capability.VIEW_DELIVERY, order=30
        )
