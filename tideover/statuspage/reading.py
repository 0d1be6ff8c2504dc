"""One reading of the database per publish, shared by every document it renders.

The publish task renders about a dozen documents (the served front page and summary, then the
export's front page, history, feeds and eight JSON documents), and most of them ask the same
questions: the public components, the open incidents, the maintenance windows, the 90-day bars.
Inside ``one_reading()`` each question is asked once and its answer reused, so a publish costs
one reading instead of a dozen, and every document of one export describes the same moment.
Outside it (a reader's request, a test) every call reads afresh, as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_answers: ContextVar[dict | None] = ContextVar("statuspage_reading", default=None)


@contextmanager
def one_reading() -> Iterator[None]:
    token = _answers.set({})
    try:
        yield
    finally:
        _answers.reset(token)


def _plain(value):
    """A hashable stand-in for an argument: lists by their items, models by their key."""
    if isinstance(value, list | tuple):
        return tuple(_plain(item) for item in value)
    pk = getattr(value, "pk", None)
    return (type(value).__name__, pk) if pk is not None else value


def shared(function: Callable) -> Callable:
    """Answer repeated calls with the same arguments from the current reading, if one is open.
    Lists and dicts are handed out as copies, so a caller that reorders its own copy does not
    change what the next document sees."""

    @functools.wraps(function)
    def reuse(*args, **kwargs):
        answers = _answers.get()
        if answers is None:
            return function(*args, **kwargs)
        key = (function.__qualname__, _plain(args), _plain(tuple(sorted(kwargs.items()))))
        if key not in answers:
            answers[key] = function(*args, **kwargs)
        found = answers[key]
        return type(found)(found) if isinstance(found, list | dict) else found

    return reuse
