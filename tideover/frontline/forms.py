from __future__ import annotations

from django import forms

from tideover.frontline.models import ReportKind, ReportState
from tideover.incidents.models import Incident


class SearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=200)
    state = forms.ChoiceField(
        required=False, choices=[("", "Any state"), *ReportState.choices], label="State"
    )
    kind = forms.ChoiceField(
        required=False, choices=[("", "Both"), *ReportKind.choices], label="Kind"
    )
    store = forms.CharField(required=False, max_length=20, label="Store code")


class LinkForm(forms.Form):
    incident = forms.ModelChoiceField(
        queryset=Incident.objects.incidents().order_by("-declared_at"),
        required=False,
        empty_label="No incident",
    )


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label="Answer the store (shown on its page)",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )
