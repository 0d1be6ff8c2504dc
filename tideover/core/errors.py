"""Errors that services raise when a request cannot be carried out.

Views and the API turn them into a 4xx answer with the message, which is written for the person
who has to fix the input (never a stack trace, never personal data).
"""


class DomainError(Exception):
    """The request is understood but breaks a business rule."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """The request clashes with the current state (already resolved, already redeemed...)."""

    status_code = 409


class PermissionDenied(DomainError):
    status_code = 403
