"""Console forms for incidents. They check the shape of the input; services check the rules."""

from __future__ import annotations

import re

from django import forms

from tideover.core.models import Component, ComponentStatus, Region
from tideover.core.roles import Capability, has_capability
from tideover.core.services import example_store_codes, stores_by_code
from tideover.incidents.models import (
    OPEN_INCIDENT_STATES,
    IncidentKind,
    IncidentState,
    Severity,
)
from tideover.incidents.services.common import (
    COMMANDER_ROLES,
    COMMS_LEAD_ROLES,
    MAX_TITLE_LENGTH,
    MAX_UPDATE_LENGTH,
    staff_with_roles,
    state_capability,
)
from tideover.incidents.services.lifecycle import next_states

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class DateTimeLocalInput(forms.DateTimeInput):
    """A phone's native date-and-time picker."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


def _datetime_field(label: str, required: bool = True, help_text: str = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        input_formats=DATETIME_FORMATS,
        widget=DateTimeLocalInput(),
        help_text=help_text,
    )


class SeverityChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Severity) -> str:
        cadence = (
            f"update every {obj.update_cadence_minutes} min"
            if obj.update_cadence_minutes
            else "no update cadence"
        )
        return f"{obj.name} — {obj.description or obj.get_impact_display()} ({cadence})"


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        full = obj.get_full_name()
        return f"{full} ({obj.get_username()})" if full else obj.get_username()


def _commander_field() -> StaffChoiceField:
    return StaffChoiceField(
        staff_with_roles(*COMMANDER_ROLES),
        required=False,
        label="Incident commander",
        empty_label="— me —",
    )


def _comms_field() -> StaffChoiceField:
    return StaffChoiceField(
        staff_with_roles(*COMMS_LEAD_ROLES),
        required=False,
        label="Comms lead",
        empty_label="— nobody yet —",
    )


class ComponentStatusFieldsMixin:
    """One status select per component; blank means 'not affected' or 'no change'."""

    def add_component_fields(self, blank_label: str, current: dict[int, str] | None = None):
        self._component_fields: dict[str, Component] = {}
        current = current or {}
        for component in Component.objects.all():
            name = f"component_{component.pk}"
            now = current.get(component.pk)
            label = component.name
            if now:
                label += f" (now {ComponentStatus(now).label.lower()})"
            self.fields[name] = forms.ChoiceField(
                label=label,
                required=False,
                choices=[("", blank_label), *ComponentStatus.choices],
            )
            self._component_fields[name] = component

    @property
    def component_fields(self):
        return [self[name] for name in self._component_fields]

    def component_statuses(self) -> dict[Component, str]:
        return {
            component: self.cleaned_data[name]
            for name, component in self._component_fields.items()
            if self.cleaned_data.get(name)
        }


def _signature(*, all_stores: bool, regions, stores) -> str:
    if all_stores:
        return "all"
    region_ids = ",".join(str(pk) for pk in sorted(r.pk for r in regions))
    store_ids = ",".join(str(pk) for pk in sorted(s.pk for s in stores))
    return f"regions:{region_ids};stores:{store_ids}"


class StoreScopeForm(forms.Form):
    """Which stores an incident touches: all of them, some regions, or a list of store codes."""

    SCOPES = [
        ("all", "All stores"),
        ("regions", "Some regions"),
        ("list", "A list of stores"),
        ("none", "No stores (web or HQ only)"),
    ]
    scope = forms.ChoiceField(
        label="Affected stores", choices=SCOPES, initial="all", widget=forms.RadioSelect
    )
    regions = forms.ModelMultipleChoiceField(
        Region.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    store_codes = forms.CharField(
        label="Store codes",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="For a list of stores: codes separated by spaces or commas",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A hint with codes of this chain's real stores, not made-up ones.
        self.fields["store_codes"].help_text += f", e.g. {example_store_codes()}"

    def clean(self):
        data = super().clean()
        scope = data.get("scope")
        data["stores"] = []
        if scope == "regions" and not data.get("regions"):
            self.add_error("regions", "Tick at least one region, or choose another scope.")
        if scope == "list":
            codes = [c for c in re.split(r"[\s,;]+", data.get("store_codes", "")) if c]
            if not codes:
                self.add_error("store_codes", "Type at least one store code.")
            stores, unknown = stores_by_code(codes)
            if unknown:
                self.add_error("store_codes", f"No store with code(s): {', '.join(unknown)}.")
            data["stores"] = stores
        return data

    def scope_kwargs(self) -> dict:
        scope = self.cleaned_data["scope"]
        return {
            "all_stores": scope == "all",
            "regions": list(self.cleaned_data.get("regions") or []) if scope == "regions" else [],
            "stores": self.cleaned_data["stores"] if scope == "list" else [],
        }

    def scope_signature(self) -> str:
        """The stores chosen, in a form to compare with ``signature_of`` an incident."""
        return _signature(**self.scope_kwargs())

    @staticmethod
    def signature_of(incident) -> str:
        return _signature(
            all_stores=incident.affects_all_stores,
            regions=incident.affected_regions.all(),
            stores=incident.affected_stores.all(),
        )

    @staticmethod
    def initial_for(incident) -> dict:
        if incident.affects_all_stores:
            return {"scope": "all"}
        codes = " ".join(incident.affected_stores.values_list("code", flat=True))
        regions = list(incident.affected_regions.all())
        if codes:
            return {"scope": "list", "store_codes": codes, "regions": regions}
        if regions:
            return {"scope": "regions", "regions": regions}
        return {"scope": "none"}


class DeclareForm(ComponentStatusFieldsMixin, StoreScopeForm):
    title = forms.CharField(
        max_length=MAX_TITLE_LENGTH,
        help_text="In words a customer understands, e.g. 'Card payments failing in stores'",
    )
    severity = SeverityChoiceField(Severity.objects.all(), empty_label=None)
    commander = _commander_field()
    comms_lead = _comms_field()
    message = forms.CharField(
        label="First public update",
        required=False,
        max_length=MAX_UPDATE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Goes out at once to the status page and subscribers; leave empty to post later",
    )
    started_at = _datetime_field(
        "Started at", required=False, help_text="If the failure began before now (UTC)"
    )
    is_drill = forms.BooleanField(
        label="This is a drill (nothing reaches the public or customers)", required=False
    )

    field_order = ["title", "severity"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["commander"].queryset = staff_with_roles(*COMMANDER_ROLES)
        self.fields["comms_lead"].queryset = staff_with_roles(*COMMS_LEAD_ROLES)
        self.add_component_fields("Not affected")


def _state_choices(incident) -> list[tuple[str, str]]:
    return [(state.value, state.label) for state in next_states(incident)]


class PublicUpdateForm(ComponentStatusFieldsMixin, forms.Form):
    body = forms.CharField(
        label="Public update",
        max_length=MAX_UPDATE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What customers see on the status page and in their messages",
    )
    state = forms.ChoiceField(label="Move the incident to", required=False)

    def __init__(self, incident, *args, user=None, **kwargs):
        """With ``user``, only the choices their role allows: the state and component
        statuses need the capabilities of changing them directly (the service checks too)."""
        super().__init__(*args, **kwargs)
        self.refused: list[str] = []  # what was sent that this user's role does not allow
        if user is not None and not has_capability(user, state_capability(incident)):
            del self.fields["state"]
            if self.data.get("state"):
                self.refused.append(state_capability(incident).label)
        else:
            self.fields["state"].choices = [
                ("", f"keep {incident.get_state_display().lower()}"),
                *_state_choices(incident),
            ]
        current = dict(incident.affected_components.values_list("component_id", "status"))
        self._component_fields = {}
        if user is None or has_capability(user, Capability.SET_COMPONENT_STATUS):
            self.add_component_fields("No change", current)
        elif any(k.startswith("component_") and v for k, v in self.data.items()):
            self.refused.append(Capability.SET_COMPONENT_STATUS.label)


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Internal note",
        max_length=MAX_UPDATE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    talking_points = forms.CharField(
        label="Talking points",
        required=False,
        max_length=MAX_UPDATE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What staff may tell customers (and what not to say)",
    )


class StateForm(forms.Form):
    state = forms.ChoiceField(label="New state")
    message = forms.CharField(
        label="Public update (optional)",
        required=False,
        max_length=MAX_UPDATE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, incident, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = _state_choices(incident)


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label="Why reopen (posted publicly)",
        max_length=MAX_UPDATE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    state = forms.ChoiceField(
        label="Reopen as",
        choices=[(s.value, s.label) for s in OPEN_INCIDENT_STATES],
        initial=IncidentState.INVESTIGATING,
    )


class ComponentStatusForm(forms.Form):
    component = forms.ModelChoiceField(Component.objects.all())
    status = forms.ChoiceField(choices=ComponentStatus.choices)


class StatusOnlyForm(forms.Form):
    status = forms.ChoiceField(choices=ComponentStatus.choices)


class IncidentSettingsForm(StoreScopeForm):
    """The page also sends back the severity and stores it showed: a save changes only what
    this person changed, so two commanders saving at once do not undo each other."""

    severity = SeverityChoiceField(Severity.objects.all(), empty_label=None)
    commander = _commander_field()
    comms_lead = _comms_field()
    shown_severity = forms.IntegerField(required=False, widget=forms.HiddenInput)
    shown_scope = forms.CharField(required=False, max_length=100_000, widget=forms.HiddenInput)

    field_order = ["severity", "commander", "comms_lead"]

    @classmethod
    def for_incident(cls, incident) -> IncidentSettingsForm:
        return cls(
            initial={
                "severity": incident.severity,
                "shown_severity": incident.severity_id,
                "shown_scope": cls.signature_of(incident),
                **cls.initial_for(incident),
            }
        )

    def severity_changed(self) -> bool:
        shown = self.cleaned_data.get("shown_severity")
        return shown is None or shown != self.cleaned_data["severity"].pk

    def scope_changed(self) -> bool:
        shown = self.cleaned_data.get("shown_scope")
        return not shown or shown != self.scope_signature()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["commander"].queryset = staff_with_roles(*COMMANDER_ROLES)
        self.fields["comms_lead"].queryset = staff_with_roles(*COMMS_LEAD_ROLES)
        self.fields["commander"].empty_label = "— unchanged —"
        self.fields["comms_lead"].empty_label = "— unchanged —"


class MaintenanceForm(StoreScopeForm):
    title = forms.CharField(max_length=MAX_TITLE_LENGTH, help_text="e.g. 'Loyalty system upgrade'")
    scheduled_for = _datetime_field("Starts (UTC)")
    scheduled_until = _datetime_field("Ends (UTC)")
    components = forms.ModelMultipleChoiceField(
        Component.objects.all(), widget=forms.CheckboxSelectMultiple
    )
    message = forms.CharField(
        label="Announcement",
        required=False,
        max_length=MAX_UPDATE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Posted on the status page now; empty: '<title> is scheduled.'",
    )

    field_order = ["title", "scheduled_for", "scheduled_until", "components", "message"]

    def clean(self):
        data = super().clean()
        start, end = data.get("scheduled_for"), data.get("scheduled_until")
        if start and end and end <= start:
            self.add_error("scheduled_until", "The window must end after it starts.")
        return data


class MaintenanceStepForm(forms.Form):
    message = forms.CharField(
        label="Public update (optional)",
        required=False,
        max_length=MAX_UPDATE_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class SeverityForm(forms.ModelForm):
    class Meta:
        model = Severity
        fields = ["description", "update_cadence_minutes", "impact"]
        labels = {"update_cadence_minutes": "Public update every (minutes)"}
        help_texts = {"update_cadence_minutes": "Empty: no cadence, no reminders"}

    def clean_update_cadence_minutes(self):
        value = self.cleaned_data.get("update_cadence_minutes")
        if value is not None and not 1 <= value <= 24 * 60:
            raise forms.ValidationError("Use between 1 and 1440 minutes, or leave it empty.")
        return value


class IncidentFilterForm(forms.Form):
    STATUS = [("open", "Open"), ("resolved", "Resolved"), ("all", "All")]
    status = forms.ChoiceField(choices=STATUS, required=False, initial="open")
    severity = forms.ModelChoiceField(
        Severity.objects.all(), required=False, empty_label="any severity"
    )
    kind = forms.ChoiceField(
        choices=[("", "incidents and maintenance"), *IncidentKind.choices], required=False
    )
    q = forms.CharField(label="Title contains", required=False, max_length=100)
