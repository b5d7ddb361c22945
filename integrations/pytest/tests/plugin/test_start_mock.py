"""start_mock() and ReactorMock against the real binary: the ready contract, the admin API,
stop(), and every way a start can fail."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import pytest_reactor_mock
from pytest_reactor_mock import JournalEntry, MockAdminError, MockStartError, start_mock


@pytest.fixture
def mock():
    m = start_mock()
    yield m
    m.stop()


def post_token(mock, body: bytes = b"{}") -> int:
    req = urllib.request.Request(
        mock.base_url + "/tokens",
        data=body,
        method="POST",
        headers={"Reactor-API-Key": mock.api_key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as res:
        return res.status


def listening(base_url: str) -> bool:
    u = urllib.parse.urlsplit(base_url)
    try:
        socket.create_connection((u.hostname, u.port), timeout=1).close()
        return True
    except OSError:
        return False


def test_installed_not_imported_from_the_source_tree():
    # The suite proves the installed package, not the files beside it.
    assert "site-packages" in pytest_reactor_mock.__file__, pytest_reactor_mock.__file__


def test_ready_names_a_real_port_and_the_child(mock):
    port = urllib.parse.urlsplit(mock.base_url).port
    assert port and port != 0
    assert mock.pid == mock.process.pid
    assert mock.admin_url == mock.base_url + "/__admin"
    assert mock.api_key
    assert listening(mock.base_url)


def test_journal_as_python_objects(mock):
    assert post_token(mock) == 200
    (entry,) = mock.journal()
    assert isinstance(entry, JournalEntry)
    assert (entry.method, entry.path, entry.status) == ("POST", "/tokens", 200)
    assert entry.time is not None and entry.time.tzinfo is not None
    assert entry.body == {}
    assert not entry.is_message
    assert mock.api_key not in json.dumps(dict(entry.headers)), "the journal redacts the key"


def test_journal_filters(mock):
    post_token(mock)
    assert mock.journal(path_prefix="/sessions") == []
    assert [e.path for e in mock.journal(method="POST")] == ["/tokens"]
    first = mock.journal()[0].seq
    post_token(mock)
    assert [e.seq for e in mock.journal(since=first)] == [first + 1]


def test_scenario_fields_then_reset(mock):
    before = mock.scenario()["limits"]["max_concurrent_sessions"]
    changed = mock.scenario(limits={"max_concurrent_sessions": before + 3})
    assert changed["limits"]["max_concurrent_sessions"] == before + 3
    post_token(mock)
    mock.reset()
    assert mock.scenario()["limits"]["max_concurrent_sessions"] == before
    assert mock.journal() == []
    assert mock.sessions() == []


def test_scenario_from_a_yaml_file(mock, tmp_path: Path):
    f = tmp_path / "s.yaml"
    f.write_text("name: from-file\ntimings:\n  pending_polls: 2\n")
    assert mock.scenario(f)["timings"]["pending_polls"] == 2
    assert mock.scenario()["name"] == "from-file"


def test_bad_scenario_is_a_clear_admin_error(mock):
    with pytest.raises(MockAdminError) as err:
        mock.scenario({"no_such_field": 1})
    assert err.value.status == 400
    assert "no_such_field" in err.value.detail


def test_stop_ends_the_process_and_is_idempotent():
    m = start_mock()
    assert m.stop() == 0, m.stderr_tail()
    assert not m.running
    assert not listening(m.base_url)
    assert m.stop() == 0


def test_context_manager_stops():
    with start_mock() as m:
        assert m.running
    assert not m.running


# ── bad input: each names its cause, within a bounded time ──


def test_missing_binary_path(monkeypatch):
    monkeypatch.setenv("REACTOR_HARNESS", "/nonexistent/reactor-harness")
    with pytest.raises(MockStartError, match=r"\$REACTOR_HARNESS names '/nonexistent/reactor-harness', which does not exist"):
        start_mock()


def test_not_on_path(monkeypatch, tmp_path):
    monkeypatch.delenv("REACTOR_HARNESS", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MockStartError, match="not on PATH"):
        start_mock()


def test_not_executable(tmp_path):
    f = tmp_path / "reactor-harness"
    f.write_text("not a program")
    with pytest.raises(MockStartError, match="not an executable file"):
        start_mock(str(f))


def test_executable_that_cannot_run(tmp_path):
    f = tmp_path / "reactor-harness"
    f.write_bytes(b"\x7fELF\x00garbage")
    f.chmod(f.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(MockStartError, match="cannot run"):
        start_mock(str(f))


def script(tmp_path: Path, body: str) -> str:
    f = tmp_path / "fake-harness"
    f.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    f.chmod(0o755)
    return str(f)


def test_wrong_binary_prints_something_else(tmp_path):
    fake = script(tmp_path, "print('hello, I am not the mock', flush=True); time.sleep(30)")
    with pytest.raises(MockStartError, match="instead of a JSON ready line"):
        start_mock(fake)


def test_dies_at_start_with_its_stderr_tail(tmp_path):
    fake = script(tmp_path, "print('\\n'.join(f'line {i}' for i in range(100)), file=sys.stderr); sys.exit(7)")
    with pytest.raises(MockStartError) as err:
        start_mock(fake)
    assert "exited with code 7 before it was ready" in str(err.value)
    assert "line 99" in err.value.stderr_tail
    assert "line 0\n" not in err.value.stderr_tail, "only the tail is kept"


def test_never_ready_is_bounded(tmp_path):
    fake = script(tmp_path, "print('warming up', file=sys.stderr, flush=True); time.sleep(60)")
    with pytest.raises(MockStartError) as err:
        start_mock(fake, start_timeout=1)
    assert "no ready line within 1 s" in str(err.value)
    assert "warming up" in err.value.stderr_tail


def test_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        addr = "127.0.0.1:%d" % s.getsockname()[1]
        with pytest.raises(MockStartError) as err:
            start_mock(listen=addr)
    assert f"the address {addr} is already in use" in str(err.value)
    assert "address already in use" in err.value.stderr_tail


def test_bad_scenario_file_at_start(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("no_such_field: 1\n")
    with pytest.raises(MockStartError) as err:
        start_mock(scenario=f)
    assert "no_such_field" in err.value.stderr_tail
