from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "tideover.sales"
    label = "sales"
    verbose_name = "Sales"
