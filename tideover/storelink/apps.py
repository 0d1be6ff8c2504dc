from django.apps import AppConfig


class StorelinkConfig(AppConfig):
    name = "tideover.storelink"
    label = "storelink"
    verbose_name = "Store agents"

    def ready(self):
        from tideover.core import nav, periodic
        from tideover.core.roles import Capability
        from tideover.storelink import pruning, services

        nav.add_link("Stores", "storelink:stores", Capability.VIEW_STORE_LINKS, order=55)
        # Silence is noticed by the clock, not by a heartbeat: look every few seconds.
        periodic.register("storelink.refresh_states", 10, services.refresh_states)
        periodic.register("prune-storelink", 3600, pruning.prune_storelink)
