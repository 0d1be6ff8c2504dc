from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "tideover.loyalty"
    label = "loyalty"
    verbose_name = "Loyalty ledger"

    def ready(self):
        from tideover.core import periodic
        from tideover.loyalty.accrual import accrue_posted
        from tideover.loyalty.expiry import run_expiry
        from tideover.loyalty.rewards import redeem_for_sale, reinstate_for_voids
        from tideover.sales import hooks

        # Points and rewards post inside the sale's own transaction.
        hooks.register_listener("loyalty", accrue_posted)
        hooks.register_redeemer("loyalty", redeem_for_sale)
        hooks.register_listener("loyalty-voided-rewards", reinstate_for_voids)
        periodic.register("loyalty-expiry", 3600, run_expiry)

        from tideover.core import events
        from tideover.loyalty.members import on_sms_opt_out

        # Named, not imported: notifications publishes it when a number replies STOP.
        events.subscribe("notifications.sms_opt_out", on_sms_opt_out)

        from tideover.core import nav
        from tideover.core.roles import Capability

        nav.add_link("Members", "loyalty:search", Capability.VIEW_MEMBERS, order=50)
        nav.add_link("Adjustments", "loyalty:adjustments", Capability.APPROVE_ADJUSTMENT, order=55)
        nav.add_link("Held points", "loyalty:held", Capability.REVIEW_HELD_POINTS, order=56)
