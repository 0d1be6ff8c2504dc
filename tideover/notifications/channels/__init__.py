"""Channels, one package per kind (``channels/<name>/``): the one place a channel is added.

A package defines a :class:`Channel` subclass decorated with :func:`register`, and the registry
imports every package in this folder the first time it is asked. Everything else asks the
registry, so a new package is picked up by

- the ``channel`` choices of subscribers, staff channels and outbox rows (``choices()``);
- the public sign-up form and API (``public`` channels, their ``signup_field`` and
  ``clean_address``) and the fan-out of incident updates (``public_names()``);
- staff channels (``clean_target``), rendering (``render_notification``, ``render_message``,
  ``preview``) and delivery (``transport``, ``suppressed``).

``tests/test_new_channel.py`` adds a channel from a folder of its own and follows it from the
sign-up form to its transport.

A transport has one job: ``send(message) -> provider id``, raising ``DeliveryError`` with
``permanent=True`` when retrying cannot help (a refused address) and ``False`` when it might (a
timeout, a 5xx). One whose message takes building (e-mail) may split it into ``prepare`` and
``send_prepared``, so the building overlaps the database's work.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from tideover.core.errors import DomainError

# Stored on every subscriber and outbox row (a CharField of this length).
MAX_NAME_LENGTH = 10


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
    """Sends one channel's messages. ``idempotent``: the provider drops a repeat of the same
    delivery id, so a message whose worker died mid-send may be sent again (see outbox.py)."""

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

    def prepare(self, message: Rendered):
        """Build what ``send_prepared`` hands over, using neither the provider nor the database:
        delivery runs this while the message's 'sending' mark commits. By default the message
        itself, for a channel with nothing to build ahead."""
        return message

    def send_prepared(self, prepared) -> str:
        """Deliver what ``prepare`` built, as ``send`` does."""
        return self.send(prepared)


class Channel:
    """What the app needs to know about one kind of channel. Override what differs."""

    name: str = ""  # stored on rows: never rename a channel that has data
    label: str = ""  # staff screens and the delivery log
    public: bool = False  # offered to the public (sign-up form, API, incident fan-out)
    signup_label: str = ""  # the choice on the public sign-up form
    order: int = 100  # position on the sign-up form
    transport: type[Transport]
    # Fields of the outbox row (``"created_at"``) or its subscriber or staff channel
    # (``"subscriber__country"``) that this channel's ``suppressed()`` or ``render_message()``
    # read, beyond what every channel's sending reads (``outbox.READ_WHEN_SENDING``): the
    # worker's batch read takes them too, instead of one query per message.
    reads_when_sending: tuple[str, ...] = ()

    # --- addresses -------------------------------------------------------------------------
    def signup_field(self):
        """(form field name, Django form field) the public types their address in, or None for
        a staff-only channel. Every public channel has one (``register`` refuses one without)."""
        return None

    def clean_address(self, text: str, *, field: str) -> str:
        """A subscriber's address, validated and normalised; DomainError naming ``field``."""
        text = (text or "").strip()
        if not text:
            raise DomainError(f"Enter the {self.label} address", field=field)
        return text

    def clean_target(self, text: str) -> str:
        """A staff channel's target (staff may point at internal addresses)."""
        return self.clean_address(text, field="target")

    # --- sign-up ---------------------------------------------------------------------------
    def check_signup(self, address: str, *, ip: str, authorised: bool) -> None:
        """The abuse limits a sign-up spends (signup.py calls this before any write)."""
        from tideover.notifications.ratelimit import check_signup

        check_signup(ip=ip, authorised=authorised)

    def prepare(self, subscriber) -> None:
        """Set channel fields on a (re)starting sign-up before it is saved."""

    def send_confirmation(self, subscriber) -> None:
        """After the sign-up is saved: ask the owner to confirm. A channel that needs no
        confirmation turns the subscriber on in :meth:`prepare` instead."""

    def confirmation_pending(self, subscriber, since) -> bool:
        """True while a confirmation sent after ``since`` is still on its way (a repeat sign-up
        then changes nothing)."""
        return False

    # --- rendering -------------------------------------------------------------------------
    def render_notification(self, rendered: Rendered, notification, context: dict) -> Rendered:
        """Fill in what an incident notification says here. ``rendered`` has the subject and
        the plain text; ``context`` is the messages templates' context (``internal`` is True
        for staff, ``unsubscribe_url`` set for subscribers)."""
        return rendered

    def render_message(self, rendered: Rendered, message) -> Rendered:
        """Fill in a direct message (confirmation, reminder, member message)."""
        return rendered

    def needs_text(self) -> bool:
        """False when the rendered text is never read (webhooks send JSON)."""
        return True

    def preview(self, notification) -> dict | None:
        """What staff see before posting an update (None: not previewed)."""
        return None

    # --- delivery --------------------------------------------------------------------------
    def suppressed(self, message) -> str:
        """Why this queued message must not go out any more ('' to send it)."""
        return ""


_REGISTRY: dict[str, Channel] = {}
_loaded = False


def register(cls: type[Channel]) -> type[Channel]:
    """Class decorator: make ``cls`` a channel."""
    if not cls.name or len(cls.name) > MAX_NAME_LENGTH:
        raise ValueError(f"a channel name has 1 to {MAX_NAME_LENGTH} characters: {cls.name!r}")
    if cls.public and not cls.signup_label:
        raise ValueError(f"public channel {cls.name!r} needs a signup_label")
    channel = cls()
    if cls.public and channel.signup_field() is None:
        # Refused here, when the channel is loaded, not at the first sign-up that picks it.
        raise ValueError(
            f"public channel {cls.name!r} needs a signup_field (the address the public types)"
        )
    _REGISTRY[cls.name] = channel
    return cls


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def load(again: bool = False) -> None:
    """Import every channel package in this folder (``again``: look for new ones)."""
    global _loaded
    if again or not _loaded:
        for info in pkgutil.iter_modules(__path__):
            if info.ispkg:
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True


def get(name: str) -> Channel | None:
    load()
    return _REGISTRY.get(name)


def every() -> list[Channel]:
    """Every channel, by name."""
    load()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def public() -> list[Channel]:
    """The channels the public may subscribe on, in the order the sign-up form offers them."""
    return sorted((c for c in every() if c.public), key=lambda c: (c.order, c.name))


def public_names() -> list[str]:
    return [c.name for c in public()]


def choices() -> list[tuple[str, str]]:
    """Every channel as model and form choices (the fields call this, so a new package needs no
    migration)."""
    return [(c.name, c.label) for c in every()]


def reads_when_sending() -> tuple[str, ...]:
    """What every channel asks a worker's batch read to take besides the common fields."""
    return tuple(sorted({field for c in every() for field in c.reads_when_sending}))


def transport_for(name: str) -> Transport:
    """A fresh transport instance for the channel ``name``."""
    channel = get(name)
    if channel is None:
        raise DeliveryError(f"No transport for channel {name!r}", permanent=True)
    return channel.transport()
