"""Deployment checks of our own, run by ``tideover manage check --deploy`` beside Django's."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import connection


@register(Tags.security, deploy=True)
def secret_key_shared(app_configs=None, **kwargs) -> list[Error]:
    """Machines that share a database or Redis need one SECRET_KEY: each one that makes its own
    in its data folder signs its own sessions (a log-in works on one web machine only) and
    keys its own rate-limit counters (each sign-up limit multiplied by the machines)."""
    shared = connection.vendor != "sqlite" or bool(settings.REDIS_URL)
    if not shared or settings.SECRET_KEY_GIVEN:
        return []
    return [
        Error(
            "SECRET_KEY is not set, so this machine made its own in its data folder.",
            hint="With a shared database or Redis, every web and worker machine must use the "
            "same key: set SECRET_KEY (or SECRET_KEY_FILE) to one value everywhere "
            "(docs/deploy.md).",
            id="tideover.E001",
        )
    ]
