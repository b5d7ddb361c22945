"""The fixtures as a user's suite sees them: an inner pytest run (pytester, in a subprocess so
the plugin loads through its entry point) against the real binary."""

from __future__ import annotations

import json
import socket
import time
import urllib.parse

import pytest

USER_SUITE = '''
import urllib.request

def post_token(mock):
    req = urllib.request.Request(mock.base_url + "/tokens", data=b"{}", method="POST",
        headers={"Reactor-API-Key": mock.api_key, "Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).close()

def test_a_dirties_the_mock(reactor_mock):
    post_token(reactor_mock)
    reactor_mock.scenario(name="dirty")
    assert len(reactor_mock.journal()) == 1

def test_b_starts_clean(reactor_mock):
    assert reactor_mock.journal() == []
    assert reactor_mock.scenario()["name"] != "dirty"

def test_c_one_process_per_session(reactor_mock, reactor_mock_session):
    assert reactor_mock is reactor_mock_session
    open("pids.txt", "a").write(str(reactor_mock.pid) + "\\n")

def test_d_same_process(reactor_mock_session):
    open("pids.txt", "a").write(str(reactor_mock_session.pid) + "\\n")
'''


def test_function_fixture_resets_between_tests(pytester: pytest.Pytester):
    pytester.makepyfile(test_user=USER_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    pids = (pytester.path / "pids.txt").read_text().split()
    assert len(pids) == 2 and pids[0] == pids[1], pids


def test_start_error_is_reported_on_every_test(pytester: pytest.Pytester, monkeypatch):
    monkeypatch.setenv("REACTOR_HARNESS", "/nonexistent/reactor-harness")
    pytester.makepyfile(test_user=USER_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(["*MockStartError*REACTOR_HARNESS*does not exist*"])


def test_binary_option_wins_over_the_environment(pytester: pytest.Pytester, monkeypatch):
    real = __import__("os").environ["REACTOR_HARNESS"]
    monkeypatch.setenv("REACTOR_HARNESS", "/nonexistent/reactor-harness")
    pytester.makepyfile(test_user=USER_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--reactor-harness", real)
    result.assert_outcomes(passed=4)


def test_scenario_option_is_the_reset_target(pytester: pytest.Pytester):
    pytester.makefile(".yaml", start="name: from-option\ntimings:\n  pending_polls: 4\n")
    pytester.makepyfile(test_s='''
def test_dirty(reactor_mock):
    reactor_mock.scenario(timings={"pending_polls": 0})

def test_reset_returns_to_the_file(reactor_mock):
    sc = reactor_mock.scenario()
    assert (sc["name"], sc["timings"]["pending_polls"]) == ("from-option", 4)
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--reactor-mock-scenario", "start.yaml")
    result.assert_outcomes(passed=2)


def test_a_crashed_runner_leaves_no_mock(pytester: pytest.Pytester):
    # The inner runner dies by SIGKILL mid-test: no fixture teardown, no atexit.
    pytester.makepyfile(test_crash='''
import json, os, signal

def test_crash(reactor_mock):
    with open("ready.json", "w") as f:
        json.dump({"base_url": reactor_mock.base_url}, f)
    os.kill(os.getpid(), signal.SIGKILL)
''')
    pytester.runpytest_subprocess("-p", "no:cacheprovider")
    base_url = json.loads((pytester.path / "ready.json").read_text())["base_url"]
    u = urllib.parse.urlsplit(base_url)
    for _ in range(100):  # up to ~10 s; the mock notices within a fraction of that
        try:
            socket.create_connection((u.hostname, u.port), timeout=1).close()
        except OSError:
            return
        time.sleep(0.1)
    pytest.fail(f"the mock at {base_url} still listens 10 s after its runner was killed")
