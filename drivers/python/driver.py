#!/usr/bin/env python3
"""reactor-harness driver for the Reactor Python SDK (PyPI package ``reactor-sdk``).

Speaks the driver protocol (drivers/PROTOCOL.md): one JSON request per line on stdin, one JSON
object per line on stdout (replies and events). Nothing else ever reaches stdout: the driver keeps
a private copy of the original stdout descriptor for protocol lines and points descriptor 1 at
stderr, so stray prints from the SDK, its native library or its dependencies land on stderr.

One program for both SDK generations. It imports whatever ``reactor_sdk`` the interpreter it runs
under has (the two generations share that import name, so each lives in its own venv, see
setup.sh) and adapts:

* 1.x  ctypes shell over the native libreactor_ffi; awaited command replies; typed errors.
* 0.x  pure Python over aiohttp + aiortc; fire-and-forget commands; errors as events.

Usage: .venv-1x/bin/python driver.py      (or .venv-0x/bin/python driver.py)
  env REACTOR_DRIVER_VERBOSE=1     SDK debug logging on stderr
  env REACTOR_DRIVER_TRACE_HTTP=0  no `http` events
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import inspect
import json
import logging
import os
import platform
import signal
import sys
import threading
import time
import warnings
from typing import Any, Callable

# ───────────────────────────── protocol output ─────────────────────────────
# Keep a private handle on the real stdout, then send descriptor 1 (and sys.stdout) to stderr.

_PROTO_FD = os.dup(1)
os.dup2(2, 1)
_PROTO = os.fdopen(_PROTO_FD, "w", encoding="utf-8", buffering=1, closefd=True)
sys.stdout = sys.stderr

DRIVER_NAME = "reactor-harness-python"
DRIVER_VERSION = "0.1.0"
PROTOCOL_VERSION = 1

_T0 = time.monotonic()
START_UNIX_MS = int(time.time() * 1000)
_out_lock = threading.Lock()
_output_closed = False
_stdout_broken = False


def t_ms() -> int:
    return int((time.monotonic() - _T0) * 1000)


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    if hasattr(value, "value") and isinstance(getattr(value, "value"), (str, int)):
        return value.value  # enums
    if isinstance(value, BaseException):
        return {"type": type(value).__name__, "message": str(value)}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "__dict__"):
        return {k: v for k, v in vars(value).items() if not k.startswith("_")}
    return repr(value)


def write_line(obj: dict) -> None:
    global _stdout_broken
    if _output_closed or _stdout_broken:
        return
    try:
        line = json.dumps(obj, default=_json_default, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        line = json.dumps(
            {
                "event": "error",
                "t_ms": t_ms(),
                "data": {
                    "source": "driver",
                    "code": "internal",
                    "message": f"unserializable output: {exc}",
                    "recoverable": True,
                },
            }
        )
    with _out_lock:
        try:
            _PROTO.write(line + "\n")
            _PROTO.flush()
        except (BrokenPipeError, OSError, ValueError):
            # The harness went away; nothing left to talk to.
            _stdout_broken = True


def emit(event: str, data: Any = None) -> None:
    write_line({"event": event, "t_ms": t_ms(), "data": data})


def log_err(msg: str, *args: Any) -> None:
    try:
        text = msg % args if args else msg
    except (TypeError, ValueError):
        text = f"{msg} {args!r}"
    sys.stderr.write(f"[driver {t_ms()}ms] {text}\n")
    sys.stderr.flush()


# ───────────────────────────── logging capture ─────────────────────────────
# Every record goes to stderr; records at WARNING and above also become `warning` events and are
# collected for the op that is running (the reply's `warnings`), because 0.x reports several
# refusals (send before ready, reconnect without a session) only as a log line.

VERBOSE = os.environ.get("REACTOR_DRIVER_VERBOSE", "").lower() in ("1", "true", "yes")
TRACE_HTTP = os.environ.get("REACTOR_DRIVER_TRACE_HTTP", "1").lower() not in ("0", "false", "no")
_DRIVER_LOGGER = "reactor_harness_driver"

# The op whose warnings a record belongs to: a context variable, so a record logged by a task the
# SDK spawned inside an op is attributed to that op, and concurrent ops do not see each other's.
_warn_bucket: contextvars.ContextVar[list | None] = contextvars.ContextVar("warn_bucket", default=None)


class _EventHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:  # noqa: A003 - logging API
        if record.name.startswith(_DRIVER_LOGGER):
            return
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - a broken log call
            message = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            message = f"{message} ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        bucket = _warn_bucket.get()
        if bucket is not None:
            bucket.append(message)
        emit(
            "warning",
            {
                "message": message,
                "source": "warnings" if record.name == "py.warnings" else "logging",
                "logger": record.name,
                "level": record.levelname.lower(),
            },
        )


def _setup_logging() -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.setLevel(logging.DEBUG if VERBOSE else logging.INFO)
    to_stderr = logging.StreamHandler(sys.stderr)
    to_stderr.setLevel(logging.DEBUG if VERBOSE else logging.INFO)
    to_stderr.setFormatter(logging.Formatter("[sdk %(levelname)s %(name)s] %(message)s"))
    root.addHandler(to_stderr)
    events = _EventHandler()
    events.setLevel(logging.WARNING)
    root.addHandler(events)
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    # aioice/aiortc are chatty at INFO; keep them to WARNING unless verbose.
    if not VERBOSE:
        for name in ("aioice", "aiortc", "asyncio"):
            logging.getLogger(name).setLevel(logging.WARNING)


_setup_logging()
_dlog = logging.getLogger(_DRIVER_LOGGER)


class collect_warnings:
    """Collects the WARNING+ records logged in this op's context while it runs. Records from
    native threads (1.x) carry no op context and appear only as `warning` events."""

    def __enter__(self) -> list[str]:
        self.bucket: list[str] = []
        self.token = _warn_bucket.set(self.bucket)
        return self.bucket

    def __exit__(self, *_: object) -> None:
        try:
            _warn_bucket.reset(self.token)
        except ValueError:
            _warn_bucket.set(None)


# ───────────────────────────── SDK loading ─────────────────────────────


def _version_tuple(v: str | None) -> tuple[int, ...]:
    out: list[int] = []
    for part in (v or "").split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


class SdkInfo:
    def __init__(self) -> None:
        self.mod: Any = None
        self.load_error: str | None = None
        self.version: str | None = None
        self.generation: str | None = None  # "1.x" | "0.x"
        self.protocol: str | None = None  # "connections" | "session-poll" | "legacy"
        self.native_lib: str | None = None
        self.native_error: str | None = None
        try:
            import importlib.metadata as md

            try:
                self.version = md.version("reactor-sdk")
            except md.PackageNotFoundError:
                self.version = None
            import reactor_sdk  # noqa: PLC0415 - deliberately late

            self.mod = reactor_sdk
            if self.version is None:
                self.version = getattr(reactor_sdk, "__version__", None)
        except Exception as exc:  # ImportError, or anything the SDK raises at import
            self.load_error = f"{type(exc).__name__}: {exc}"
            return
        vt = _version_tuple(self.version)
        if (vt and vt[0] >= 1) or hasattr(self.mod, "_ffi"):
            self.generation = "1.x"
            self.protocol = "connections"
            try:
                from reactor_sdk import _ffi  # noqa: PLC0415

                lib = _ffi.get_lib()
                self.native_lib = getattr(lib, "_name", None)
            except Exception as exc:
                self.native_error = f"{type(exc).__name__}: {exc}"
        else:
            self.generation = "0.x"
            if vt and vt < (0, 4):
                self.protocol = "legacy"  # GET /tokens + X-API-Key, SDP in POST /sessions
            elif vt and vt < (0, 8):
                self.protocol = "session-poll"  # POST /sessions + poll, transport without cid
            else:
                self.protocol = "connections"  # + POST .../connections, control channel

    @property
    def is1x(self) -> bool:
        return self.generation == "1.x"


SDK = SdkInfo()
if SDK.load_error:
    log_err("cannot load reactor_sdk: %s", SDK.load_error)
elif SDK.native_error:
    log_err("reactor_sdk %s loaded but its native library did not: %s", SDK.version, SDK.native_error)

# ───────────────────────────── HTTP tracing ─────────────────────────────
# 0.x does all HTTP through aiohttp: a trace config added to every ClientSession gives an `http`
# event per request. 1.x does its HTTP in native code, which the driver cannot see, except the
# key-for-token exchange, which the Python layer makes with urllib.

_http_log: list[dict] = []
_HTTP_LOG_MAX = 500
HTTP_TRACE_SCOPE = "none"


def _record_http(entry: dict) -> None:
    _http_log.append(entry)
    if len(_http_log) > _HTTP_LOG_MAX:
        del _http_log[0]
    if TRACE_HTTP:
        emit("http", entry)


def _install_http_tracing() -> None:
    global HTTP_TRACE_SCOPE
    if SDK.mod is None:
        return
    if SDK.is1x:
        import urllib.request

        original = urllib.request.urlopen

        def traced_urlopen(req: Any, *args: Any, **kwargs: Any) -> Any:
            method = req.get_method() if hasattr(req, "get_method") else "GET"
            url = req.full_url if hasattr(req, "full_url") else str(req)
            entry: dict = {"method": method, "url": url, "t_ms": t_ms()}
            started = time.monotonic()
            try:
                resp = original(req, *args, **kwargs)
                entry["status"] = getattr(resp, "status", None)
                return resp
            except Exception as exc:
                entry["status"] = getattr(exc, "code", None)
                entry["error"] = str(exc)
                raise
            finally:
                entry["duration_ms"] = int((time.monotonic() - started) * 1000)
                _record_http(entry)

        urllib.request.urlopen = traced_urlopen  # type: ignore[assignment]
        HTTP_TRACE_SCOPE = "token-exchange only (1.x makes its other requests in native code)"
        return
    try:
        import aiohttp
    except ImportError:
        return

    def make_trace_config() -> Any:
        tc = aiohttp.TraceConfig()

        async def on_start(_s: Any, ctx: Any, params: Any) -> None:
            ctx.entry = {"method": params.method, "url": str(params.url), "t_ms": t_ms()}
            ctx.started = time.monotonic()

        async def on_end(_s: Any, ctx: Any, params: Any) -> None:
            entry = getattr(ctx, "entry", None)
            if entry is None:
                return
            entry["status"] = params.response.status
            entry["duration_ms"] = int((time.monotonic() - ctx.started) * 1000)
            _record_http(entry)

        async def on_exc(_s: Any, ctx: Any, params: Any) -> None:
            entry = getattr(ctx, "entry", None)
            if entry is None:
                return
            entry["error"] = f"{type(params.exception).__name__}: {params.exception}"
            entry["duration_ms"] = int((time.monotonic() - ctx.started) * 1000)
            _record_http(entry)

        tc.on_request_start.append(on_start)
        tc.on_request_end.append(on_end)
        tc.on_request_exception.append(on_exc)
        return tc

    original_init = aiohttp.ClientSession.__init__

    def traced_init(self: Any, *args: Any, **kwargs: Any) -> None:
        configs = list(kwargs.pop("trace_configs", None) or [])
        configs.append(make_trace_config())
        kwargs["trace_configs"] = configs
        original_init(self, *args, **kwargs)

    aiohttp.ClientSession.__init__ = traced_init  # type: ignore[method-assign]
    HTTP_TRACE_SCOPE = "all (aiohttp)"


_install_http_tracing()

# ───────────────────────────── API surface ─────────────────────────────

_SIGNATURE_OF = (
    "__init__",
    "__new__",
    "connect",
    "disconnect",
    "reconnect",
    "send_command",
    "send_message",
    "upload_file",
)


def _params(fn: Any) -> list[str] | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    out = []
    for p in sig.parameters.values():
        if p.name in ("self", "cls"):
            continue
        text = p.name
        if p.kind is p.KEYWORD_ONLY:
            text = "*" + text
        if p.default is not p.empty:
            text += "=" + repr(p.default)
        out.append(text)
    return out


def api_surface() -> dict | None:
    if SDK.mod is None:
        return None
    cls = getattr(SDK.mod, "Reactor", None)
    if cls is None:
        return {"error": "reactor_sdk exports no Reactor"}
    methods, properties = [], []
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        if isinstance(attr, property):
            properties.append(name)
        elif callable(getattr(cls, name, None)):
            methods.append(name)
    signatures = {}
    for name in _SIGNATURE_OF:
        fn = cls.__dict__.get(name)
        if fn is not None:
            params = _params(fn)
            if params is not None:
                signatures["constructor" if name in ("__init__", "__new__") else name] = params
    # Language-neutral capability keys (drivers/PROTOCOL.md §3.1, the same keys the JS driver
    # reports) → the Python names that provide them.
    canon = {
        "connect": ("connect",),
        "disconnect": ("disconnect",),
        "reconnect": ("reconnect",),
        "send_command": ("send_command",),
        "send_message": ("send_message",),
        "upload_file": ("upload_file",),
        "publish_track": ("publish_track",),
        "unpublish_track": ("unpublish_track",),
        "get_status": ("get_status",),
        "get_state": ("get_state",),
        "get_last_error": ("get_last_error",),
        "get_session_id": ("get_session_id",),
        "get_capabilities": ("get_capabilities",),
        "get_schema": ("get_schema", "request_schema"),
        "get_stats": ("get_stats",),
    }
    has = {key: any(n in methods for n in names) for key, names in canon.items()}
    # The SDK's own token helper (mints a JWT from an API key): 1.x fetch_jwt, 0.x fetch_jwt_token.
    helpers = [n for n in ("fetch_jwt", "fetch_jwt_token") if callable(getattr(SDK.mod, n, None))]
    has["token_helper"] = bool(helpers)
    # Driver-specific extras (suites rely only on the keys above).
    for n in ("request_schema", "on", "on_status", "on_message", "on_error", "on_track"):
        has[n] = n in methods
    errors = sorted(
        n
        for n in dir(SDK.mod)
        if isinstance(getattr(SDK.mod, n, None), type)
        and issubclass(getattr(SDK.mod, n), BaseException)
    )
    resolver = token_resolver_support(cls)
    has["token_resolver"] = resolver["accepts"]
    return {
        "methods": methods,
        "properties": properties,
        "signatures": signatures,
        "exports": sorted(getattr(SDK.mod, "__all__", []) or [n for n in dir(SDK.mod) if not n.startswith("_")]),
        "error_classes": errors,
        "has": has,
        "token_helper": helpers[0] if helpers else None,
        "token_resolver": resolver,
    }


def token_resolver_support(cls: Any) -> dict:
    """Whether the client takes a token resolver (a callable minting a JWT when the SDK needs
    one) where it takes its JWT, read from the annotation of that parameter. reactor-sdk 1.13.0
    declares `jwt: str | None` and encodes it once for the native core, so a callable cannot
    stand in for it."""
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return {"accepts": False, "basis": "none (the constructor cannot be inspected)", "declared": None}
    for name in ("jwt", "jwt_token", "token"):
        p = params.get(name)
        if p is None:
            continue
        ann = p.annotation
        text = "unannotated" if ann is inspect.Parameter.empty else (ann if isinstance(ann, str) else inspect.formatannotation(ann))
        accepts = any(w in text for w in ("Callable", "Awaitable", "Resolver", "Provider"))
        return {"accepts": accepts, "basis": "signature", "declared": f"Reactor({name}: {text})"}
    return {"accepts": False, "basis": "signature", "declared": "Reactor(...) takes no JWT parameter (api_key only)"}


# What connect's `token.mint` may say (drivers/PROTOCOL.md §3.4), and of which kind each is.
_MINT_KEYS = {"expires_after": "int", "models": "strings", "sessions": "strings", "max_sessions": "int", "max_session_duration_seconds": "int"}


def mint_spec_problem(token: Any) -> str | None:
    """Why `token` is not {"mint": {...}}, or None when it is (same rules as the JS driver)."""
    if not isinstance(token, dict):
        return 'argument "token" must be an object {"mint": {...}}'
    extra = [k for k in token if k != "mint"]
    if extra:
        return f'argument "token" takes only "mint", got {", ".join(extra)}'
    mint = token.get("mint")
    if not isinstance(mint, dict):
        return 'argument "token.mint" must be an object (e.g. {"expires_after": 60})'
    for k, v in mint.items():
        kind = _MINT_KEYS.get(k)
        if kind is None:
            return f"token.mint.{k} is unknown; allowed: {', '.join(_MINT_KEYS)}"
        if kind == "int":
            ok = isinstance(v, int) and not isinstance(v, bool) and v > 0
        else:
            ok = isinstance(v, list) and bool(v) and all(isinstance(x, str) and x for x in v)
        if not ok:
            return f"token.mint.{k} must be {'a positive integer' if kind == 'int' else 'a non-empty array of non-empty strings'}"
    return None


def check_token_arg(args: dict) -> None:
    """connect's `token` argument: validated, then refused unless the SDK takes a resolver.
    No published reactor-sdk does, so the driver has no resolver wiring to offer yet."""
    if args.get("token") is None:
        return
    problem = mint_spec_problem(args["token"])
    if problem:
        raise OpError("bad_args", problem)
    if args.get("jwt") is not None:
        raise OpError("bad_args", 'arguments "token" and "jwt" exclude each other')
    resolver = (SURFACE or {}).get("token_resolver") or {}
    if not resolver.get("accepts"):
        raise OpError(
            "not_supported",
            f"reactor-sdk {SDK.version} accepts no token resolver: {resolver.get('declared') or resolver.get('basis')}",
        )
    raise OpError("not_supported", f"reactor-sdk {SDK.version} declares a resolver ({resolver.get('declared')}), but this driver does not wire one yet")


SURFACE = api_surface()

# ───────────────────────────── op errors ─────────────────────────────


class OpError(Exception):
    def __init__(self, code: str, message: str, details: dict | None = None, sdk_code: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.sdk_code = sdk_code

    def payload(self) -> dict:
        out: dict = {"code": self.code, "message": self.message}
        if self.sdk_code is not None:
            out["sdk_code"] = self.sdk_code
        if self.details is not None:
            out["details"] = self.details
        return out


def _type_ok(v: Any, typ: type | tuple) -> bool:
    types = typ if isinstance(typ, tuple) else (typ,)
    if isinstance(v, bool) and bool not in types:
        return False  # JSON true/false is not a number here
    return isinstance(v, types)


def need(args: dict, key: str, typ: type | tuple | None = None) -> Any:
    v = args.get(key)
    if v is None:
        raise OpError("bad_args", f'missing argument "{key}"')
    if typ is not None and not _type_ok(v, typ):
        raise OpError("bad_args", f'argument "{key}" must be {_type_name(typ)}')
    return v


def opt(args: dict, key: str, typ: type | tuple | None = None, default: Any = None) -> Any:
    v = args.get(key)
    if v is None:
        return default
    if typ is not None and not _type_ok(v, typ):
        raise OpError("bad_args", f'argument "{key}" must be {_type_name(typ)}')
    return v


def _type_name(typ: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", dict: "an object", list: "an array"}
    if isinstance(typ, tuple):
        return "a number" if set(typ) == {int, float} else " or ".join(names.get(t, t.__name__) for t in typ)
    return names.get(typ, typ.__name__)


def sdk_error_data(err: Any) -> dict:
    """An SDK error (1.x ReactorError exception or 0.x ReactorError dataclass) as JSON."""
    if err is None:
        return {"source": "sdk", "code": None, "message": None, "recoverable": None}
    out: dict = {
        "source": "sdk",
        "code": getattr(err, "code", None),
        "message": getattr(err, "message", None) or str(err),
        "recoverable": getattr(err, "recoverable", None),
    }
    for attr in ("status", "operation", "retry_after_ms", "component", "retry_after", "timestamp_ms", "timestamp"):
        v = getattr(err, attr, None)
        if v is not None:
            out[attr] = v
    out["type"] = type(err).__name__
    return out


def sdk_failure(exc: BaseException, phase: str, extra: dict | None = None) -> OpError:
    details: dict = {"phase": phase, "exception": type(exc).__name__, "status": S.status()}
    for attr in ("recoverable", "status", "operation", "retry_after_ms"):
        v = getattr(exc, attr, None)
        if v is not None:
            details["http_status" if attr == "status" else attr] = v
    if S.last_error is not None:
        details["last_error"] = S.last_error
    if extra:
        details.update(extra)
    code = getattr(exc, "code", None)
    return OpError("sdk_error", str(exc), details, sdk_code=code if isinstance(code, (str, int)) else None)


# ───────────────────────────── session state ─────────────────────────────


class State:
    def __init__(self) -> None:
        self.reactor: Any = None
        self.config: dict | None = None
        self.last_status: str = "disconnected"
        self.session_id: str | None = None
        self.last_error: dict | None = None
        self.capabilities: Any = None
        self.tracks: dict[str, dict] = {}
        self.frames: dict[str, int] = {}
        self.frame_tasks: dict[str, asyncio.Task] = {}
        self.registered_frame_handlers: set[str] = set()
        self.file_refs: dict[str, Any] = {}
        self.messages = {"application": 0, "runtime": 0}
        self.status_waiters: list[Callable[[], None]] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    def status(self) -> str:
        """The SDK's own reading when it has one, else the last status event."""
        r = self.reactor
        if r is None:
            return self.last_status
        try:
            if SDK.is1x:
                return _status_str(r.status)
            getter = getattr(r, "get_status", None)
            if getter is not None:
                return _status_str(getter())
        except Exception:
            pass
        return self.last_status

    def sdk_session_id(self) -> str | None:
        r = self.reactor
        if r is None:
            return self.session_id
        try:
            if SDK.is1x:
                return r.session_id
            getter = getattr(r, "get_session_id", None)
            if getter is not None:
                return getter()
        except Exception:
            pass
        return self.session_id

    def notify(self) -> None:
        for w in list(self.status_waiters):
            try:
                w()
            except Exception:
                pass


