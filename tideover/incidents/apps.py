from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "tideover.incidents"
    label = "incidents"
    verbose_name = "Incidents and maintenance"

    def ready(self):
        from tideover.core import periodic
        from tideover.incidents.services import due_maintenance_transitions

        periodic.register("maintenance-windows", 30, due_maintenance_transitions)
