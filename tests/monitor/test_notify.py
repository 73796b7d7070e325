"""Notifications against real local receivers: an HTTP server and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import email
import hashlib
import hmac
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest

from baseguard.monitor import events as ev
from baseguard.monitor.alerts import Alert
from baseguard.monitor.errors import MonitorError
from baseguard.monitor.notify import (
    DAILY,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Dispatcher,
    EmailChannel,
    NotifyConfig,
    SlackChannel,
    WebhookChannel,
    verify_signature,
)
from baseguard.store import Store
from tests.monitor.builders import T0

SECRET = b"s3cret-hmac-key"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on 127.0.0.1 recording every POST."""
    state = Receiver(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            self.send_response(state.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/baseguard"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1: a real SMTP conversation, the messages kept in memory."""
    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    box = Mailbox(port)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def alert(n: int = 1, kind: str = "sla.breach") -> Alert:
    return Alert(
        key=f"{kind}:python|stable|CVE-2026-{n}|openssl",
        kind=kind,
        level="critical",
        title=f"Patch SLA breached: python:stable CVE-2026-{n}",
        text="A fix was available; the SLA ended <yesterday> & nobody shipped.",
        subject="python:stable",
        data={"n": n},
    )


def test_webhook_is_signed_with_hmac_sha256(receiver: Receiver) -> None:
    channel = WebhookChannel(url=receiver.url, secret=SECRET)
    channel.send([alert()], digest=False, now=T0)

    (req,) = receiver.requests
    assert req.path == "/hooks/baseguard"
    assert req.headers["Content-Type"] == "application/json"
    stamp = req.headers[TIMESTAMP_HEADER]
    expected = hmac.new(SECRET, stamp.encode() + b"." + req.body, hashlib.sha256).hexdigest()
    assert req.headers[SIGNATURE_HEADER] == f"sha256={expected}"
    assert verify_signature(SECRET, req.body, stamp, req.headers[SIGNATURE_HEADER], now=T0)
    assert not verify_signature(b"other", req.body, stamp, req.headers[SIGNATURE_HEADER], now=T0)
    tampered = req.body.replace(b"CVE-2026-1", b"CVE-2026-9")
    assert not verify_signature(SECRET, tampered, stamp, req.headers[SIGNATURE_HEADER], now=T0)
    late = T0 + timedelta(hours=1)
    assert not verify_signature(SECRET, req.body, stamp, req.headers[SIGNATURE_HEADER], now=late)
    payload = json.loads(req.body)
    assert payload["source"] == "baseguard"
    assert payload["digest"] is False
    assert [a["key"] for a in payload["alerts"]] == [alert().key]


def test_webhook_refused_by_the_receiver_is_an_error(receiver: Receiver) -> None:
    from baseguard.monitor.errors import NotifyError

    receiver.status = 500
    with pytest.raises(NotifyError, match="answered 500"):
        WebhookChannel(url=receiver.url, secret=SECRET).send([alert()], digest=False, now=T0)


def test_slack_payload_has_text_and_blocks(receiver: Receiver) -> None:
    SlackChannel(url=receiver.url).send([alert(1), alert(2)], digest=True, now=T0)
    (req,) = receiver.requests
    payload = json.loads(req.body)
    assert payload["text"] == "baseguard daily digest: 2 alerts"
    assert payload["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "baseguard daily digest: 2 alerts"},
    }
    sections = [b for b in payload["blocks"] if b["type"] == "section"]
    assert len(sections) == 2
    assert sections[0]["text"]["type"] == "mrkdwn"
    assert "&lt;yesterday&gt; &amp; nobody" in sections[0]["text"]["text"]


def test_email_reaches_a_real_smtp_server(smtp_server: Mailbox) -> None:
    channel = EmailChannel(
        host="127.0.0.1",
        port=smtp_server.port,
        sender="baseguard@example.org",
        recipients=["secops@example.org", "owner@example.org"],
    )
    channel.send([alert()], digest=False, now=T0)
    ((sender, rcpts, raw),) = smtp_server.messages
    assert sender == "baseguard@example.org"
    assert rcpts == ["secops@example.org", "owner@example.org"]
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "[baseguard] Patch SLA breached: python:stable CVE-2026-1"
    body = msg.get_body(("plain",))
    assert body is not None
    assert alert().key in body.get_content()


def config(receiver: Receiver, **kwargs: Any) -> NotifyConfig:
    return NotifyConfig.from_dict(
        {
            "channels": [{"type": "webhook", "name": "hook", "url": receiver.url, "secret": "k"}],
            **kwargs,
        }
    )


def test_same_alert_twice_is_one_notification(store: Store, receiver: Receiver) -> None:
    dispatcher = Dispatcher(store, config(receiver))
    first = dispatcher.dispatch([alert()], now=T0)
    second = dispatcher.dispatch([alert()], now=T0 + timedelta(hours=6))
    assert len(receiver.requests) == 1
    assert first.sent == [("hook", alert().key)]
    assert second.sent == [] and second.duplicates == [("hook", alert().key)]
    sent = ev.events(store, [ev.NOTIFY_SENT])
    assert [(e.data["channel"], e.data["key"]) for e in sent] == [("hook", alert().key)]


def test_failed_send_is_retried_on_the_next_dispatch(store: Store, receiver: Receiver) -> None:
    dispatcher = Dispatcher(store, config(receiver))
    receiver.status = 503
    assert dispatcher.dispatch([alert()], now=T0).failed
    receiver.status = 200
    assert dispatcher.dispatch([alert()], now=T0).sent == [("hook", alert().key)]
    assert len(receiver.requests) == 2


def test_daily_digest_sends_the_day_s_alerts_together_once(
    store: Store, receiver: Receiver, smtp_server: Mailbox
) -> None:
    cfg = NotifyConfig.from_dict(
        {
            "mode": DAILY,
            "digest_hour": 8,
            "channels": [
                {"type": "webhook", "name": "hook", "url": receiver.url, "secret": "k"},
                {
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": smtp_server.port,
                    "from": "bg@example.org",
                    "to": "secops@example.org",
                },
            ],
        }
    )
    dispatcher = Dispatcher(store, cfg)
    morning = T0.replace(hour=6)  # a digest is due from 08:00 on
    yesterday = (morning - timedelta(hours=1)).isoformat()  # the last digests went out
    for name in ("hook", "email"):
        store.record_event(ev.NOTIFY_DIGEST, name, {"channel": name, "at": yesterday}, "t")
    early = dispatcher.dispatch([alert(1)], now=morning)
    assert early.sent == [] and len(early.queued) == 2
    later = dispatcher.dispatch([alert(1), alert(2)], now=morning + timedelta(hours=1))
    assert later.sent == []  # 07:00: still before the digest hour
    digest = dispatcher.dispatch([alert(1), alert(2)], now=morning + timedelta(hours=3))
    assert sorted(digest.digests) == [("email", 2), ("hook", 2)]
    (req,) = receiver.requests
    payload = json.loads(req.body)
    assert payload["digest"] is True
    assert sorted(a["key"] for a in payload["alerts"]) == sorted([alert(1).key, alert(2).key])
    assert len(smtp_server.messages) == 1
    again = dispatcher.dispatch([alert(1), alert(2)], now=morning + timedelta(days=1, hours=3))
    assert again.sent == [] and again.digests == []
    assert len(receiver.requests) == 1


def test_config_reads_secrets_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text(
        "mode: daily\n"
        "channels:\n"
        "  - type: webhook\n    url: https://hooks.example.org/x\n    secret_env: HOOK_KEY\n"
        "  - type: slack\n    url: https://hooks.slack.example/T/B/C\n"
    )
    cfg = NotifyConfig.load(path, env={"HOOK_KEY": "from-env"})
    hook = cfg.channels[0]
    assert isinstance(hook, WebhookChannel) and hook.secret == b"from-env"
    assert cfg.mode == DAILY
    with pytest.raises(MonitorError, match=r"\$HOOK_KEY, which is not set"):
        NotifyConfig.load(path, env={})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"channels": []}, "at least one channel"),
        ({"channels": [{"type": "webhook", "url": "https://x"}]}, "needs secret"),
        ({"channels": [{"type": "pager", "url": "https://x"}]}, "webhook, slack or email"),
        ({"mode": "hourly", "channels": [{"type": "slack", "url": "https://x"}]}, "mode must"),
        ({"chanels": []}, "unknown key 'chanels'"),
    ],
)
def test_bad_config_is_refused_with_the_reason(data: dict[str, Any], message: str) -> None:
    with pytest.raises(MonitorError, match=message):
        NotifyConfig.from_dict(data)


def test_yaml_aliases_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "notify.yaml"
    path.write_text("a: &x [1]\nchannels: *x\n")
    with pytest.raises(MonitorError, match="aliases are not allowed"):
        NotifyConfig.load(path, env={})
