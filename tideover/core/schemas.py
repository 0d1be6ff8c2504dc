"""The base of every API input schema.

Unknown fields are refused by name rather than dropped: a client that sends
``"stores": {"store_codes": [...]}`` (instead of ``stores``) must hear about it, not get an
incident with no stores.
"""

from ninja import Schema
from pydantic import ConfigDict


class InputSchema(Schema):
    model_config = ConfigDict(extra="forbid")
