from django.apps import AppConfig


class ScenariosConfig(AppConfig):
    name = "tideover.scenarios"
    verbose_name = "Outage scenarios"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tideover.incidents import panels
        from tideover.scenarios.panels import scorecard_panel

        panels.add_panel("scorecard", "scenarios/_scorecard_panel.html", scorecard_panel, order=50)
