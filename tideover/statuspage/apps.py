from django.apps import AppConfig


class StatusPageConfig(AppConfig):
    name = "tideover.statuspage"
    label = "statuspage"
    verbose_name = "Public status page"

    def ready(self):
        from tideover.core import events, periodic
        from tideover.statuspage import services

        events.subscribe_all(events.INCIDENT_EVENTS, services.on_incident_event)
        periodic.register("status-page-refresh", 3600, services.refresh)