S = State()


def _status_str(s: Any) -> str:
    if s is None:
        return "disconnected"
    v = getattr(s, "value", s)
    return str(v)


async def wait_for_status(targets: tuple[str, ...], timeout_s: float) -> tuple[str, bool]:
    """Wait until the status is one of `targets` or `disconnected`; returns (status, timed_out)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future = loop.create_future()

    def check() -> None:
        st = S.status()
        if (st in targets or st == "disconnected") and not fut.done():
            fut.set_result(st)

    S.status_waiters.append(check)
    try:
        check()
        try:
            st = await asyncio.wait_for(asyncio.shield(fut), timeout=max(0.0, timeout_s))
            return st, False
        except asyncio.TimeoutError:
            return S.status(), True
    finally:
        try:
            S.status_waiters.remove(check)
        except ValueError:
            pass


# ───────────────────────────── SDK event wiring ─────────────────────────────


def _on_status(status: Any) -> None:
    s = _status_str(status)
    S.last_status = s
    emit("status", s)
    if s == "disconnected" and not SDK.is1x:
        _stop_frame_tasks()
    S.notify()


def _on_session_id(sid: Any) -> None:
    S.session_id = sid
    emit("session_id", sid)


def _on_message(msg: Any) -> None:
    S.messages["application"] += 1
    emit("message", msg)


def _on_runtime_message(msg: Any) -> None:
    S.messages["runtime"] += 1
    emit("runtime_message", msg)


def _on_error(err: Any) -> None:
    S.last_error = sdk_error_data(err)
    emit("error", S.last_error)


def _on_capabilities(caps: Any) -> None:
    S.capabilities = caps
    emit("capabilities", caps)


def _count_frame(name: str) -> None:
    S.frames[name] = S.frames.get(name, 0) + 1


def _on_track_1x(track: Any) -> None:
    name = getattr(track, "name", None) or "unknown"
    kind = _status_str(getattr(track, "kind", None)) if getattr(track, "kind", None) else None
    direction = _status_str(getattr(track, "direction", None)) if getattr(track, "direction", None) else None
    rec = S.tracks.setdefault(name, {"kind": kind, "direction": direction, "received": 0})
    rec.update(kind=kind, direction=direction, mid=getattr(track, "mid", None))
    rec["received"] += 1
    S.frames.setdefault(name, 0)
    if direction != "sendonly" and name not in S.registered_frame_handlers:
        # on_raw_frame: no numpy needed, nothing converted. Runs on the native delivery thread;
        # a dict increment under the GIL is all it does. The Track object outlives reconnects,
        # so one registration per name is enough.
        try:
            track.on_raw_frame(lambda *_a, _n=name: _count_frame(_n))
            S.registered_frame_handlers.add(name)
        except Exception as exc:
            log_err("cannot count frames of track %s: %s", name, exc)
    emit("track", {"name": name, "kind": kind, "direction": direction, "mid": rec.get("mid"), "named_by": "sdk"})


def _on_track_0x(*args: Any) -> None:
    # 0.4+: (name, MediaStreamTrack); 0.1-0.3 deliver the track alone.
    if len(args) >= 2:
        name, track = args[0], args[1]
        named_by = "sdk"
    else:
        track = args[0] if args else None
        name = getattr(track, "kind", None) or "unknown"
        named_by = "driver"
    kind = getattr(track, "kind", None)
    rec = S.tracks.setdefault(name, {"kind": kind, "direction": "recvonly", "received": 0})
    rec["kind"] = kind
    rec["received"] += 1
    S.frames.setdefault(name, 0)
    if track is not None and hasattr(track, "recv"):
        old = S.frame_tasks.pop(name, None)
        if old is not None:
            old.cancel()
        S.frame_tasks[name] = asyncio.ensure_future(_pump_frames(name, track))
    emit("track", {"name": name, "kind": kind, "direction": "recvonly", "named_by": named_by})


async def _pump_frames(name: str, track: Any) -> None:
    """Consume an aiortc remote track and count what arrives (the driver is its only reader)."""
    try:
        while True:
            try:
                await asyncio.wait_for(track.recv(), timeout=1.0)
            except asyncio.TimeoutError:
                if getattr(track, "readyState", "live") == "ended":
                    break
                continue
            _count_frame(name)
    except asyncio.CancelledError:
        pass
    except Exception as exc:  # MediaStreamError when the track ends
        _dlog.debug("frame pump for %s ended: %s", name, exc)


def _stop_frame_tasks() -> None:
    for task in S.frame_tasks.values():
        task.cancel()
    S.frame_tasks.clear()


async def frames_reporter() -> None:
    last = ""
    while True:
        await asyncio.sleep(0.5)
        if not S.frames:
            continue
        counts = dict(S.frames)
        j = json.dumps(counts, sort_keys=True)
        if j != last:
            last = j
            emit("frames", counts)


def _subscribe(reactor: Any) -> None:
    def on(event: str, fn: Callable) -> None:
        def guarded(*a: Any) -> None:
            if S.reactor is not reactor:
                return  # an instance that was replaced
            try:
                fn(*a)
            except Exception as exc:
                log_err("handler for %s failed: %s", event, exc)

        try:
            reactor.on(event, guarded)
        except Exception as exc:
            log_err("cannot subscribe to %s: %s", event, exc)

    on("status_changed", _on_status)
    on("session_id_changed", _on_session_id)
    on("message", _on_message)
    on("runtime_message", _on_runtime_message)
    on("error", _on_error)
    on("capabilities_received", _on_capabilities)
    on("session_expiration_changed", lambda exp: emit("session_expiration", exp))
    if SDK.is1x:
        on("track_received", _on_track_1x)
    else:
        on("track_received", _on_track_0x)
        on("stream_changed", _on_track_0x)


# ───────────────────────────── instance management ─────────────────────────────


def _reactor_params() -> set[str]:
    cls = SDK.mod.Reactor
    fn = cls.__dict__.get("__init__") if SDK.is1x else cls.__dict__.get("__new__")
    try:
        return {p for p in inspect.signature(fn).parameters if p not in ("self", "cls")}
    except (TypeError, ValueError):
        return set()


def create_reactor(args: dict) -> Any:
    require_sdk()
    model = need(args, "model", str)
    local = opt(args, "local", bool, False)
    api_url = opt(args, "api_url", str)
    api_key = opt(args, "api_key", str)
    jwt = opt(args, "jwt", str)
    extra = opt(args, "options", dict, {})
    if not local and api_url is None:
        raise OpError("bad_args", 'missing argument "api_url" (required unless local)')
    params = _reactor_params()
    kwargs: dict = {}
    if api_key is not None:
        kwargs["api_key"] = api_key  # with jwt too: the SDK decides which wins (1.x: jwt)
    if jwt is not None:
        if "jwt" not in params:
            raise OpError(
                "not_supported",
                f"reactor-sdk {SDK.version} takes no JWT (its constructor has no jwt parameter); pass api_key",
            )
        kwargs["jwt"] = jwt
    if api_url is not None:
        if "api_url" in params:
            kwargs["api_url"] = api_url
        elif "coordinator_url" in params:
            kwargs["coordinator_url"] = api_url
    if local:
        kwargs["local"] = True
    for k, v in extra.items():
        if k not in params:
            raise OpError("bad_args", f'option "{k}" is not a constructor parameter of reactor-sdk {SDK.version}', {"parameters": sorted(params)})
        kwargs[k] = v
    try:
        reactor = SDK.mod.Reactor(model, **kwargs)
    except Exception as exc:
        raise sdk_failure(exc, "constructor") from exc
    _drop_instance()
    S.reactor = reactor
    S.config = {"api_url": api_url, "model": model, "local": local, "auth": "jwt" if jwt else ("api_key" if api_key else None)}
    S.last_status = "disconnected"
    S.session_id = None
    S.last_error = None
    S.capabilities = None
    S.tracks = {}
    S.frames = {}
    S.registered_frame_handlers = set()
    S.messages = {"application": 0, "runtime": 0}
    _subscribe(reactor)
    return reactor


def _drop_instance() -> None:
    _stop_frame_tasks()
    old = S.reactor
    S.reactor = None
    if old is not None and SDK.is1x:
        try:
            old.close()
        except Exception as exc:
            log_err("closing the previous instance failed: %s", exc)


def _same_config(args: dict) -> bool:
    c = S.config
    return bool(
        c
        and c["model"] == args.get("model")
        and c["api_url"] == args.get("api_url")
        and c["local"] == bool(args.get("local", False))
    )


def effective_base_url() -> str | None:
    r = S.reactor
    for attr in ("_api_url", "_coordinator_url", "_base_url"):
        v = getattr(r, attr, None)
        if isinstance(v, str):
            return v
    return None


def require_sdk() -> None:
    if SDK.mod is None:
        raise OpError("sdk_load_failed", f"reactor_sdk is not importable here: {SDK.load_error}")
    if SDK.native_error:
        raise OpError("sdk_load_failed", f"reactor_sdk {SDK.version}: native library failed to load: {SDK.native_error}")


def require_reactor() -> Any:
    require_sdk()
    if S.reactor is None:
        raise OpError("bad_state", "no Reactor instance: call create or connect first")
    return S.reactor


async def _in_thread(fn: Callable, *a: Any, **kw: Any) -> Any:
    ctx = contextvars.copy_context()  # keep the op's warning bucket in the worker thread
    return await asyncio.get_running_loop().run_in_executor(None, lambda: ctx.run(fn, *a, **kw))


async def run_bounded(coro: Any, timeout_s: float, what: str) -> Any:
    """Await an SDK coroutine for at most timeout_s. On timeout the SDK call keeps running (the
    driver does not cancel it, so the SDK's own behaviour stays observable) and the op fails."""
    task = asyncio.ensure_future(coro)
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if task in done:
        return task.result()

    def late(t: asyncio.Task) -> None:
        if t.cancelled():
            return
        exc = t.exception()
        emit("late_result", {"op": what, "ok": exc is None, "error": None if exc is None else str(exc)})

    task.add_done_callback(late)
    raise OpError(
        "timeout",
        f"{what} did not return within {int(timeout_s * 1000)} ms (still running in the SDK)",
        {"status": S.status()},
    )


# ───────────────────────────── ops ─────────────────────────────


def _sdk_source() -> str | None:
    """pypi:reactor-sdk for an installed distribution, local:<dir> for an import from elsewhere."""
    if SDK.mod is None:
        return None
    path = getattr(SDK.mod, "__file__", None) or ""
    if "site-packages" in path or "dist-packages" in path:
        return "pypi:reactor-sdk"
    return f"local:{os.path.dirname(path)}" if path else None


def _sdk_codec() -> str | None:
    """Data-channel format (drivers/PROTOCOL.md §3.1): 1.x speaks v1 protobuf (reactor-core),
    0.4-0.8 the v0 JSON envelope, 0.1-0.3 the flat pre-overhaul JSON."""
    if SDK.generation == "1.x":
        return "v1-protobuf"
    if SDK.protocol == "legacy":
        return "legacy-json"
    return "v0-json" if SDK.protocol else None


async def op_hello(_args: dict) -> dict:
    return {
        "name": "reactor-sdk",
        "version": SDK.version,
        "generation": SDK.generation,
        "driver": {"name": DRIVER_NAME, "version": DRIVER_VERSION, "protocol": PROTOCOL_VERSION, "language": "python"},
        "sdk": {
            "name": "reactor-sdk",
            "import_name": "reactor_sdk",
            "version": SDK.version,
            "source": _sdk_source(),
            "generation": SDK.generation,
            "protocol": SDK.protocol,
            "protocol_basis": "version" if SDK.protocol else None,
            "codec": _sdk_codec(),
            "loaded": SDK.mod is not None and SDK.native_error is None,
            "load_error": SDK.load_error or SDK.native_error,
            "native_library": SDK.native_lib,
            "path": getattr(SDK.mod, "__file__", None),
        },
        "surface": SURFACE,
        "runtime": {
            "python": platform.python_version(),
            "executable": sys.executable,
            "platform": f"{sys.platform}-{platform.machine()}",
            "http_trace": HTTP_TRACE_SCOPE if TRACE_HTTP else "off",
        },
        "ops": sorted(OPS),
        "events": [
            "started",
            "status",
            "session_id",
            "message",
            "runtime_message",
            "error",
            "track",
            "frames",
            "warning",
            "capabilities",
            "session_expiration",
            "http",
            "late_result",
        ],
        "start_unix_ms": START_UNIX_MS,
    }


async def op_token(args: dict) -> dict:
    require_sdk()
    api_url = need(args, "api_url", str)
    api_key = need(args, "api_key", str)
    scope = {k: args[k] for k in ("models", "sessions", "max_sessions", "max_session_duration_seconds", "expires_after") if args.get(k) is not None}
    for k in ("models", "sessions"):
        if k in scope and (not isinstance(scope[k], list) or not all(isinstance(x, str) for x in scope[k])):
            raise OpError("bad_args", f'argument "{k}" must be an array of strings')
    for k in ("max_sessions", "max_session_duration_seconds", "expires_after"):
        if k in scope and (not isinstance(scope[k], int) or isinstance(scope[k], bool)):
            raise OpError("bad_args", f'argument "{k}" must be an integer')
    started = time.monotonic()
    if SDK.is1x:
        fetch = getattr(SDK.mod, "fetch_jwt", None)
        if fetch is None:
            raise OpError("not_supported", f"reactor-sdk {SDK.version} has no fetch_jwt")
        accepted = set(inspect.signature(fetch).parameters)
        unknown = [k for k in scope if k not in accepted]
        if unknown:
            raise OpError("not_supported", f"fetch_jwt of reactor-sdk {SDK.version} takes no {', '.join(unknown)}")
        with collect_warnings() as warns:
            try:
                jwt = await _in_thread(fetch, api_key, api_url, **scope)
            except Exception as exc:
                raise sdk_failure(exc, "token") from exc
        via = "sdk:fetch_jwt"
        request = "POST /tokens (Reactor-API-Key), JSON body: null unless scoped"
    else:
        fetch = getattr(SDK.mod, "fetch_jwt_token", None)
        if fetch is None:
            raise OpError("not_supported", f"reactor-sdk {SDK.version} has no fetch_jwt_token")
        if scope:
            raise OpError("not_supported", f"reactor-sdk {SDK.version} mints unscoped tokens only (no {', '.join(scope)})")
        params = set(inspect.signature(fetch).parameters)
        url_kw = "api_url" if "api_url" in params else "coordinator_url"
        with collect_warnings() as warns:
            try:
                jwt = await fetch(api_key, **{url_kw: api_url})
            except Exception as exc:
                raise sdk_failure(exc, "token") from exc
        via = "sdk:fetch_jwt_token"
        request = (
            "GET /tokens (X-API-Key)"
            if SDK.protocol == "legacy"
            else ("GET /tokens (Reactor-API-Key)" if _version_tuple(SDK.version) < (0, 5) else "POST /tokens (Reactor-API-Key), no body")
        )
    return {
        "jwt": jwt,
        "via": via,
        "request": request,
        "scoped": bool(scope.get("models") or scope.get("sessions")),
        "elapsed_ms": int((time.monotonic() - started) * 1000),
        "warnings": warns,
        "note": "the SDK helper returns the token string only; expires_at is not exposed",
    }


async def op_create(args: dict) -> dict:
    if S.reactor is not None and S.status() != "disconnected":
        raise OpError("bad_state", f'the current instance is "{S.status()}"; disconnect it first')
    create_reactor(args)
    return {"status": S.status(), "base_url": effective_base_url(), "sdk_version": SDK.version}


async def _settle(call: Callable[[], Any], args: dict, default_timeout_ms: int, what: str) -> dict:
    wait = opt(args, "wait", str, "ready")
    if wait not in ("ready", "resolve"):
        raise OpError("bad_args", 'wait must be "ready" or "resolve"')
    timeout_ms = opt(args, "timeout_ms", (int, float), default_timeout_ms)
    started = time.monotonic()
    deadline = started + timeout_ms / 1000.0
    with collect_warnings() as warns:
        try:
            returned = await run_bounded(call(), timeout_ms / 1000.0, what)
        except OpError:
            raise
        except Exception as exc:
            raise sdk_failure(exc, what, {"warnings": list(warns)}) from exc
        resolved_ms = int((time.monotonic() - started) * 1000)
        timed_out = False
        # 0.x resolves connect() once the answer is applied; `ready` follows when both channels
        # open. 1.x resolves at ready. Either way, wait (bounded) for a settled status.
        if wait == "ready" and S.status() not in ("ready", "disconnected"):
            _, timed_out = await wait_for_status(("ready",), deadline - time.monotonic())
    result = {
        "status": S.status(),
        "ready": S.status() == "ready",
        "session_id": S.sdk_session_id(),
        "resolved_ms": resolved_ms,
        "elapsed_ms": int((time.monotonic() - started) * 1000),
        "returned": returned,
        "warnings": warns,
        "last_error": S.last_error,
    }
    if timed_out:
        raise OpError("timeout", f'status is still "{S.status()}" {timeout_ms} ms after {what} started', result)
    return result


async def op_connect(args: dict) -> dict:
    require_sdk()
    check_token_arg(args)
    fresh = opt(args, "fresh", bool, False)
    session_id = opt(args, "session_id", str)
    connection_id = opt(args, "connection_id", int)
    if fresh or S.reactor is None or not _same_config(args) or _auth_changed(args):
        if S.reactor is not None and S.status() != "disconnected" and not fresh:
            raise OpError(
                "bad_state",
                f'the current instance ({S.config and S.config.get("model")} at {S.config and S.config.get("api_url")}) is "{S.status()}"; disconnect it or pass fresh:true',
            )
        create_reactor(args)
    reactor = S.reactor
    connect_params = _params(type(reactor).connect) or []
    names = {p.lstrip("*").split("=")[0] for p in connect_params}
    kwargs: dict = {}
    for key, value in (("session_id", session_id), ("connection_id", connection_id)):
        if value is not None:
            if key not in names:
                raise OpError("not_supported", f"reactor-sdk {SDK.version} connect() has no {key}")
            kwargs[key] = value
    auto_resume = opt(args, "auto_resume_tracks", bool)
    if auto_resume is not None:
        if "auto_resume_tracks" not in names:
            raise OpError("not_supported", f"reactor-sdk {SDK.version}: auto_resume_tracks is a constructor option here (pass it in options)")
        kwargs["auto_resume_tracks"] = auto_resume
    result = await _settle(lambda: reactor.connect(**kwargs), args, 60000, "connect")
    result["base_url"] = effective_base_url()
    result["tracks"] = sorted(S.tracks)
    if S.capabilities is not None:
        result["capabilities"] = S.capabilities
    return result


def _auth_changed(args: dict) -> bool:
    c = S.config or {}
    want = "jwt" if args.get("jwt") else ("api_key" if args.get("api_key") else None)
    return c.get("auth") != want


def _resolve_file_refs(args: dict, data: Any) -> Any:
    refs = opt(args, "file_refs", dict)
    if not refs:
        return data
    out = dict(data) if isinstance(data, dict) else {}
    for param, upload_id in refs.items():
        ref = S.file_refs.get(upload_id)
        if ref is None:
            raise OpError("bad_args", f'unknown upload id "{upload_id}" in file_refs (upload it with upload_file first)')
        out[param] = ref
    return out


async def op_send_command(args: dict) -> dict:
    reactor = require_reactor()
    name = need(args, "name", str)
    data = args.get("data", {})
    if data is None:
        data = {}
    data = _resolve_file_refs(args, data)
    scope = opt(args, "scope", str)
    timeout_ms = opt(args, "timeout_ms", (int, float), 30000)
    kwargs: dict = {}
    if scope is not None:
        params = {p.lstrip("*").split("=")[0] for p in (_params(type(reactor).send_command) or [])}
        if "scope" not in params:
            if scope != "application":
                raise OpError("not_supported", f"reactor-sdk {SDK.version} send_command has no scope (application only)")
        else:
            try:
                kwargs["scope"] = SDK.mod.MessageScope(scope)
            except Exception as exc:
                raise OpError("bad_args", f"unknown scope {scope!r}") from exc
    status_at_call = S.status()
    started = time.monotonic()
    with collect_warnings() as warns:
        try:
            returned = await run_bounded(reactor.send_command(name, data, **kwargs), timeout_ms / 1000.0, "send_command")
        except OpError:
            raise
        except Exception as exc:
            raise sdk_failure(exc, "send_command", {"status_at_call": status_at_call, "warnings": list(warns)}) from exc
    return {
        "status_at_call": status_at_call,
        "returned": returned,
        "awaited_reply": SDK.is1x,
        "elapsed_ms": int((time.monotonic() - started) * 1000),
        "warnings": warns,
    }


def _upload_bytes(args: dict) -> bytes | None:
    if isinstance(args.get("path"), str):
        return None
    if isinstance(args.get("base64"), str):
        try:
            return base64.b64decode(args["base64"], validate=True)
        except (ValueError, TypeError) as exc:
            raise OpError("bad_args", f"base64 does not decode: {exc}") from exc
    if isinstance(args.get("text"), str):
        return args["text"].encode("utf-8")
    raise OpError("bad_args", 'give one of "path", "base64" or "text"')


async def op_upload_file(args: dict) -> dict:
    reactor = require_reactor()
    if not hasattr(reactor, "upload_file"):
        raise OpError("not_supported", f"reactor-sdk {SDK.version} has no upload_file")
    data = _upload_bytes(args)
    name = opt(args, "name", str)
    mime_type = opt(args, "mime_type", str)
    timeout_ms = opt(args, "timeout_ms", (int, float), 60000)
    if data is None:
        path = args["path"]
        if not os.path.isfile(path):
            raise OpError("bad_args", f"no such file: {path}")
        file: Any = path
    else:
        file = data
    started = time.monotonic()
    with collect_warnings() as warns:
        try:
            ref = await run_bounded(reactor.upload_file(file, name=name, mime_type=mime_type), timeout_ms / 1000.0, "upload_file")
        except OpError:
            raise
        except Exception as exc:
            raise sdk_failure(exc, "upload_file", {"warnings": list(warns)}) from exc
    upload_id = getattr(ref, "upload_id", None)
    if upload_id is not None:
        S.file_refs[upload_id] = ref
    return {
        "upload_id": upload_id,
        "name": getattr(ref, "name", None),
        "mime_type": getattr(ref, "mime_type", None),
        "size": getattr(ref, "size", None),
        "elapsed_ms": int((time.monotonic() - started) * 1000),
        "warnings": warns,
    }


async def op_reconnect(args: dict) -> dict:
    reactor = require_reactor()
    if not hasattr(reactor, "reconnect"):
        raise OpError("not_supported", f"reactor-sdk {SDK.version} has no reconnect")
    return await _settle(lambda: reactor.reconnect(), args, 60000, "reconnect")


async def op_disconnect(args: dict) -> dict:
    reactor = require_reactor()
    recoverable = opt(args, "recoverable", bool)
    timeout_ms = opt(args, "timeout_ms", (int, float), 30000)
    params = {p.lstrip("*").split("=")[0] for p in (_params(type(reactor).disconnect) or [])}
    kwargs: dict = {}
    if recoverable is not None:
        if "recoverable" not in params:
            if recoverable:
                raise OpError(
                    "not_supported",
                    f"reactor-sdk {SDK.version} disconnect() takes no recoverable flag (it always ends the session; reconnect() keeps it)",
                )
        else:
            kwargs["recoverable"] = recoverable
    with collect_warnings() as warns:
        try:
            await run_bounded(reactor.disconnect(**kwargs), timeout_ms / 1000.0, "disconnect")
        except OpError:
            raise
        except Exception as exc:
            raise sdk_failure(exc, "disconnect", {"warnings": list(warns)}) from exc
    if S.status() == "disconnected" and not SDK.is1x and not recoverable:
        _stop_frame_tasks()
    return {
        "status": S.status(),
        "session_id": S.sdk_session_id(),
        "recoverable": bool(recoverable),
        "recoverable_supported": "recoverable" in params,
        "warnings": warns,
    }


async def op_state(_args: dict) -> dict:
    r = S.reactor
    last_error = S.last_error
    if r is not None and not SDK.is1x and hasattr(r, "get_last_error"):
        try:
            le = r.get_last_error()
            if le is not None:
                last_error = sdk_error_data(le)
        except Exception:
            pass
    extra: dict = {}
    if r is not None and SDK.is1x:
        try:
            extra["paused_tracks"] = sorted(r.paused_tracks)
            extra["declared_tracks"] = [
                {"name": t.name, "kind": _status_str(t.kind) if t.kind else None, "direction": _status_str(t.direction) if t.direction else None}
                for t in r.tracks
            ]
        except Exception:
            pass
    return {
        "has_instance": r is not None,
        "generation": SDK.generation,
        "config": S.config,
        "base_url": effective_base_url() if r is not None else None,
        "status": S.status(),
        "last_status_event": S.last_status,
        "session_id": S.sdk_session_id(),
        "frames": dict(S.frames),
        "tracks": S.tracks,
        "messages": S.messages,
        "last_error": last_error,
        "capabilities": S.capabilities,
        "file_refs": sorted(S.file_refs),
        "pending": [{"id": i, "op": o} for i, o in PENDING.items()],
        "http": _http_log[-50:],
        **extra,
    }


async def op_quit(args: dict) -> dict:
    if opt(args, "disconnect", bool, False) and S.reactor is not None and (S.status() != "disconnected" or S.sdk_session_id()):
        try:
            await asyncio.wait_for(S.reactor.disconnect(), timeout=5.0)
        except Exception as exc:
            log_err("disconnect on quit failed: %s", exc)
    return {"bye": True}


OPS: dict[str, Callable[[dict], Any]] = {
    "hello": op_hello,
    "token": op_token,
    "create": op_create,
    "connect": op_connect,
    "send_command": op_send_command,
    "upload_file": op_upload_file,
    "reconnect": op_reconnect,
    "disconnect": op_disconnect,
    "state": op_state,
    "quit": op_quit,
}

# ───────────────────────────── request loop ─────────────────────────────

PENDING: dict[Any, str] = {}
_shutting_down = False


def reply(req_id: Any, ok: bool, payload: Any) -> None:
    if ok:
        write_line({"id": req_id, "ok": True, "t_ms": t_ms(), "result": payload if payload is not None else {}})
    else:
        write_line({"id": req_id, "ok": False, "t_ms": t_ms(), "error": payload})


def _bad_line(code: str, message: str, line: str) -> None:
    emit("error", {"source": "driver", "code": code, "message": message, "line": line[:200], "recoverable": True})


async def handle_line(line: str, done: asyncio.Event) -> None:
    text = line.strip()
    if not text:
        return
    try:
        req = json.loads(text)
    except ValueError as exc:
        _bad_line("bad_json", f"cannot parse request line: {exc}", text)
        return
    if not isinstance(req, dict):
        _bad_line("bad_request", "a request must be a JSON object", text)
        return
    req_id = req.get("id")
    op = req.get("op")
    if req_id is None or isinstance(req_id, bool) or not isinstance(req_id, (int, float, str)):
        _bad_line("bad_request", 'a request needs an "id" (number or string)', text)
        return
    if not isinstance(op, str):
        reply(req_id, False, {"code": "bad_request", "message": 'a request needs an "op" string'})
        return
    if _shutting_down:
        reply(req_id, False, {"code": "shutting_down", "message": "the driver is exiting"})
        return
    handler = OPS.get(op)
    if handler is None:
        reply(req_id, False, {"code": "unknown_op", "message": f'unknown op "{op}"', "details": {"ops": sorted(OPS)}})
        return
    args = req.get("args")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        reply(req_id, False, {"code": "bad_args", "message": '"args" must be a JSON object'})
        return
    PENDING[req_id] = op
    try:
        result = await handler(args)
        if op == "quit":
            PENDING.pop(req_id, None)
            await shutdown("quit", final=lambda: reply(req_id, True, result))
            done.set()
            return
        if req_id in PENDING:
            reply(req_id, True, result)
    except OpError as err:
        if req_id in PENDING:
            reply(req_id, False, err.payload())
    except Exception as exc:  # a driver bug: report it, keep serving
        log_err("op %s failed: %r", op, exc)
        if req_id in PENDING:
            reply(req_id, False, {"code": "internal", "message": f"{type(exc).__name__}: {exc}"})
    finally:
        PENDING.pop(req_id, None)


async def _release_sdk() -> None:
    """Close transports without any HTTP, bounded, so no native thread or socket outlives us."""
    r = S.reactor
    if r is None:
        return
    _stop_frame_tasks()
    try:
        if SDK.is1x:
            await asyncio.wait_for(_in_thread(r.close), timeout=3.0)
        else:
            tc = getattr(r, "_transport_client", None)
            pc = getattr(tc, "_peer_connection", None) or getattr(getattr(r, "_machine_client", None), "_peer_connection", None)
            if pc is not None:
                await asyncio.wait_for(pc.close(), timeout=3.0)
    except Exception as exc:
        log_err("releasing the SDK instance failed: %s", exc)


async def shutdown(why: str, final: Callable[[], None] | None = None) -> None:
    global _shutting_down, _output_closed
    if _shutting_down:
        return
    _shutting_down = True
    log_err("exiting (%s)", why)
    for req_id, op in list(PENDING.items()):
        reply(req_id, False, {"code": "aborted", "message": f'driver exiting ({why}) before "{op}" finished'})
    PENDING.clear()
    await _release_sdk()
    if final is not None:
        final()
    with _out_lock:
        _output_closed = True
        try:
            _PROTO.flush()
        except Exception:
            pass


def _stdin_reader(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
    try:
        for raw in sys.stdin.buffer:
            loop.call_soon_threadsafe(queue.put_nowait, raw.decode("utf-8", errors="replace"))
    except Exception as exc:
        log_err("stdin read failed: %s", exc)
    finally:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:
            pass


async def main() -> int:
    loop = asyncio.get_running_loop()
    S.loop = loop

    def on_loop_exception(_loop: Any, context: dict) -> None:
        exc = context.get("exception")
        msg = context.get("message", "")
        text = f"{msg}: {type(exc).__name__}: {exc}" if exc else msg
        log_err("unhandled in event loop: %s", text)
        emit("warning", {"message": text, "source": "asyncio", "logger": "asyncio", "level": "error"})

    loop.set_exception_handler(on_loop_exception)
    done = asyncio.Event()

    async def on_signal(name: str) -> None:
        await shutdown(name)
        done.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, lambda n=sig.name: asyncio.ensure_future(on_signal(n)))
        except (NotImplementedError, RuntimeError):
            pass
    queue: asyncio.Queue = asyncio.Queue()
    threading.Thread(target=_stdin_reader, args=(loop, queue), name="stdin", daemon=True).start()
    reporter = asyncio.ensure_future(frames_reporter())
    emit(
        "started",
        {
            "driver": DRIVER_NAME,
            "sdk_version": SDK.version,
            "generation": SDK.generation,
            "sdk_loaded": SDK.mod is not None and SDK.native_error is None,
            "pid": os.getpid(),
        },
    )
    tasks: set[asyncio.Task] = set()
    while not done.is_set():
        getter = asyncio.ensure_future(queue.get())
        waiter = asyncio.ensure_future(done.wait())
        finished, _ = await asyncio.wait({getter, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if getter not in finished:
            getter.cancel()
            break
        waiter.cancel()
        line = getter.result()
        if line is None:
            # EOF: a short, bounded grace period for ops in flight, then exit.
            deadline = time.monotonic() + 3.0
            while PENDING and time.monotonic() < deadline and not _shutting_down:
                await asyncio.sleep(0.025)
            await shutdown("stdin closed")
            break
        task = asyncio.ensure_future(handle_line(line, done))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    reporter.cancel()
    return 0


if __name__ == "__main__":
    code = 0
    # A plain loop rather than asyncio.run(): run()'s teardown cancels and awaits every task and
    # joins the default executor, and an SDK call stuck in either would make `quit` unbounded.
    _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    try:
        code = _loop.run_until_complete(main())
    except KeyboardInterrupt:
        code = 130
    finally:
        try:
            _PROTO.flush()
        except Exception:
            pass
        sys.stderr.flush()
    # Native threads (1.x) or aiortc tasks must not hold the process open: leave now.
    os._exit(code)
