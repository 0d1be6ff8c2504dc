from django.apps import AppConfig


class DetectConfig(AppConfig):
    name = "tideover.detect"
    label = "detect"
    verbose_name = "Detect"

    def ready(self):
        from tideover.core import events, nav, periodic
        from tideover.core.roles import Capability
        from tideover.detect import derived, pruning, tasks
        from tideover.sales import hooks

        # Failure rates come from every sale as it posts (counted in the same transaction).
        hooks.register_listener("detect-sale-tally", derived.tally_sales)
        events.subscribe("frontline.problem_reported", derived.on_problem_reported)
        periodic.register("detect", 60, tasks.detect_now)
        periodic.register("prune-detect", 3600, pruning.prune_signals)

        nav.add_link("Signals", "detect:signals", Capability.VIEW_SIGNALS, order=15)
        nav.add_link("Alerts", "detect:alerts", Capability.VIEW_SIGNALS, order=16)

        from tideover.incidents import panels

        panels.add_panel("detection", "detect/_incident_panel.html", incident_panel, order=20)


def incident_panel(request, incident):
    """The detection evidence on the incident page: the alert it was declared from, its
    charts and the time to detect (None when it did not come from an alert)."""
    from datetime import timedelta

    from tideover.core.roles import Capability, has_capability
    from tideover.detect import charts
    from tideover.detect.models import Alert

    if not has_capability(request.user, Capability.VIEW_SIGNALS):
        return None
    alert = Alert.objects.filter(incident=incident).first()
    if alert is None:
        return None
    start, end = charts.window_around(alert, after=timedelta(hours=2))
    return {
        "alert": alert,
        "time_to_detect": alert.opened_at - alert.started_at,
        "charts": [
            charts.signal_chart(s, start, end, alerts=[alert]) for s in alert.signals.all()[:4]
        ],
    }
