"""The runbook's written form: plain text a store-operations lead can edit in a text box.

::

    # Plan B: Keep selling on the registers that work
    Move on when: more than half the registers are still down after 20 minutes
    ## Store associates
    - Open every register that still takes payments
    ## Say
    - "Our card machines are slow today; cash is quickest."
    ## Don't say
    - "The system is broken."

A plan starts with ``# <name>: <what it is>``; ``Move on when:`` is the condition for the next
plan (every plan but the last needs one); ``## <audience>`` lists that audience's steps;
``## Say`` and ``## Don't say`` are the talking points. Lines starting with ``-`` are items.
Errors name the line to fix.
"""

from __future__ import annotations

import re

from tideover.core.errors import DomainError
from tideover.runbooks.models import Audience

MAX_PLANS = 6
MAX_ITEM_LENGTH = 500

_AUDIENCE_NAMES = {label.lower(): value for value, label in Audience.choices}
_AUDIENCE_NAMES.update({"associates": "store_associates", "managers": "store_managers"})
_SECTIONS = {
    "say": "say",
    "don't say": "dont_say",
    "do not say": "dont_say",
    "dont say": "dont_say",
}
_PLAN = re.compile(r"^#\s+([^:#]+?)\s*(?::\s*(.*))?$")
_MOVE_ON = re.compile(r"^move on when\s*:\s*(.*)$", re.IGNORECASE)


def _error(number: int, message: str) -> DomainError:
    return DomainError(f"Line {number}: {message}", field="text")


def parse(text: str) -> list[dict]:
    """Plans as dicts: name, title, move_on_when, steps {audience: [..]}, say, dont_say."""
    plans: list[dict] = []
    section = None
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("## "):
            if not plans:
                raise _error(number, "start with a plan heading such as '# Plan B: ...'")
            name = line[3:].strip().lower().replace("’", "'")
            if name in _SECTIONS:
                section = ("talk", _SECTIONS[name])
            elif name in _AUDIENCE_NAMES:
                section = ("steps", _AUDIENCE_NAMES[name])
            else:
                choices = ", ".join([label for _, label in Audience.choices] + ["Say", "Don't say"])
                raise _error(number, f"'{line[3:].strip()}' is not one of: {choices}")
            continue
        plan_match = _PLAN.match(line)
        if line.startswith("# ") and plan_match:
            plans.append(
                {
                    "name": plan_match[1].strip()[:100],
                    "title": (plan_match[2] or "").strip()[:200],
                    "move_on_when": "",
                    "steps": {},
                    "say": [],
                    "dont_say": [],
                }
            )
            section = None
            continue
        if not plans:
            raise _error(number, "start with a plan heading such as '# Plan B: ...'")
        move_on = _MOVE_ON.match(line)
        if move_on:
            plans[-1]["move_on_when"] = move_on[1].strip()[:MAX_ITEM_LENGTH]
            continue
        if line.startswith(("- ", "* ")):
            item = line[2:].strip()
            if len(item) > MAX_ITEM_LENGTH:
                raise _error(number, f"keep each item under {MAX_ITEM_LENGTH} characters")
            if section is None:
                raise _error(number, "put items under '## Store associates', '## Say' and so on")
            kind, key = section
            if kind == "steps":
                plans[-1]["steps"].setdefault(key, []).append(item)
            else:
                plans[-1][key].append(item)
            continue
        raise _error(number, "start items with '- ', plans with '# ', sections with '## '")
    _check(plans)
    return plans


def _check(plans: list[dict]) -> None:
    if not plans:
        raise DomainError("Write at least one plan ('# Plan B: ...')", field="text")
    if len(plans) > MAX_PLANS:
        raise DomainError(f"Keep to {MAX_PLANS} plans or fewer", field="text")
    names = [plan["name"].lower() for plan in plans]
    if len(set(names)) != len(names):
        raise DomainError("Give every plan its own name", field="text")
    for index, plan in enumerate(plans):
        if not any(plan["steps"].values()):
            raise DomainError(f"{plan['name']} has no steps for anyone", field="text")
        if index < len(plans) - 1 and not plan["move_on_when"]:
            raise DomainError(
                f"{plan['name']}: say when to move on to {plans[index + 1]['name']} "
                "('Move on when: ...')",
                field="text",
            )


def store_steps(plan: dict) -> list[tuple[str, str]]:
    """(audience, text) for the steps a store works through, associates' first."""
    return [
        (a, t)
        for a in (Audience.STORE_ASSOCIATES, Audience.STORE_MANAGERS)
        for t in plan["steps"].get(a, [])
    ]


def team_steps(plan: dict) -> dict[str, list[str]]:
    """The other audiences' steps, by team."""
    return {
        audience: plan["steps"][audience]
        for audience in (Audience.CUSTOMER_SERVICE, Audience.SOCIAL_TEAM, Audience.IT)
        if plan["steps"].get(audience)
    }
