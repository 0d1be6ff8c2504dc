from django.apps import AppConfig


class DetectConfig(AppConfig):
    name = "tideover.detect"
    label = "detect"
    verbose_name = "Detect"

    def ready(self):
        from tideover.core import events, nav, periodic
        from tideover.core.roles import Capability
        from tideover.detect import derived, tasks
        from tideover.sales import hooks

        # Failure rates come from every sale as it posts (counted in the same transaction).
        hooks.register_listener("detect-sale-tally", derived.tally_sales)
        events.subscribe("frontline.problem_reported", derived.on_problem_reported)
        periodic.register("detect", 60, tasks.detect_now)

        nav.add_link("Signals", "detect:signals", Capability.VIEW_SIGNALS, order=15)
        nav.add_link("Alerts", "detect:alerts", Capability.VIEW_SIGNALS, order=16)
