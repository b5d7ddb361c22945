"""The reactor-harness mock Reactor server as a test dependency.

``start_mock()`` runs ``reactor-harness mock`` on a free loopback port and returns a
:class:`ReactorMock` once the mock has printed its JSON ready line. The mock is started with
``--exit-on-stdin-close`` and holds the read end of a pipe this process owns, so it also ends
when the test runner dies without cleaning up.

The pytest fixtures ``reactor_mock_session`` and ``reactor_mock`` live in
:mod:`pytest_reactor_mock.plugin`, loaded by pytest through the ``pytest11`` entry point.
"""

from __future__ import annotations

from .admin import JournalEntry, MockAdminError
from .process import DEFAULT_START_TIMEOUT, MockStartError, ReactorMock, find_binary, start_mock

__all__ = [
    "DEFAULT_START_TIMEOUT",
    "JournalEntry",
    "MockAdminError",
    "MockStartError",
    "ReactorMock",
    "find_binary",
    "start_mock",
]
