"""Sections that other apps add to the incident page (detection evidence, store checklists,
goodwill results, a replay's scorecard) without the incidents app knowing them.

An app registers a panel in its ``AppConfig.ready``::

    from tideover.incidents import panels
    panels.add_panel("scorecard", "scenarios/_scorecard_panel.html", build_scorecard, order=50)

``build(request, incident)`` returns the panel's template context, or None to leave the panel
out (nothing to show, or the visitor may not see it: the build decides with core.access).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    build: Callable
    order: int = 100


_PANELS: dict[str, Panel] = {}


def add_panel(key: str, template: str, build: Callable, order: int = 100) -> None:
    """Show ``template`` on the incident page with the context ``build`` returns."""
    _PANELS[key] = Panel(key, template, build, order)


def panels_for(request, incident) -> list[dict]:
    """The panels this visitor sees on this incident, in order, each {template, context}."""
    shown = []
    for panel in sorted(_PANELS.values(), key=lambda p: (p.order, p.key)):
        context = panel.build(request, incident)
        if context is not None:
            shown.append({"key": panel.key, "template": panel.template, "context": context})
    return shown
