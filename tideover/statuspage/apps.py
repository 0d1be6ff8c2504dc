from django.apps import AppConfig


class StatusPageConfig(AppConfig):
    name = "tideover.statuspage"
    label = "statuspage"
    verbose_name = "Public status page"
