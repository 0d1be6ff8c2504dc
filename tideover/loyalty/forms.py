from django import forms

from tideover.loyalty.models import AdjustmentReason


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Loyalty id, phone, e-mail or name", max_length=254, min_length=3, strip=True
    )


class AdjustmentForm(forms.Form):
    points = forms.IntegerField(
        label="Points",
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text="Positive to credit, negative to debit",
    )
    reason_code = forms.ChoiceField(label="Reason", choices=AdjustmentReason.choices)
    note = forms.CharField(
        label="Note",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Shown on the member's statement",
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    note = forms.CharField(label="Note", required=False, max_length=2000)
