"""The real settings plus the periodic probe (tideover/core/tests/probe.py)."""

from tideover.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tideover.core.tests.probe.ProbeConfig"]  # noqa: F405
