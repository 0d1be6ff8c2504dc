from __future__ import annotations

from django import forms

from tideover.core.models import Component
from tideover.notifications.models import Channel


def public_components():
    return Component.objects.filter(is_public=True).order_by("position", "name")


class SubscribeForm(forms.Form):
    channel = forms.ChoiceField(
        choices=[
            (Channel.EMAIL, "E-mail"),
            (Channel.SMS, "Text message (SMS)"),
            (Channel.WEBHOOK, "Webhook (for developers)"),
        ],
        widget=forms.RadioSelect,
        initial=Channel.EMAIL,
        label="How should we tell you?",
    )
    email = forms.CharField(required=False, max_length=254, label="E-mail address")
    phone = forms.CharField(required=False, max_length=32, label="Mobile number")
    url = forms.CharField(required=False, max_length=500, label="Webhook URL")
    components = forms.ModelMultipleChoiceField(
        queryset=Component.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Only these parts (leave all unticked for everything)",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["components"].queryset = public_components()

    def address(self) -> str:
        data = self.cleaned_data
        return {"email": data["email"], "sms": data["phone"], "webhook": data["url"]}[
            data["channel"]
        ]


class CodeForm(forms.Form):
    code = forms.CharField(max_length=12, label="The 6-digit code we texted you")


class EndpointForm(forms.Form):
    name = forms.CharField(max_length=100)
    channel = forms.ChoiceField(choices=Channel.choices)
    target = forms.CharField(max_length=1000, label="apprise URL, e-mail, webhook URL or phone")


class PreviewForm(forms.Form):
    # The incidents app's MAX_UPDATE_LENGTH (notifications sits below incidents: no import).
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=2000)
    state = forms.CharField(required=False, max_length=16)
