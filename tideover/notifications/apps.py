from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "tideover.notifications"
    label = "notifications"
    verbose_name = "Subscribers and delivery"
