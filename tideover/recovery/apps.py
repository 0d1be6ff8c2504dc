from django.apps import AppConfig


class RecoveryConfig(AppConfig):
    name = "tideover.recovery"
    label = "recovery"
    verbose_name = "Recovery (goodwill after incidents)"

    def ready(self):
        from tideover.core import nav, periodic
        from tideover.core.roles import Capability
        from tideover.recovery.campaign import advance_campaigns

        # Campaigns walk on in the worker; a crash resumes from the campaign's cursor.
        periodic.register("recovery-campaigns", 5, advance_campaigns)
        nav.add_link("Goodwill lookup", "recovery:lookup", Capability.VIEW_MEMBERS, order=52)

        from tideover.incidents import panels
        from tideover.recovery.views_console import goodwill_panel

        panels.add_panel("goodwill", "recovery/_panel.html", goodwill_panel, order=60)

        from tideover.notifications import hooks
        from tideover.recovery.results import keep_delivery_states

        # Results count sent and delivered per offer, also after the messages are pruned.
        hooks.add_prune_listener(keep_delivery_states)

        from tideover.recovery.message_texts import write_campaign_texts

        # A campaign's messages are queued without text; it is written when sent.
        hooks.add_text_writer("goodwill:", write_campaign_texts)
