"""The agent's settings: command line over environment over config file over defaults.

Environment names are ``TIDEOVER_AGENT_<NAME>`` (``TIDEOVER_AGENT_TOKEN_FILE`` reads the token
from a file); the config file is TOML with the same names in lower case (docs/agent.md).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path


class ConfigError(Exception):
    """A setting is missing or cannot be understood; the message names it."""


@dataclass
class AgentConfig:
    store: str = ""
    hq: str = ""
    token: str = ""
    data: str = "agent-data"
    listen: str = "127.0.0.1:8700"
    manager_pin: str = ""  # forced offline needs it; empty: forced offline is not available
    register_key: str = ""  # when set, registers must send it as a bearer token
    batch_size: int = 500
    # Batches sent to HQ before the first is answered (1: one at a time). HQ may commit two in
    # either order; the agent asks HQ again for the balance of a member in both
    # (docs/agent.md, "Two batches in flight").
    in_flight: int = 2
    heartbeat_seconds: float = 5.0
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    hq_timeout_seconds: float = 10.0
    quarantine_after: int = 5  # server errors for a sale sent alone, HQ otherwise answering
    quarantine_retry_seconds: float = 600.0  # how often a quarantined sale is tried again
    # Sales HQ posted (and problems staff dealt with), and log lines, older than this many
    # days are deleted, so the file does not grow for ever; 0 keeps everything.
    keep_days: float = 30.0

    @property
    def database(self) -> Path:
        return Path(self.data) / "agent.sqlite3"

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        try:
            return host.strip("[]") or "127.0.0.1", int(port)
        except ValueError:
            raise ConfigError(f"listen={self.listen!r} should be HOST:PORT, e.g. 0.0.0.0:8700")

    def check(self) -> AgentConfig:
        missing = [name for name in ("store", "hq", "token") if not getattr(self, name)]
        if missing:
            raise ConfigError(
                "Missing: " + ", ".join(f"--{m} (or TIDEOVER_AGENT_{m.upper()})" for m in missing)
            )
        if not self.hq.startswith(("http://", "https://")):
            raise ConfigError(f"hq={self.hq!r} should be HQ's URL, e.g. https://hq.example.com")
        if self.batch_size < 1 or self.heartbeat_seconds <= 0 or self.in_flight < 1:
            raise ConfigError("batch_size, in_flight and heartbeat_seconds must be positive")
        if self.keep_days < 0:
            raise ConfigError("keep_days must be 0 (keep everything) or more")
        if self.quarantine_after < 1 or self.quarantine_retry_seconds <= 0:
            raise ConfigError("quarantine_after and quarantine_retry_seconds must be positive")
        self.hq = self.hq.rstrip("/")
        self.host_port  # noqa: B018 - raises on a bad listen address
        return self


def _convert(name: str, kind, value):
    try:
        if kind in (int, "int"):
            return int(value)
        if kind in (float, "float"):
            return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not a number")
    return str(value)


def load(
    cli: dict | None = None, *, environ: dict | None = None, path: str | None = None
) -> AgentConfig:
    """Merge the sources; ``cli`` holds only the options given on the command line."""
    environ = os.environ if environ is None else environ
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    values: dict = {}
    config_path = path or cli.pop("config", None) or environ.get("TIDEOVER_AGENT_CONFIG")
    if config_path:
        try:
            values.update(tomllib.loads(Path(config_path).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {config_path}: {exc}")
    cli.pop("config", None)
    for field in fields(AgentConfig):
        env_name = f"TIDEOVER_AGENT_{field.name.upper()}"
        file_name = environ.get(f"{env_name}_FILE")
        if file_name:
            try:
                values[field.name] = Path(file_name).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{env_name}_FILE={file_name!r} cannot be read: {exc}")
        elif environ.get(env_name):
            values[field.name] = environ[env_name]
    values.update(cli)
    unknown = set(values) - {f.name for f in fields(AgentConfig)}
    if unknown:
        raise ConfigError(f"Unknown settings: {', '.join(sorted(unknown))}")
    kinds = {f.name: f.type for f in fields(AgentConfig)}
    return AgentConfig(**{k: _convert(k, kinds[k], v) for k, v in values.items()})
