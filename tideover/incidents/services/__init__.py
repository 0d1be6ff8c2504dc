"""Incident services: every state change of incidents and maintenance, each owning its
transaction. Import from here (``from tideover.incidents import services``)."""

from tideover.incidents.services.common import (
    DEFAULT_SEVERITIES,
    MAX_TITLE_LENGTH,
    MAX_UPDATE_LENGTH,
    SYSTEM,
    Actor,
    check_typed_times,
    components_snapshot,
    ensure_default_severities,
    record_timeline_event,
)
from tideover.incidents.services.lifecycle import (
    add_internal_note,
    change_state,
    declare_incident,
    overdue_incidents,
    post_public_update,
    reopen_incident,
    resolve_incident,
    set_component_status,
)
from tideover.incidents.services.maintenance import (
    cancel_maintenance,
    complete_maintenance,
    due_maintenance_transitions,
    schedule_maintenance,
    start_maintenance,
)
from tideover.incidents.services.settings import assign_roles, change_severity, set_store_scope

__all__ = [
    "DEFAULT_SEVERITIES",
    "MAX_TITLE_LENGTH",
    "MAX_UPDATE_LENGTH",
    "SYSTEM",
    "Actor",
    "add_internal_note",
    "check_typed_times",
    "assign_roles",
    "change_severity",
    "change_state",
    "cancel_maintenance",
    "complete_maintenance",
    "components_snapshot",
    "declare_incident",
    "due_maintenance_transitions",
    "ensure_default_severities",
    "overdue_incidents",
    "post_public_update",
    "record_timeline_event",
    "reopen_incident",
    "resolve_incident",
    "schedule_maintenance",
    "set_component_status",
    "set_store_scope",
    "start_maintenance",
]
