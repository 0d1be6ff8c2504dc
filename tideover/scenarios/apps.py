from django.apps import AppConfig


class ScenariosConfig(AppConfig):
    name = "tideover.scenarios"
    verbose_name = "Outage scenarios"
    default_auto_field = "django.db.models.BigAutoField"
