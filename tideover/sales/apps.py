from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "tideover.sales"
    label = "sales"
    verbose_name = "Sales"

    def ready(self):
        from tideover.core import nav
        from tideover.core.roles import Capability

        nav.add_link("Sale conflicts", "sales:conflicts", Capability.VIEW_SALES, order=60)
