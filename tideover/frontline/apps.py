from django.apps import AppConfig


class FrontlineConfig(AppConfig):
    name = "tideover.frontline"
    label = "frontline"
    verbose_name = "The front line's reports"

    def ready(self):
        from tideover.core import nav
        from tideover.core.roles import Capability

        nav.add_link("Reports", "frontline:queue", Capability.TRIAGE_REPORTS, order=23)
        nav.add_incident_link(
            "Reports from stores", "frontline:incident_reports", Capability.TRIAGE_REPORTS, order=20
        )
