from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "tideover.incidents"
    label = "incidents"
    verbose_name = "Incidents and maintenance"

    def ready(self):
        from tideover.core import periodic
        from tideover.incidents.services import due_maintenance_transitions

        periodic.register("maintenance-windows", 30, due_maintenance_transitions)

        from tideover.core import nav
        from tideover.core.roles import Capability

        nav.add_link("Dashboard", "incidents:dashboard", Capability.VIEW_CONSOLE, order=10)
        nav.add_link("Incidents", "incidents:list", Capability.VIEW_CONSOLE, order=20)
        nav.add_link("Declare", "incidents:declare", Capability.DECLARE_INCIDENT, order=25)
        nav.add_link("Maintenance", "incidents:maintenance", Capability.VIEW_CONSOLE, order=30)
        nav.add_link("Severities", "incidents:severities", Capability.VIEW_CONSOLE, order=90)
