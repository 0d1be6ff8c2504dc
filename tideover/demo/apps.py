from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "tideover.demo"
    label = "demo"
    verbose_name = "Demo chain and outage scenario"
