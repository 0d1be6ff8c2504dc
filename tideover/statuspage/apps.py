from django.apps import AppConfig


class StatusPageConfig(AppConfig):
    name = "tideover.statuspage"
    label = "statuspage"
    verbose_name = "Public status page"

    def ready(self):
        from tideover.core import events, periodic
        from tideover.statuspage import services

        events.subscribe_all(events.INCIDENT_EVENTS, services.on_incident_event)
        # Edits that bypass the services (the admin) must reach the public page too; inside a
        # service's transaction they fold into its one publish.
        from django.db.models.signals import post_delete, post_save

        from tideover.core.models import Component
        from tideover.incidents.models import Incident, PublicUpdate

        for model in (Component, Incident, PublicUpdate):
            post_save.connect(services.on_public_record_saved, sender=model)
            post_delete.connect(services.on_public_record_saved, sender=model)
        periodic.register("status-page-refresh", 3600, services.refresh)
