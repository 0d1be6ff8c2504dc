from __future__ import annotations

from django import forms

from tideover.frontline.models import Category

PROBLEM_CATEGORIES = [
    c for c in Category.choices if c[0] not in ("customers-asking", "customers-upset")
]
INSIGHT_CATEGORIES = [
    (value, label)
    for value, label in Category.choices
    if value in ("customers-asking", "customers-upset", "loyalty", "card-payments", "other")
]


class ReportForm(forms.Form):
    category = forms.ChoiceField(label="What is it about?", widget=forms.RadioSelect)
    text = forms.CharField(
        label="What is happening?", widget=forms.Textarea(attrs={"rows": 4}), max_length=2000
    )
    photo = forms.FileField(label="Photo (optional)", required=False)

    def __init__(self, kind: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if kind == "insight":
            self.fields["category"].choices = INSIGHT_CATEGORIES
            self.fields["text"].label = "What are customers saying?"
            del self.fields["photo"]
        else:
            self.fields["category"].choices = PROBLEM_CATEGORIES
            self.fields["photo"].widget.attrs["accept"] = "image/*"


class StuckForm(forms.Form):
    note = forms.CharField(label="What is stopping you?", max_length=500)
