"""Transports, one package per channel kind (``channels/<kind>/``), found by this registry.

A transport has one job: ``send(message) -> provider id``, raising ``DeliveryError`` with
``permanent=True`` when retrying cannot help (a refused address) and ``False`` when it might (a
timeout, a 5xx). Adding a channel means adding a folder here that calls :func:`register`.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.message = message[:480]
        self.permanent = permanent


@dataclass
class Rendered:
    """A message ready for its transport."""

    channel: str
    recipient: str
    subject: str
    text: str
    html: str = ""
    payload: dict = field(default_factory=dict)
    delivery_id: str = ""
    secret: str = ""
    headers: dict = field(default_factory=dict)


class Transport(ABC):
    """Base class. ``idempotent``: the provider drops a repeat of the same delivery id, so a
    message whose worker died mid-send may be sent again (see outbox.py)."""

    channel: str = ""
    idempotent: bool = False

    def open(self) -> None:  # noqa: B027 (an optional hook: most channels need no batch setup)
        """Prepare for a batch (e.g. one SMTP connection for many messages)."""

    def close(self) -> None:  # noqa: B027 (an optional hook, as open)
        """End a batch."""

    def rate_limit(self) -> tuple[str, float] | None:
        """(key, messages per second) shared by every worker, or None for no limit."""
        return None

    @abstractmethod
    def send(self, message: Rendered) -> str:
        """Deliver one message; return the provider's message id or raise DeliveryError."""


_REGISTRY: dict[str, type[Transport]] = {}
_loaded = False


def register(cls: type[Transport]) -> type[Transport]:
    _REGISTRY[cls.channel] = cls
    return cls


def _load() -> None:
    global _loaded
    if not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if info.ispkg:
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True


def transport_for(channel: str) -> Transport:
    """A fresh transport instance for ``channel``."""
    _load()
    try:
        return _REGISTRY[channel]()
    except KeyError:
        raise DeliveryError(f"No transport for channel {channel!r}", permanent=True)


def channels() -> list[str]:
    _load()
    return sorted(_REGISTRY)
