"""pytest fixtures: one mock per test session, reset before every test that asks for it.

    def test_token(reactor_mock):
        ...  # reactor_mock.base_url, reactor_mock.api_key, reactor_mock.journal()

``--reactor-harness PATH`` (or ``$REACTOR_HARNESS``, or ``PATH``) picks the binary and
``--reactor-mock-scenario FILE`` the scenario the mock starts with (and returns to on reset).
"""

from __future__ import annotations

from typing import Iterator

import pytest

from .process import ReactorMock, start_mock


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reactor_mock", "reactor-harness mock")
    group.addoption("--reactor-harness", metavar="PATH", default=None,
                    help="reactor-harness binary (default: $REACTOR_HARNESS, then PATH)")
    group.addoption("--reactor-mock-scenario", metavar="FILE", default=None,
                    help="scenario file the mock starts with and returns to on reset")


@pytest.fixture(scope="session")
def reactor_mock_session(pytestconfig: pytest.Config) -> Iterator[ReactorMock]:
    """The session's mock, shared by every test; state carries over between tests."""
    mock = start_mock(
        pytestconfig.getoption("reactor_harness"),
        scenario=pytestconfig.getoption("reactor_mock_scenario"),
    )
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def reactor_mock(reactor_mock_session: ReactorMock) -> ReactorMock:
    """The session's mock, reset through the admin API first: no sessions, an empty journal,
    the starting scenario."""
    if not reactor_mock_session.running:
        pytest.fail(
            f"the session's mock exited (code {reactor_mock_session.process.returncode}); its stderr:\n"
            + reactor_mock_session.stderr_tail(),
            pytrace=False,
        )
    reactor_mock_session.reset()
    return reactor_mock_session
