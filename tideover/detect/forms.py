"""The console's forms for signals and rules: they check the input's shape; the rules about
what may change are in :mod:`tideover.detect.definitions`."""

from __future__ import annotations

from django import forms

from tideover.core.models import Component, Store
from tideover.detect.models import Rule, Signal


class SignalForm(forms.ModelForm):
    store = forms.ModelChoiceField(
        Store.objects.filter(is_active=True).order_by("code"),
        required=False,
        empty_label="The whole chain",
        help_text="The store this signal speaks for, if only one",
    )
    components = forms.ModelMultipleChoiceField(
        Component.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What an alert on this signal suggests is affected",
    )

    class Meta:
        model = Signal
        fields = [
            "slug",
            "name",
            "unit",
            "owner",
            "kind",
            "direction",
            "sensitivity",
            "store",
            "components",
            "is_active",
        ]
        help_texts = {
            "slug": "Lower case, digits and dashes; how the API and files name it (fixed)",
            "kind": "Fixed once the signal exists",
            "sensitivity": "How far from normal a point must be to raise an alert",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Points are keyed on the slug and kind: shown, never changed.
            for name in ("slug", "kind"):
                self.fields[name].disabled = True


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = [
            "name",
            "signal",
            "comparison",
            "threshold",
            "minutes",
            "auto_declare",
            "severity_level",
            "is_active",
        ]
        labels = {"comparison": "Fires when the value is", "minutes": "For (minutes)"}
        help_texts = {
            "minutes": "Every minute of this run must be past the threshold",
            "name": "e.g. Heartbeat coverage below 90% for 3 minutes",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["signal"].queryset = Signal.objects.filter(is_active=True).order_by("name")
