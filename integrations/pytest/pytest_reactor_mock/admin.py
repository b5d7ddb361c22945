"""The mock's admin API (``/__admin/``) over the standard library's HTTP client."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Optional, Union

# Admin calls are local and cheap; a mock that does not answer within this is wedged.
ADMIN_TIMEOUT = 10.0


class MockAdminError(RuntimeError):
    """The admin API refused a call; ``status`` and ``detail`` are the mock's answer."""

    def __init__(self, method: str, url: str, status: int, detail: str) -> None:
        super().__init__(f"{method} {url}: HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class JournalEntry:
    """One journaled event: an HTTP request the mock answered, or a data-channel message it
    received (``channel`` set). ``raw`` holds every field the mock sent, also those that have
    no attribute here."""

    seq: int
    time: Optional[datetime]
    method: str = ""
    path: str = ""
    query: str = ""
    status: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    session_id: str = ""
    body: Any = None
    channel: str = ""
    scope: str = ""
    type: str = ""
    data: Any = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "JournalEntry":
        return cls(
            seq=int(obj.get("seq", 0)),
            time=_parse_time(obj.get("time")),
            method=obj.get("method", ""),
            path=obj.get("path", ""),
            query=obj.get("query", ""),
            status=int(obj.get("status", 0)),
            headers=dict(obj.get("headers") or {}),
            session_id=obj.get("session_id", ""),
            body=obj.get("body"),
            channel=obj.get("channel", ""),
            scope=obj.get("scope", ""),
            type=obj.get("type", ""),
            data=obj.get("data"),
            raw=dict(obj),
        )

    @property
    def is_message(self) -> bool:
        """True for a data-channel message, False for an HTTP request."""
        return bool(self.channel)


def _parse_time(value: Any) -> Optional[datetime]:
    if not isinstance(value, str) or not value:
        return None
    # datetime.fromisoformat learnt the "Z" suffix only in Python 3.11.
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class AdminClient:
    """Calls one mock's admin API; every refusal raises :class:`MockAdminError`."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url.rstrip("/")

    def journal(self, **filters: Union[str, int, None]) -> list:
        query = {k: str(v) for k, v in filters.items() if v not in (None, "")}
        path = "/requests" + ("?" + urllib.parse.urlencode(query) if query else "")
        return [JournalEntry.from_json(e) for e in self.call("GET", path) or []]

    def clear_journal(self) -> None:
        self.call("DELETE", "/requests")

    def sessions(self) -> list:
        return self.call("GET", "/sessions") or []

    def reset(self) -> None:
        self.call("POST", "/reset")

    def get_scenario(self) -> dict:
        return self.call("GET", "/scenario")

    def put_scenario(self, spec: Union[Mapping[str, Any], str, "os.PathLike[str]"]) -> dict:
        if isinstance(spec, Mapping):
            body = json.dumps(dict(spec)).encode()
        else:  # a scenario file: the mock reads YAML and JSON alike
            with open(spec, "rb") as f:
                body = f.read()
        return self.call("PUT", "/scenario", body)

    def call(self, method: str, path: str, body: Optional[bytes] = None) -> Any:
        url = self.admin_url + path
        req = urllib.request.Request(url, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=ADMIN_TIMEOUT) as res:
                raw = res.read()
        except urllib.error.HTTPError as err:
            raise MockAdminError(method, url, err.code, _detail(err.read())) from None
        return json.loads(raw) if raw else None


def _detail(raw: bytes) -> str:
    try:
        return str(json.loads(raw).get("detail", raw.decode(errors="replace")))
    except (ValueError, AttributeError):
        return raw.decode(errors="replace")
