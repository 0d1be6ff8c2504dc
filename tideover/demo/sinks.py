"""Local delivery: the SMTP server and webhook/Twilio/chat receiver of ``notifications.demo``,
with this process's settings and environment pointed at them for as long as the block runs.

``make demo`` and ``tideover scenario run`` deliver through it, so a replayed outage really
sends its messages (they land in ``DATA_DIR/outbox-mail/*.eml`` and ``DATA_DIR/webhooks.log``)
without any of them leaving the machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.test import override_settings

from tideover.env import envbool, envfloat, envint, envstr
from tideover.notifications import demo as notify_demo


@contextmanager
def using_sinks(env: dict[str, str]) -> Iterator[None]:
    """Point this process (settings) and the web and worker it starts (environment) at the
    local sinks; put both back afterwards."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    # Read back with the settings module's own typed readers, so values parse as they would
    # at start-up.
    readers = {bool: envbool, int: envint, float: envfloat}
    overrides = {
        name: readers.get(type(getattr(settings, name)), envstr)(name, getattr(settings, name))
        for name in env
        if hasattr(settings, name)
    }
    try:
        with override_settings(**overrides):
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def local_delivery(data_dir: str | Path) -> Iterator[notify_demo.LocalSinks]:
    """Start the local sinks and send everything there until the block ends."""
    sinks = notify_demo.start_local_sinks(data_dir)
    try:
        with using_sinks(sinks.env):
            yield sinks
    finally:
        sinks.stop()
