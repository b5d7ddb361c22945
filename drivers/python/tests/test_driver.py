"""Tests of the Python driver, run under each SDK venv that setup.sh built.

    python3 -m pytest drivers/python/tests -q

The session fixture runs drivers/python/setup.sh first (a fast no-op when the venvs are current;
set REACTOR_PY_DRIVER_NO_SETUP=1 to skip that step). A generation whose venv carries a SKIPPED
file is reported as skipped with the recorded reason. No test needs a server: the network cases
aim at a loopback port that nothing listens on.
"""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DRIVER_DIR = HERE.parent
DRIVER = DRIVER_DIR / "driver.py"
GENERATIONS = ("1x", "0x")

# Upper bounds for every wait in this file.
START_TIMEOUT = 60.0  # 0.x imports aiortc/av/numpy, which is slow on a cold cache
REPLY_TIMEOUT = 30.0
EXIT_TIMEOUT = 10.0


# ───────────────────────────── fixtures ─────────────────────────────


@pytest.fixture(scope="session")
def setup_done() -> None:
    if os.environ.get("REACTOR_PY_DRIVER_NO_SETUP"):
        return
    proc = subprocess.run(
        ["bash", str(DRIVER_DIR / "setup.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    sys.stderr.write(proc.stderr)
    assert proc.returncode == 0, f"setup.sh failed ({proc.returncode}):\n{proc.stderr[-3000:]}"


def venv_python(gen: str) -> Path:
    venv = DRIVER_DIR / f".venv-{gen}"
    skipped = venv / "SKIPPED"
    if skipped.exists():
        pytest.skip(f"reactor-sdk {gen} not installed here: {skipped.read_text().splitlines()[0]}")
    py = venv / "bin" / "python"
    if not py.exists():
        pytest.skip(f"{venv} missing: run drivers/python/setup.sh")
    return py


def pinned_version(gen: str) -> str:
    text = (DRIVER_DIR / f"requirements-{gen}.txt").read_text()
    m = re.search(r"^reactor-sdk==(\S+)", text, re.M)
    assert m, f"requirements-{gen}.txt pins no reactor-sdk"
    return m.group(1)


@pytest.fixture(params=GENERATIONS)
def gen(request: pytest.FixtureRequest, setup_done: None) -> str:
    return request.param


@pytest.fixture
def driver(gen: str):
    d = Driver(venv_python(gen))
    try:
        yield d
    finally:
        d.kill()


def free_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ───────────────────────────── driver process ─────────────────────────────


class Driver:
    """A driver subprocess; every stdout line must be a JSON object."""

    def __init__(self, python: Path | str, env: dict | None = None):
        self.proc = subprocess.Popen(
            [str(python), str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        self.lines: queue.Queue = queue.Queue()
        self.raw: list[str] = []
        self.events: list[dict] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.next_id = 1
        started = self.wait_event("started", START_TIMEOUT)
        assert started is not None, f"no started event; stderr:\n{self.stderr_text()}"
        self.started = started

    def _read_stdout(self) -> None:
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", errors="replace")
            self.raw.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            self.stderr.append(raw.decode("utf-8", errors="replace"))

    def stderr_text(self) -> str:
        return "".join(self.stderr[-60:])

    def _next(self, deadline: float) -> dict | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no line from the driver in time; stderr:\n" + self.stderr_text())
        try:
            line = self.lines.get(timeout=remaining)
        except queue.Empty as exc:
            raise TimeoutError("no line from the driver in time; stderr:\n" + self.stderr_text()) from exc
        if line is None:
            return None
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise AssertionError(f"driver wrote a non-JSON line to stdout: {line!r}") from exc
        assert isinstance(obj, dict), f"stdout line is not a JSON object: {line!r}"
        if "event" in obj:
            assert isinstance(obj.get("t_ms"), int), f"event without integer t_ms: {obj}"
            self.events.append(obj)
        return obj

    def wait_event(self, name: str, timeout: float = REPLY_TIMEOUT) -> dict | None:
        for e in self.events:
            if e["event"] == name:
                return e
        deadline = time.monotonic() + timeout
        while True:
            obj = self._next(deadline)
            if obj is None:
                return None
            if obj.get("event") == name:
                return obj

    def wait_until(self, pred, timeout: float = REPLY_TIMEOUT) -> bool:
        """Read lines until pred(self.events) holds; False on EOF or timeout."""
        deadline = time.monotonic() + timeout
        while not pred(self.events):
            try:
                if self._next(deadline) is None:
                    return False
            except TimeoutError:
                return False
        return True

    def send_raw(self, text: str) -> None:
        self.proc.stdin.write(text.encode("utf-8"))
        self.proc.stdin.flush()

    def request(self, op: str, args: dict | None = None, timeout: float = REPLY_TIMEOUT, req_id=None) -> dict:
        if req_id is None:
            req_id = self.next_id
            self.next_id += 1
        msg: dict = {"id": req_id, "op": op}
        if args is not None:
            msg["args"] = args
        self.send_raw(json.dumps(msg) + "\n")
        return self.reply_to(req_id, timeout)

    def reply_to(self, req_id, timeout: float = REPLY_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            obj = self._next(deadline)
            if obj is None:
                raise AssertionError(f"driver closed stdout before replying to {req_id}; stderr:\n{self.stderr_text()}")
            if "event" in obj:
                continue
            assert "id" in obj and "ok" in obj, f"reply without id/ok: {obj}"
            if obj["id"] == req_id:
                if obj["ok"]:
                    assert isinstance(obj.get("result"), dict), obj
                else:
                    err = obj.get("error")
                    assert isinstance(err, dict) and isinstance(err.get("code"), str) and isinstance(err.get("message"), str), obj
                return obj

    def drain(self, timeout: float = EXIT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self._next(deadline) is not None:
            pass

    def close_stdin(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def wait_exit(self, timeout: float = EXIT_TIMEOUT) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=EXIT_TIMEOUT)


# ───────────────────────────── tests ─────────────────────────────


def test_hello_reports_sdk_and_surface(driver: Driver, gen: str) -> None:
    rep = driver.request("hello")
    assert rep["ok"], rep
    res = rep["result"]
    assert res["name"] == "reactor-sdk"
    assert res["version"] == pinned_version(gen)
    assert res["generation"] == {"1x": "1.x", "0x": "0.x"}[gen]
    assert res["sdk"]["loaded"] is True, res["sdk"]
    assert res["driver"]["language"] == "python"
    methods = res["surface"]["methods"]
    for name in ("connect", "disconnect", "reconnect", "send_command", "upload_file", "on"):
        assert name in methods, f"{name} missing from {methods}"
    assert "connect" in res["surface"]["signatures"]
    assert set(res["ops"]) >= {"hello", "token", "connect", "send_command", "upload_file", "reconnect", "disconnect", "state", "quit"}
    assert driver.started["data"]["sdk_version"] == pinned_version(gen)
    if gen == "1x":
        assert res["sdk"]["native_library"], "1.x must have loaded libreactor_ffi"
        assert "*jwt=None" in res["surface"]["signatures"]["constructor"]
        assert res["surface"]["signatures"]["disconnect"] == []
    else:
        assert "recoverable=False" in res["surface"]["signatures"]["disconnect"]


def test_token_resolver_support_is_read_from_the_sdk(driver: Driver, gen: str) -> None:
    surface = driver.request("hello")["result"]["surface"]
    want = {
        "1x": {"accepts": False, "basis": "signature", "declared": "Reactor(jwt: str | None)"},
        "0x": {"accepts": False, "basis": "signature", "declared": "Reactor(...) takes no JWT parameter (api_key only)"},
    }[gen]
    assert surface["token_resolver"] == want
    assert surface["has"]["token_resolver"] is False


def test_connect_with_a_mint_spec(driver: Driver, gen: str) -> None:
    base = {"api_url": "http://127.0.0.1:9", "api_key": "rk_x", "model": "helios"}
    rep = driver.request("connect", {**base, "token": {"mint": {"expires_after": 60, "models": ["helios"]}}})
    assert rep["ok"] is False and rep["error"]["code"] == "not_supported", rep
    assert "accepts no token resolver" in rep["error"]["message"]
    for bad, words in (
        ({"mint": {"ttl": 60}}, "token.mint.ttl is unknown"),
        ({"mint": {"expires_after": True}}, "positive integer"),
        ({"mint": {"models": []}}, "non-empty array"),
        ({"mint": {}, "jwt": "x"}, 'takes only "mint"'),
        ("60", "must be an object"),
    ):
        rep = driver.request("connect", {**base, "token": bad})
        assert rep["error"]["code"] == "bad_args" and words in rep["error"]["message"], (bad, rep)
    rep = driver.request("connect", {**base, "jwt": "j", "token": {"mint": {}}})
    assert rep["error"]["code"] == "bad_args" and "exclude each other" in rep["error"]["message"]


def test_unknown_op_and_malformed_lines_keep_the_driver_serving(driver: Driver) -> None:
    rep = driver.request("no_such_op", {})
    assert rep["ok"] is False
    assert rep["error"]["code"] == "unknown_op"
    assert "hello" in rep["error"]["details"]["ops"]

    driver.send_raw("this is not json\n")
    ev = driver.wait_event("error")
    assert ev["data"]["code"] == "bad_json" and ev["data"]["source"] == "driver"

    driver.send_raw('["an", "array"]\n')
    driver.send_raw('{"op": "hello"}\n')  # no id: nothing to reply to
    driver.send_raw("\n")  # blank lines are ignored
    rep = driver.request("hello", req_id="after-garbage")
    assert rep["ok"] and rep["id"] == "after-garbage"
    codes = [e["data"]["code"] for e in driver.events if e["event"] == "error"]
    assert codes.count("bad_request") == 2, codes

    rep = driver.request("hello", req_id=77)
    assert rep["id"] == 77
    driver.send_raw(json.dumps({"id": 78, "op": "hello", "args": [1, 2]}) + "\n")
    rep = driver.reply_to(78)
    assert rep["ok"] is False and rep["error"]["code"] == "bad_args"


def test_bad_args(driver: Driver) -> None:
    rep = driver.request("connect", {"api_url": "http://127.0.0.1:9"})
    assert rep["error"]["code"] == "bad_args" and "model" in rep["error"]["message"]
    rep = driver.request("connect", {"model": "m"})
    assert rep["error"]["code"] == "bad_args" and "api_url" in rep["error"]["message"]
    rep = driver.request("token", {"api_url": "http://127.0.0.1:9"})
    assert rep["error"]["code"] == "bad_args"
    rep = driver.request("create", {"model": 5, "api_url": "http://x"})
    assert rep["error"]["code"] == "bad_args"
    rep = driver.request("send_command", {"name": "x"})
    assert rep["error"]["code"] == "bad_state"  # no instance yet


def test_quit_exits_zero_promptly_and_replies_last(driver: Driver) -> None:
    t0 = time.monotonic()
    rep = driver.request("quit", {})
    assert rep["ok"] and rep["result"] == {"bye": True}
    assert driver.wait_exit() == 0
    assert time.monotonic() - t0 < EXIT_TIMEOUT
    driver.drain()
    last = json.loads(driver.raw[-1])
    assert last.get("id") == rep["id"], f"quit reply is not the last line: {driver.raw[-3:]}"


def test_eof_exits_zero(driver: Driver) -> None:
    driver.close_stdin()
    assert driver.wait_exit() == 0


def test_send_before_connect_follows_the_sdk(driver: Driver, gen: str) -> None:
    # create builds the SDK's Reactor without any network call; a send now shows what the SDK
    # itself does with a command sent before ready.
    port = free_port()
    rep = driver.request("create", {"api_url": f"http://127.0.0.1:{port}", "model": "m", "api_key": "rk_test"})
    assert rep["ok"], rep
    assert rep["result"]["status"] == "disconnected"
    rep = driver.request("send_command", {"name": "set_prompt", "data": {"prompt": "x"}})
    if gen == "1x":
        # No native handle before connect(): a plain RuntimeError, not a ReactorError.
        assert rep["ok"] is False and rep["error"]["code"] == "sdk_error"
        assert rep["error"]["details"]["exception"] == "RuntimeError"
    else:
        # 0.x logs a warning and returns: the command is dropped silently.
        assert rep["ok"] is True, rep
        assert rep["result"]["returned"] is None
        assert any("Cannot send message" in w for w in rep["result"]["warnings"]), rep
        assert any(e["event"] == "warning" for e in driver.events)
    rep = driver.request("upload_file", {"text": "hello", "name": "a.txt", "mime_type": "text/plain"})
    assert rep["ok"] is False and rep["error"]["code"] == "sdk_error"


def test_disconnect_recoverable_flag_support(driver: Driver, gen: str) -> None:
    rep = driver.request("create", {"api_url": f"http://127.0.0.1:{free_port()}", "model": "m", "api_key": "rk_test"})
    assert rep["ok"], rep
    rep = driver.request("disconnect", {"recoverable": True})
    if gen == "1x":
        assert rep["ok"] is False and rep["error"]["code"] == "not_supported"
    else:
        assert rep["ok"] is True and rep["result"]["recoverable_supported"] is True
    rep = driver.request("disconnect", {})
    assert rep["ok"], rep
    assert rep["result"]["status"] == "disconnected"


def test_token_against_a_closed_port_is_an_sdk_error(driver: Driver, gen: str) -> None:
    rep = driver.request("token", {"api_url": f"http://127.0.0.1:{free_port()}", "api_key": "rk_test"})
    assert rep["ok"] is False and rep["error"]["code"] == "sdk_error", rep
    if gen == "1x":
        assert rep["error"]["details"]["exception"] == "AuthError"
        http = [e for e in driver.events if e["event"] == "http"]
        assert http and http[-1]["data"]["method"] == "POST" and http[-1]["data"]["url"].endswith("/tokens")
    rep = driver.request("token", {"api_url": "http://127.0.0.1:9", "api_key": "k", "models": ["m"]})
    if gen == "0x":
        assert rep["error"]["code"] == "not_supported"  # 0.x mints unscoped tokens only


def test_connect_to_a_closed_port_fails_with_sdk_error_and_events(driver: Driver, gen: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    args = {"api_url": url, "model": "m", "timeout_ms": 20000}
    args.update({"jwt": "test-jwt"} if gen == "1x" else {"api_key": "rk_test"})
    rep = driver.request("connect", args, timeout=40)
    assert rep["ok"] is False and rep["error"]["code"] == "sdk_error", rep
    # The SDK's status event and the failed call's completion are not ordered (1.x marshals
    # both onto the loop separately), so wait, bounded, for the closing status.
    driver.wait_until(lambda evs: any(e["event"] == "status" and e["data"] == "disconnected" for e in evs), 10)
    statuses = [e["data"] for e in driver.events if e["event"] == "status"]
    assert statuses and statuses[0] == "connecting" and statuses[-1] == "disconnected", statuses
    if gen == "1x":
        assert rep["error"]["sdk_code"] == "NETWORK_ERROR", rep
    errors = [e["data"] for e in driver.events if e["event"] == "error" and e["data"]["source"] == "sdk"]
    assert errors, "the SDK reported no error event"
    rep = driver.request("state")
    assert rep["result"]["status"] == "disconnected" and rep["result"]["has_instance"] is True
    if gen == "0x":
        rep = driver.request("connect", {"api_url": url, "model": "m", "jwt": "x"})
        assert rep["error"]["code"] == "not_supported"  # 0.x has no jwt parameter


def test_driver_without_the_sdk_still_answers(setup_done: None, tmp_path: Path) -> None:
    probe = subprocess.run([sys.executable, "-c", "import reactor_sdk"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("the test interpreter has reactor_sdk installed")
    d = Driver(sys.executable)
    try:
        rep = d.request("hello")
        assert rep["ok"]
        assert rep["result"]["sdk"]["loaded"] is False
        assert rep["result"]["version"] is None
        assert "reactor_sdk" in rep["result"]["sdk"]["load_error"]
        rep = d.request("connect", {"api_url": "http://127.0.0.1:9", "model": "m"})
        assert rep["error"]["code"] == "sdk_load_failed"
        rep = d.request("quit")
        assert rep["ok"]
        assert d.wait_exit() == 0
    finally:
        d.kill()
