from django.apps import AppConfig


class StoreviewConfig(AppConfig):
    name = "tideover.storeview"
    label = "storeview"
    verbose_name = "Store view"
