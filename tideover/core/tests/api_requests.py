"""Requests the role matrix sends to every API operation: made from the OpenAPI document, so
an operation another app adds is called the day it lands, with a body that passes its schema
and leaves the operation's own access check to answer."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlencode

from django.test import Client
from django.utils import timezone


def _operations():
    from tideover.urls import api

    schema = api.get_openapi_schema()
    definitions = schema.get("components", {}).get("schemas", {})
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, _request(operation, definitions)


def _example(schema: dict, definitions: dict, depth: int = 0):
    """A small valid-looking value for a JSON schema, so the request passes validation and the
    endpoint's own role check is what answers."""
    if "$ref" in schema:
        return _example(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return _example(options[0], definitions, depth + 1)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "array":  # one item, not the default []: many bodies need at least one line
        return [_example(schema.get("items", {}), definitions, depth + 1)] if depth < 6 else []
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if kind == "object":
        props = schema.get("properties", {}) if depth < 6 else {}
        wanted = set(schema.get("required", [])) | {
            name for name, prop in props.items() if prop.get("type") == "array"
        }
        return {
            name: _example(props[name], definitions, depth + 1) for name in props if name in wanted
        }
    if kind == "string":
        if schema.get("format") == "date-time":
            # An hour ago: inside every endpoint's bounds (sales refuse the future and the very old).
            return (timezone.now() - timedelta(hours=1)).isoformat()
        if schema.get("format") == "email":
            return "someone@example.com"
        return "x" * max(schema.get("minLength", 1), 1)
    return {"integer": 1, "number": 1, "boolean": False}.get(kind, {})


def _request(operation: dict, definitions: dict) -> tuple[str, bytes]:
    """The query string and JSON body of a request that should pass the operation's schema."""
    query = {
        param["name"]: _example(param.get("schema", {}), definitions)
        for param in operation.get("parameters", [])
        if param.get("in") == "query" and param.get("required")
    }
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    body = json.dumps(_example(schema, definitions) if schema else {}).encode()
    return urlencode(query, doseq=True), body


def _api_url(path: str) -> str:
    return "/api/v1" + re.sub(r"{[^}]+}", "1", path.removeprefix("/api/v1"))


def _call(client: Client, method: str, path: str, request=("", b"{}"), **extra):
    query, body = request
    url = _api_url(path) + (f"?{query}" if query else "")
    return client.generic(method, url, body, content_type="application/json", **extra)


def _for_store(example, code: str):
    """The example request with every "store" field set to ``code`` (a bound token's own)."""
    query, body = example

    def fill(value):
        if isinstance(value, dict):
            return {k: (code if k == "store" else fill(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return query, json.dumps(fill(json.loads(body))).encode()
