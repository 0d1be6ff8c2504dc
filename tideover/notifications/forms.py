from __future__ import annotations

from django import forms

from tideover.core.models import Component
from tideover.core.text import is_row_id
from tideover.notifications import channels
from tideover.notifications.models import channel_choices


def public_components():
    return Component.objects.filter(is_public=True).order_by("position", "name")


class ComponentsField(forms.ModelMultipleChoiceField):
    """Components by id; an id no database column could hold is refused like any unknown one
    (the database would fail on it, a 500)."""

    def _check_values(self, value):
        for pk in value:
            text = str(pk)
            if not is_row_id(text):
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": text[:20]},
                )
        return super()._check_values(value)


class SubscribeForm(forms.Form):
    """The public sign-up: a choice of channel and one address field per channel, both taken
    from the channel packages (channels/), then the components."""

    channel = forms.ChoiceField(
        choices=[], widget=forms.RadioSelect, label="How should we tell you?"
    )
    components = ComponentsField(
        queryset=Component.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Only these parts (leave all unticked for everything)",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        offered = channels.public()
        self.fields["channel"].choices = [(c.name, c.signup_label) for c in offered]
        self.fields["channel"].initial = offered[0].name if offered else None
        self.address_fields = {}  # channel name -> form field name
        components = self.fields.pop("components")
        for kind in offered:
            name, field = kind.signup_field()
            self.fields[name] = field
            self.address_fields[kind.name] = name
        self.fields["components"] = components
        components.queryset = public_components()

    def addresses(self):
        """(channel name, bound address field) for the template, in the form's order."""
        return [(channel, self[name]) for channel, name in self.address_fields.items()]

    def address(self) -> str:
        """The address typed for the chosen channel."""
        return self.cleaned_data[self.address_fields[self.cleaned_data["channel"]]]


class CodeForm(forms.Form):
    code = forms.CharField(max_length=12, label="The 6-digit code we texted you")


class EndpointForm(forms.Form):
    name = forms.CharField(max_length=100)
    channel = forms.ChoiceField(choices=channel_choices)
    target = forms.CharField(max_length=1000, label="apprise URL, e-mail, webhook URL or phone")
