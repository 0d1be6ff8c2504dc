from __future__ import annotations

from django import forms


class ActionItemForm(forms.Form):
    text = forms.CharField(label="Action", max_length=500)
    owner = forms.CharField(label="Owner", max_length=150, required=False)
    due_on = forms.DateField(
        label="Due", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    done = forms.BooleanField(label="Done", required=False)
