"""Forms of the recovery pages. They only shape input; the rules are in the services."""

from __future__ import annotations

from django import forms

from tideover.recovery.models import ChannelPreference, OfferKind
from tideover.recovery.policy import MAX_BONUS, MOST


class SignUpForm(forms.Form):
    """The associate's form and the shopper's own (QR) form: a few fields, phone keyboards."""

    name = forms.CharField(
        label="Name", required=False, max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name", "autocapitalize": "words"}),
    )  # fmt: skip
    phone = forms.CharField(
        label="Mobile number", required=False, max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )  # fmt: skip
    email = forms.CharField(
        label="E-mail", required=False, max_length=254,
        widget=forms.TextInput(
            attrs={"type": "email", "inputmode": "email", "autocomplete": "email"}
        ),
    )  # fmt: skip
    loyalty_id = forms.CharField(
        label="Loyalty card number (if any)", required=False, max_length=32,
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
    )  # fmt: skip
    consent = forms.BooleanField(label="", required=False)


class PolicyForm(forms.Form):
    offer_kind = forms.ChoiceField(choices=OfferKind.choices, label="Offer")
    offer_value = forms.IntegerField(
        min_value=1,
        max_value=MOST["offer_value"],
        initial=500,
        label="Value (cents off, or percent off)",
    )
    min_spend_cents = forms.IntegerField(
        min_value=0, max_value=MOST["min_spend_cents"], label="Minimum spend (cents)", initial=2500
    )
    member_bonus_points = forms.IntegerField(
        min_value=0, max_value=MAX_BONUS, initial=0, label="Bonus points: member"
    )
    cardholder_bonus_points = forms.IntegerField(
        min_value=0, max_value=MAX_BONUS, initial=0, label="Bonus points: cardholder"
    )
    cardholder_extra = forms.IntegerField(
        min_value=0,
        max_value=MAX_BONUS,
        initial=0,
        label="Larger discount for cardholders (cents or percent points)",
    )
    valid_days = forms.IntegerField(min_value=1, max_value=365, initial=30)
    channel = forms.ChoiceField(choices=ChannelPreference.choices)
    budget_cents = forms.IntegerField(
        min_value=0, max_value=MOST["budget_cents"], initial=0, label="Budget cap (cents, 0: none)"
    )
    expected_redemption_percent = forms.IntegerField(min_value=0, max_value=100, initial=20)
    holdout_percent = forms.IntegerField(
        min_value=0, max_value=50, initial=0,
        label="Holdout share (percent of affected customers who get no offer, to measure its effect)",
    )  # fmt: skip
    recovery_window_days = forms.IntegerField(min_value=1, max_value=90, initial=7)


class LookupForm(forms.Form):
    q = forms.CharField(label="Loyalty id, phone or e-mail", max_length=254)


class OptOutForm(forms.Form):
    contact = forms.CharField(label="Your mobile number or e-mail address", max_length=254)
