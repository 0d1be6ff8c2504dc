"""Read a scenario file and say exactly where it is wrong.

YAML is composed into nodes first so every value keeps the line it came from; the checked model
(``schema.Scenario``) reports the path of each mistake, and the path is turned back into a line.
One error per mistake, each naming the line, the field and what to write instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from tideover.scenarios.schema import Scenario

MAX_FILE_BYTES = 1_000_000
_NAMED = re.compile(r"^(?P<path>[a-z_]+(?:\.[a-z_]+)+): (?P<rest>.+)$", re.DOTALL)


@dataclass(frozen=True)
class Mistake:
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "top"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ScenarioError(ValueError):
    """A scenario file that cannot run, with every mistake found in it."""

    def __init__(self, path: str, mistakes: list[Mistake]):
        self.path = path
        self.mistakes = mistakes
        super().__init__(
            f"{path} is not a valid scenario:\n" + "\n".join(f"  {m}" for m in mistakes)
        )


def _plain(node: yaml.Node, lines: dict[tuple, int], path: tuple = ()):
    """The node as plain Python, recording each path's line (1-based) on the way."""
    lines.setdefault(path, node.start_mark.line + 1)  # a key's own line wins over its value's
    if isinstance(node, yaml.MappingNode):
        result = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if key_node.tag else key_node.value
            if not isinstance(key, (str, int)):
                raise ScenarioError(
                    "", [Mistake(key_node.start_mark.line + 1, "", "keys must be plain words")]
                )
            if key in result:
                raise ScenarioError(
                    "",
                    [Mistake(key_node.start_mark.line + 1, _dotted((*path, key)), "given twice")],
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _plain(value_node, lines, (*path, key))
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, lines, (*path, i)) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def _dotted(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _line_for(loc: tuple, lines: dict[tuple, int]) -> int | None:
    path = tuple(loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def _message(error: dict) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "is not a field here (check the spelling; docs/scenarios.md lists the fields)"
    if kind == "missing":
        return "is required"
    text = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    return text


def parse_scenario(text: str, path: str = "<scenario>") -> Scenario:
    """Check the text of a scenario file; raise :class:`ScenarioError` naming each mistake."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise ScenarioError(path, [Mistake(None, "", f"larger than {MAX_FILE_BYTES:,} bytes")])
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ScenarioError(path, [Mistake(line, "", f"not valid YAML: {exc.problem}")])
    except yaml.YAMLError as exc:
        raise ScenarioError(path, [Mistake(None, "", f"not valid YAML: {exc}")])
    if not isinstance(node, yaml.MappingNode):
        raise ScenarioError(path, [Mistake(1, "", "a scenario is a mapping of fields")])
    lines: dict[tuple, int] = {}
    try:
        data = _plain(node, lines)
    except ScenarioError as exc:
        raise ScenarioError(path, exc.mistakes)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        mistakes = []
        for error in exc.errors():
            loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
            message = _message(error)
            named = _NAMED.match(message)
            if not loc and named and named["path"].split(".")[0] in data:
                # A check across sections names the field it is about: point at its line.
                loc, message = tuple(named["path"].split(".")), named["rest"]
            mistakes.append(Mistake(_line_for(loc, lines), _dotted(loc), message))
        raise ScenarioError(path, mistakes)


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(path), [Mistake(None, "", "no such file")])
    except UnicodeDecodeError:
        raise ScenarioError(str(path), [Mistake(None, "", "not UTF-8 text")])
    return parse_scenario(text, str(path))
