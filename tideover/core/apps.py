from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_role_groups(sender, **kwargs):
    from tideover.core.services import ensure_role_groups

    ensure_role_groups()


class CoreConfig(AppConfig):
    name = "tideover.core"
    label = "core"
    verbose_name = "Stores, components and access"

    def ready(self):
        post_migrate.connect(_create_role_groups, sender=self)
        from tideover.core import (
            checks,  # noqa: F401  (registers the deploy checks)
            periodic,
            pruning,
        )

        periodic.register("prune-task-results", 3600, pruning.prune_task_results)
