"""The base of every API input schema, and the field types inputs share.

Unknown fields are refused by name rather than dropped: a client that sends
``"stores": {"store_codes": [...]}`` (instead of ``stores``) must hear about it, not get an
incident with no stores.
"""

from datetime import datetime
from typing import Annotated

from ninja import Schema
from pydantic import AfterValidator, ConfigDict, Field


class InputSchema(Schema):
    model_config = ConfigDict(extra="forbid")


def _sane_moment(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("needs a time zone, e.g. 2026-11-21T14:03:00Z")
    if not 2000 <= value.year <= 2100:
        raise ValueError("must be a date between the years 2000 and 2100")
    return value


# A moment a person could mean: with a time zone, and far from the calendar's edges (which
# overflow when converted to UTC and cannot be stored).
Moment = Annotated[datetime, AfterValidator(_sane_moment)]

# A count a PostgreSQL integer column holds. Strict: JSON true, "3" and 3.0 are not counts.
Count = Annotated[int, Field(ge=0, le=2_147_483_647, strict=True)]
