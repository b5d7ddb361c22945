"""The fixture as an SDK maintainer uses it: the published reactor-sdk (pinned 1.13.0 in
requirements-test.txt) connects to the mock, sends a command, and the test asserts on the
journal. No asyncio plugin: each test runs its coroutine with asyncio.run."""

from __future__ import annotations

import asyncio
import importlib.metadata

import reactor_sdk  # a hard import: this suite never passes by skipping

MODEL = "helios"
CONNECT_TIMEOUT = 60.0


async def connect_and_prompt(mock, prompt: str) -> str:
    reactor = reactor_sdk.Reactor(MODEL, api_key=mock.api_key, api_url=mock.base_url)
    try:
        await asyncio.wait_for(reactor.connect(), CONNECT_TIMEOUT)
        await asyncio.wait_for(reactor.send_command("set_prompt", {"prompt": prompt}), 20)
        return reactor.session_id
    finally:
        await asyncio.wait_for(reactor.disconnect(), 20)


def test_pinned_sdk():
    assert importlib.metadata.version("reactor-sdk") == "1.13.0"


def test_connect_send_command_and_read_the_journal(reactor_mock):
    sid = asyncio.run(connect_and_prompt(reactor_mock, "a red fox"))

    calls = [(e.method, e.path) for e in reactor_mock.journal() if not e.is_message]
    assert ("POST", "/tokens") in calls
    assert ("POST", "/sessions") in calls
    created = next(e for e in reactor_mock.journal(path_prefix="/sessions", method="POST") if e.path == "/sessions")
    assert created.body["model"]["name"] == MODEL
    assert created.body["client_info"]["sdk_type"] == "python"

    sent = [e for e in reactor_mock.journal(channel="data") if e.type == "set_prompt"]
    assert len(sent) == 1, reactor_mock.journal(channel="data")
    assert sent[0].data == {"prompt": "a red fox"}
    assert sent[0].session_id == sid

    (session,) = reactor_mock.sessions()
    assert session["session_id"] == sid
    states = [h["state"] for h in session["history"]]
    assert "ACTIVE" in states and states[-1] == "CLOSED", states


def test_each_test_starts_with_a_clean_mock(reactor_mock):
    assert reactor_mock.sessions() == []
    assert reactor_mock.journal() == []
