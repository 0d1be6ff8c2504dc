"""The exactly-once promise as a property: whatever order registers sell, take sales back and
resend, HQ drops out, answers get lost after HQ committed (one batch or two in flight), and the
agent restarts, HQ never holds a sale the register was not told was accepted, and once HQ is
back it holds every accepted sale exactly once (a return HQ rejected for coming before its
original would fail this). HQ is the real API on a loopback server. ``TIDEOVER_SLOW=1`` runs
many more sequences."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tideover.agent.config import AgentConfig
from tideover.agent.hq import HQClient, HQUnavailable
from tideover.agent.service import Agent
from tideover.agent.tests.conftest import sale
from tideover.sales.models import Sale

SLOW = os.environ.get("TIDEOVER_SLOW") == "1"


class LosesAnswers(HQClient):
    """HQ posts the batch, then the answer never arrives (the link drops after HQ committed)."""

    def post_batch(self, payloads, queued_offline=()):
        super().post_batch(payloads, queued_offline)
        raise HQUnavailable("answer lost")


def make_machine(hq_url: str, down_url: str, token: str):
    class ExactlyOnce(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.folder = Path(tempfile.mkdtemp(prefix="agent-prop-"))
            self.config = AgentConfig(
                store="S001", hq=hq_url, token=token, data=str(self.folder), batch_size=3
            ).check()
            self.agent = Agent(self.config)
            self.accepted: dict[str, dict] = {}
            self.returnable: set[str] = set()  # accepted sales not taken back yet
            self.sent: list[dict] = []
            self.hq_up = True

        def _hq(self, kind=HQClient) -> None:
            self.agent.hq.close()
            self.agent.hq = kind(hq_url if self.hq_up else down_url, token, timeout=5)

        @rule(count=st.integers(1, 4), member=st.booleans())
        def register_sells(self, count, member):
            sales = [sale(member="M0000001" if member else None) for _ in range(count)]
            for sent, answer in zip(sales, self.agent.accept(sales), strict=True):
                assert answer.result == "accepted"
                self.accepted[sent["sale_id"]] = sent
                self.returnable.add(sent["sale_id"])
            self.sent += sales

        @precondition(lambda self: self.returnable)
        @rule(data=st.data())
        def register_takes_a_sale_back(self, data):
            original = data.draw(st.sampled_from(sorted(self.returnable)))
            self.returnable.discard(original)
            back = sale(kind="return", original_sale_id=original)
            assert self.agent.accept([back])[0].result == "accepted"
            self.accepted[back["sale_id"]] = back
            self.sent.append(back)

        @precondition(lambda self: self.sent)
        @rule(data=st.data())
        def register_resends_a_sale_it_heard_nothing_about(self, data):
            again = data.draw(st.sampled_from(self.sent))
            assert self.agent.accept([again])[0].result == "duplicate"

        @rule()
        def hq_goes_down(self):
            self.hq_up = False
            self._hq()

        @rule()
        def hq_comes_back(self):
            self.hq_up = True
            self._hq()

        @rule()
        def forward_a_batch(self):
            try:
                self.agent.forwarder.forward_once()
            except HQUnavailable:
                assert not self.hq_up

        @precondition(lambda self: self.hq_up)
        @rule()
        def forward_but_the_answer_is_lost(self):
            self._hq(LosesAnswers)
            with contextlib.suppress(HQUnavailable):
                self.agent.forwarder.forward_once()
            self._hq()

        @rule()
        def forward_two_batches_at_a_time(self):
            try:
                self.agent.forwarder.forward_round(max_batches=3)
            except HQUnavailable:
                assert not self.hq_up

        @precondition(lambda self: self.hq_up)
        @rule()
        def forward_two_at_a_time_but_the_answers_are_lost(self):
            self._hq(LosesAnswers)
            with contextlib.suppress(HQUnavailable):
                self.agent.forwarder.forward_round(max_batches=3)
            self._hq()

        @rule()
        def agent_restarts(self):
            self.agent.stop()
            self.agent = Agent(self.config)
            self._hq()

        @invariant()
        def hq_holds_only_accepted_sales(self):
            ids = set(self.accepted)
            posted = set(
                Sale.objects.filter(
                    sale_id__in=ids | {s["sale_id"] for s in self.sent}
                ).values_list("sale_id", flat=True)
            )
            assert posted <= ids

        def teardown(self):
            try:
                self.hq_up = True
                self._hq()
                self.agent.forwarder.drain()
                ids = list(self.accepted)
                assert Sale.objects.filter(sale_id__in=ids).count() == len(ids)
                assert self.agent.journal.queued == 0
            finally:
                self.agent.stop()
                shutil.rmtree(self.folder, ignore_errors=True)

    return ExactlyOnce


def test_every_accepted_sale_posts_exactly_once_whatever_fails(
    live_server, store_secret, down_url, transactional_db
):
    from hypothesis.stateful import run_state_machine_as_test

    machine = make_machine(live_server.url, down_url, store_secret("S001"))
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=120 if SLOW else 8,
            stateful_step_count=25 if SLOW else 10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
