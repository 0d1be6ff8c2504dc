"""The agent's HTTP service reads requests itself (no e-mail header parser, for speed): it must
still answer HTTP/1.0 and 1.1, keep connections alive, bound headers and refuse junk."""

from __future__ import annotations

import dataclasses
import socket

from tideover.agent.service import Answer
from tideover.agent.tests.conftest import sale


def _raw(url: str, data: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_answer_as_dict_has_every_field():
    answer = Answer("S001-1", "accepted", points=3, notes=["n"])
    assert answer.as_dict() == dataclasses.asdict(answer)


def test_headers_are_read_in_any_case_and_connections_kept_alive(http_agent):  # noqa: F811
    agent, client = http_agent(register_key="k-1")
    first = client.post("/api/v1/sales", json=sale(), headers={"AUTHORIZATION": "Bearer k-1"})
    second = client.post("/api/v1/sales", json=sale(), headers={"authorization": "Bearer k-1"})
    assert first.json()["result"] == second.json()["result"] == "accepted"
    assert first.http_version == "HTTP/1.1" and agent.journal.queued == 2


def test_http_1_0_gets_its_answer_and_the_connection_closed(http_agent):  # noqa: F811
    agent, client = http_agent()
    reply = _raw(str(client.base_url), b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"ok")


def test_junk_request_lines_and_headers_get_a_400(http_agent):  # noqa: F811
    agent, client = http_agent()
    url = str(client.base_url)
    assert _raw(url, b"HELLO\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert _raw(url, b"GET / HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert _raw(url, b"GET / HTTP/1.1\r\nno colon here\r\n\r\n").startswith(b"HTTP/1.1 400")
    many = b"".join(b"X-%d: 1\r\n" % n for n in range(101))
    assert _raw(url, b"GET / HTTP/1.1\r\n" + many + b"\r\n").startswith(b"HTTP/1.1 431")


def test_a_register_or_staff_can_ask_where_one_sale_stands(http_agent):  # noqa: F811
    agent, client = http_agent(register_key="k-1")
    key = {"Authorization": "Bearer k-1"}
    sent = sale()
    client.post("/api/v1/sales", json=sent, headers=key)
    queued = client.get(f"/api/v1/sales/{sent['sale_id']}", headers=key).json()
    assert queued == {**queued, "sale_id": sent["sale_id"], "state": "queued", "attempts": 0}
    assert queued["accepted_at"].endswith("Z") and queued["settled_at"] is None
    agent.forwarder.drain()
    posted = client.get(f"/api/v1/sales/{sent['sale_id']}", headers=key).json()
    assert posted["state"] == "posted" and posted["settled_at"] and posted["attempts"] == 1
    missing = client.get("/api/v1/sales/S001-NOPE", headers=key)
    assert missing.status_code == 404 and "no sale S001-NOPE" in missing.json()["detail"]
    assert client.get(f"/api/v1/sales/{sent['sale_id']}").status_code == 401
