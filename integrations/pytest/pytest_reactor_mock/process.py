"""Starting and stopping one ``reactor-harness mock`` process."""

from __future__ import annotations

import collections
import json
import os
import queue
import shutil
import subprocess
import threading
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from .admin import AdminClient

BINARY_NAME = "reactor-harness"
ENV_BINARY = "REACTOR_HARNESS"
# A cold mock is ready in well under a second; this bound is for a loaded CI machine.
DEFAULT_START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
STDERR_TAIL_LINES = 40

# Known stderr phrases and what they mean to the person reading the error.
_HINTS = (
    ("address already in use", "the address {listen} is already in use"),
    ("unknown flag", "this binary does not accept `mock --json --exit-on-stdin-close`: too old a reactor-harness?"),
    ("unknown command", "this binary has no `mock` command: is it reactor-harness?"),
)


class MockStartError(RuntimeError):
    """The mock could not be started; ``cause`` says why, ``stderr_tail`` is what it printed."""

    def __init__(self, cause: str, stderr_tail: Optional[str] = None) -> None:
        # None: the process never started, so there is no stderr to show.
        tail = (stderr_tail or "").rstrip("\n")
        shown = ""
        if stderr_tail is not None:
            shown = f"\n--- last lines of the mock's stderr:\n{tail}" if tail else "\n(the mock wrote nothing on stderr)"
        super().__init__(cause + shown)
        self.cause = cause
        self.stderr_tail = tail


def find_binary(binary: Optional[str] = None) -> str:
    """The reactor-harness executable to run: ``binary``, else ``$REACTOR_HARNESS``, else the
    first ``reactor-harness`` on ``PATH``."""
    if binary:
        return _check_executable(binary, "the binary argument")
    if os.environ.get(ENV_BINARY):
        return _check_executable(os.environ[ENV_BINARY], f"${ENV_BINARY}")
    found = shutil.which(BINARY_NAME)
    if not found:
        raise MockStartError(
            f"{BINARY_NAME} is not on PATH and ${ENV_BINARY} is not set: install a release "
            f"or `make build`, then set {ENV_BINARY}=/path/to/{BINARY_NAME}"
        )
    return found


def _check_executable(candidate: str, source: str) -> str:
    path = candidate if os.sep in candidate else (shutil.which(candidate) or candidate)
    if not os.path.exists(path):
        raise MockStartError(f"{source} names {candidate!r}, which does not exist")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise MockStartError(f"{source} names {candidate!r}, which is not an executable file")
    return path


def start_mock(
    binary: Optional[str] = None,
    *,
    listen: str = "127.0.0.1:0",
    api_key: Optional[str] = None,
    scenario: Optional[Union[str, "os.PathLike[str]"]] = None,
    args: Sequence[str] = (),
    env: Optional[Mapping[str, str]] = None,
    start_timeout: float = DEFAULT_START_TIMEOUT,
) -> "ReactorMock":
    """Starts a mock and returns it once it accepts connections. Any failure raises
    :class:`MockStartError` within ``start_timeout`` seconds, with the mock's stderr tail."""
    path = find_binary(binary)
    argv = [path, "mock", "--listen", listen, "--json", "--exit-on-stdin-close"]
    if api_key:
        argv += ["--api-key", api_key]
    if scenario:
        argv += ["--scenario", os.fspath(scenario)]
    argv += list(args)
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            text=True,
            errors="replace",
        )
    except OSError as err:
        raise MockStartError(f"cannot run {path}: {err}") from None
    return ReactorMock._await_ready(proc, path, listen, start_timeout)


