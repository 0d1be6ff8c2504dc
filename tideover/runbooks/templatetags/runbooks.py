from django import template

from tideover.incidents.views import duration_text

register = template.Library()


@register.filter(name="duration_text")
def duration_text_filter(delta):
    """'2 h 05 min', '14 min', '40 s' (empty for None)."""
    return duration_text(delta)
