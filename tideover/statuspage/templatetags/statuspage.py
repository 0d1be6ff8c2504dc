from django import template

from tideover.core.models import ComponentStatus
from tideover.incidents.models import Impact, IncidentState

register = template.Library()


@register.simple_tag(takes_context=True)
def incident_href(context, pk) -> str:
    """The link to an incident's page: served path or relative export path."""
    return context["links"].incident(pk)


@register.filter
def status_label(value: str) -> str:
    try:
        return ComponentStatus(value).label
    except ValueError:
        return value


@register.filter
def state_label(value: str) -> str:
    try:
        return IncidentState(value).label
    except ValueError:
        return value


@register.filter
def impact_label(value: str) -> str:
    try:
        return Impact(value).label
    except ValueError:
        return value
