"""Who did something, for timelines and audit records: a staff user, or a named machine
(``token:<name>``) or ``system``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user: object | None = None
    name: str = "system"

    @classmethod
    def of(cls, user=None, name: str | None = None) -> Actor:
        if user is not None:
            return cls(user=user, name=name or user.get_username())
        return cls(user=None, name=name or "system")


SYSTEM = Actor()