class ReactorMock:
    """A running mock: its addresses, its admin API, and ``stop()``."""

    base_url: str
    api_key: str
    admin_url: str
    pid: int

    def __init__(self, proc: subprocess.Popen, binary: str, ready: Mapping[str, Any], pipes: "_Pipes") -> None:
        self.process = proc
        self.binary = binary
        self.base_url = ready["base_url"]
        self.api_key = ready["api_key"]
        self.admin_url = ready["admin_url"]
        self.pid = int(ready["pid"])
        self._pipes = pipes
        self._admin = AdminClient(self.admin_url)

    @classmethod
    def _await_ready(cls, proc: subprocess.Popen, binary: str, listen: str, timeout: float) -> "ReactorMock":
        pipes = _Pipes(proc)
        try:
            line = pipes.first_line.get(timeout=timeout)
        except queue.Empty:
            _kill(proc)
            raise MockStartError(f"{binary} printed no ready line within {timeout:g} s", pipes.tail()) from None
        if line is None:
            code = _wait(proc, 5.0)
            tail = pipes.tail(settle=2.0)
            raise MockStartError(_exit_cause(binary, code, listen, tail), tail)
        ready = _parse_ready(line)
        if ready is None:
            _kill(proc)
            raise MockStartError(
                f"{binary} printed {line.strip()[:200]!r} instead of a JSON ready line: "
                "is it a reactor-harness with `mock --json`?",
                pipes.tail(),
            )
        return cls(proc, binary, ready, pipes)

    # ── admin API ──

    def journal(self, **filters: Union[str, int, None]) -> list:
        """The request journal, oldest first, as :class:`JournalEntry` objects. Filters:
        ``session_id``, ``path_prefix``, ``method``, ``channel`` and ``since`` (a seq)."""
        return self._admin.journal(**filters)

    def clear_journal(self) -> None:
        self._admin.clear_journal()

    def scenario(self, spec: Union[Mapping[str, Any], str, "os.PathLike[str]", None] = None, **fields: Any) -> dict:
        """Without arguments, the active scenario. With a mapping, keyword fields or a scenario
        file (YAML or JSON), replaces it and returns the scenario the mock now runs."""
        if spec is None and not fields:
            return self._admin.get_scenario()
        if fields:
            spec = {**(dict(spec) if isinstance(spec, Mapping) else {}), **fields}
        return self._admin.put_scenario(spec)

    def reset(self) -> None:
        """Back to the starting scenario: sessions closed, uploads and journal cleared."""
        self._admin.reset()

    def sessions(self) -> list:
        return self._admin.sessions()

    # ── process ──

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stderr_tail(self) -> str:
        return self._pipes.tail()

    def stop(self) -> Optional[int]:
        """Closes the mock's stdin (it then shuts down cleanly) and waits; terminates and
        kills it if it lingers. Returns its exit code. Safe to call twice."""
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
            if _wait(self.process, STOP_TIMEOUT) is None:
                self.process.terminate()
                if _wait(self.process, 5.0) is None:
                    _kill(self.process)
        self._pipes.close()
        return self.process.returncode

    def __enter__(self) -> "ReactorMock":
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ReactorMock(base_url={self.base_url!r}, pid={self.pid}, running={self.running})"


class _Pipes:
    """Drains the mock's stdout and stderr on daemon threads, so that a chatty mock can never
    block on a full pipe, and keeps the first stdout line and the last stderr lines."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.first_line: "queue.Queue[Optional[str]]" = queue.Queue()
        self._tail: collections.deque = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _read_stdout(self) -> None:
        first = True
        for line in _lines(self.proc.stdout):
            if first:
                self.first_line.put(line)
                first = False
        if first:
            self.first_line.put(None)

    def _read_stderr(self) -> None:
        for line in _lines(self.proc.stderr):
            with self._lock:
                self._tail.append(line)

    def tail(self, settle: float = 0.0) -> str:
        if settle:
            self._threads[1].join(settle)
        with self._lock:
            return "".join(self._tail)

    def close(self) -> None:
        for t in self._threads:
            t.join(2.0)


def _lines(stream: Any) -> Iterable[str]:
    try:
        yield from stream
    except (OSError, ValueError):  # the pipe was closed under us
        return


def _parse_ready(line: str) -> Optional[dict]:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    keys = ("base_url", "api_key", "admin_url", "pid")
    if not isinstance(obj, dict) or obj.get("event") != "ready" or any(k not in obj for k in keys):
        return None
    return obj


def _exit_cause(binary: str, code: Optional[int], listen: str, tail: str) -> str:
    cause = f"{binary} exited with code {code} before it was ready"
    for phrase, hint in _HINTS:
        if phrase in tail:
            return f"{cause}: {hint.format(listen=listen)}"
    return cause


def _wait(proc: subprocess.Popen, timeout: float) -> Optional[int]:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    _wait(proc, 5.0)
