from decimal import Decimal

from django import forms

from tideover.core.models import Region
from tideover.core.services import example_store_codes
from tideover.storelink.services import MAX_EXPOSURE_CENTS, MAX_PER_SALE_CENTS


class CardPolicyForm(forms.Form):
    """Limits in dollars on the page; the service stores cents."""

    target = forms.CharField(max_length=60, help_text="A store code (any case) or a region's slug")
    per_sale_limit = forms.DecimalField(
        min_value=0, max_value=Decimal(MAX_PER_SALE_CENTS) / 100, max_digits=10, decimal_places=2
    )
    total_limit = forms.DecimalField(
        min_value=0, max_value=Decimal(MAX_EXPOSURE_CENTS) / 100, max_digits=12, decimal_places=2
    )
    max_count = forms.IntegerField(min_value=0, max_value=1_000_000)
    max_age_minutes = forms.IntegerField(min_value=0, max_value=100_000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Hint with codes and a region this chain really has, not made-up ones.
        region = Region.objects.order_by("slug").values_list("slug", flat=True).first()
        example = example_store_codes(1) + (f" or {region}" if region else "")
        self.fields["target"].help_text += f", e.g. {example}"

    def limits(self) -> dict:
        data = self.cleaned_data
        return {
            "per_sale_limit_cents": int(data["per_sale_limit"] * 100),
            "total_limit_cents": int(data["total_limit"] * 100),
            "max_count": data["max_count"],
            "max_age_minutes": data["max_age_minutes"],
        }
