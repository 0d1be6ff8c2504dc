from django import forms


class CardPolicyForm(forms.Form):
    """Limits in dollars on the page; the service stores cents."""

    target = forms.CharField(
        max_length=60, help_text="A store code (S0042) or a region's slug (north)"
    )
    per_sale_limit = forms.DecimalField(min_value=0, max_digits=10, decimal_places=2)
    total_limit = forms.DecimalField(min_value=0, max_digits=12, decimal_places=2)
    max_count = forms.IntegerField(min_value=0, max_value=1_000_000)
    max_age_minutes = forms.IntegerField(min_value=0, max_value=100_000)

    def limits(self) -> dict:
        data = self.cleaned_data
        return {
            "per_sale_limit_cents": int(data["per_sale_limit"] * 100),
            "total_limit_cents": int(data["total_limit"] * 100),
            "max_count": data["max_count"],
            "max_age_minutes": data["max_age_minutes"],
        }
