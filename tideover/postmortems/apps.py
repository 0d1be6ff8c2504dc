from django.apps import AppConfig


class PostmortemsConfig(AppConfig):
    name = "tideover.postmortems"
    label = "postmortems"
    verbose_name = "Postmortems"

    def ready(self):
        from tideover.core import nav
        from tideover.core.roles import Capability

        nav.add_incident_link(
            "Postmortem", "postmortems:postmortem", Capability.WRITE_POSTMORTEM, order=40
        )
