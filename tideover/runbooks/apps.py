from django.apps import AppConfig


class RunbooksConfig(AppConfig):
    name = "tideover.runbooks"
    label = "runbooks"
    verbose_name = "Runbooks and checklists"

    def ready(self):
        from tideover.core import events, nav
        from tideover.core.roles import Capability
        from tideover.runbooks import handlers

        # First: the runbook is attached before notifications write the declaration's briefing.
        events.subscribe_all(handlers.EVENTS, handlers.on_incident_event, first=True)
        from django.apps import apps

        if apps.is_installed("tideover.notifications"):
            from tideover.notifications import hooks

            hooks.add_briefing_source(handlers.briefing)
        nav.add_link("Respond", "runbooks:overview", Capability.VIEW_RESPONSE, order=22)
        nav.add_link("Drills", "runbooks:drills", Capability.VIEW_RESPONSE, order=24)
        nav.add_link("Runbooks", "runbooks:list", Capability.VIEW_CONSOLE, order=85)
        nav.add_incident_link(
            "Runbook and store progress", "runbooks:progress", Capability.VIEW_RESPONSE, order=10
        )
