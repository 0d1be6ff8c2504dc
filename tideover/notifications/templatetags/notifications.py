"""``{% load notifications %}{% subscribe_form %}`` puts the subscribe form on any page (the
public status page includes it where it shows ``subscribe_enabled``)."""

from django import template

from tideover.notifications.forms import SubscribeForm

register = template.Library()


@register.inclusion_tag("notifications/subscribe_form.html", takes_context=True)
def subscribe_form(context):
    return {
        "form": context.get("subscribe_form") or SubscribeForm(),
        "csrf_token": context.get("csrf_token"),
    }
