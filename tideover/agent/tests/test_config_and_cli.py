"""The agent's settings come from the command line, the environment and a TOML file, in that
order; a missing or bad one stops the start naming it. Retries back off with jitter."""

from __future__ import annotations

import random

import pytest

from tideover.agent import cli
from tideover.agent.config import ConfigError, load
from tideover.agent.forwarder import Backoff


def test_command_line_beats_environment_beats_file(tmp_path):
    file = tmp_path / "agent.toml"
    file.write_text('store = "S009"\nhq = "http://file"\ntoken = "from-file"\nbatch_size = 7\n')
    token_file = tmp_path / "token"
    token_file.write_text("from-secret-file\n")
    env = {
        "TIDEOVER_AGENT_CONFIG": str(file),
        "TIDEOVER_AGENT_HQ": "http://env",
        "TIDEOVER_AGENT_TOKEN_FILE": str(token_file),
    }
    config = load({"store": "S010"}, environ=env).check()
    assert (config.store, config.hq, config.token, config.batch_size) == (
        "S010",
        "http://env",
        "from-secret-file",
        7,
    )


def test_a_bad_number_or_unknown_setting_is_named(tmp_path):
    with pytest.raises(ConfigError, match="batch_size='many'"):
        load(environ={"TIDEOVER_AGENT_BATCH_SIZE": "many"})
    file = tmp_path / "agent.toml"
    file.write_text('stor = "S001"\n')
    with pytest.raises(ConfigError, match="Unknown settings: stor"):
        load(environ={}, path=str(file))


def test_run_without_store_hq_or_token_says_what_is_missing(capsys):
    assert cli.main(["run", "--hq", "http://hq.example"]) == 2
    err = capsys.readouterr().err
    assert "--store (or TIDEOVER_AGENT_STORE)" in err and "--token" in err


def test_status_says_when_no_agent_answers(capsys):
    from tideover.agent.tests.conftest import free_port

    assert cli.main(["status", "--agent", f"http://127.0.0.1:{free_port()}"]) == 1
    assert "no agent answers" in capsys.readouterr().err


def test_backoff_grows_to_its_cap_with_jitter_and_resets():
    backoff = Backoff(0.5, 30, random.Random(1))
    waits = [backoff.next_wait() for _ in range(10)]
    assert 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0
    assert all(15 <= w <= 30 for w in waits[7:])
    assert len({round(w, 6) for w in waits[7:]}) == 3  # not in lockstep with other stores
    backoff.reset()
    assert backoff.next_wait() <= 0.5
