from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "tideover.loyalty"
    label = "loyalty"
    verbose_name = "Loyalty ledger"
