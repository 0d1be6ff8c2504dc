from django import template

from tideover.recovery.texts import dollars

register = template.Library()


@register.filter
def cents(value) -> str:
    """1234 -> $12.34"""
    return dollars(int(value or 0))


@register.filter
def percent(value) -> str:
    """0.1234 -> 12.3%"""
    return f"{100 * float(value or 0):.1f}%"


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key, 0)
