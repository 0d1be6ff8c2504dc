"""Console forms for runbooks and the plan in force. Shape only; services check the rules."""

from __future__ import annotations

from django import forms

from tideover.core.models import Component
from tideover.incidents.models import Severity
from tideover.runbooks.models import Runbook

TEXT_HELP = (
    "'# Plan B: what it is', then 'Move on when: ...', then '## Store associates', "
    "'## Store managers', '## Customer service', '## Social team', '## IT', '## Say', "
    "'## Don't say', each followed by '- ' items."
)


class RunbookTextForm(forms.Form):
    title = forms.CharField(max_length=200)
    text = forms.CharField(
        label="Plans",
        widget=forms.Textarea(attrs={"rows": 24}),
        help_text=TEXT_HELP,
        max_length=20000,
    )
    note = forms.CharField(label="What changed", max_length=200, required=False)


class NewRunbookForm(RunbookTextForm):
    component = forms.ModelChoiceField(queryset=Component.objects.all())
    severity = forms.ModelChoiceField(
        queryset=Severity.objects.all(), required=False, empty_label="Any severity"
    )
    field_order = ["component", "severity", "title", "text", "note"]


class MovePlanForm(forms.Form):
    plan = forms.TypedChoiceField(coerce=int, label="Move to")
    reason = forms.CharField(
        max_length=500, required=False, label="Why (the condition that was met)"
    )

    def __init__(self, plans: list[dict], current: int, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [
            (i, f"{p['name']}{': ' + p['title'] if p['title'] else ''}")
            for i, p in enumerate(plans)
            if i != current
        ]


class AttachForm(forms.Form):
    runbook = forms.ModelChoiceField(
        queryset=Runbook.objects.select_related("component", "severity")
    )


class NudgeForm(forms.Form):
    minutes = forms.IntegerField(
        min_value=0, max_value=24 * 60, label="Not acknowledged after (minutes)"
    )
