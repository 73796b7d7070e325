"""Sending alerts: a signed JSON webhook, a Slack-compatible webhook, email over SMTP.

Each alert is sent once per channel: the :class:`Dispatcher` records a ``notify.sent``
audit event per (channel, alert key) after the channel accepted it, and skips keys already
recorded, so the same alert found on every cycle is one notification (a failed send records
nothing and is tried again on the next cycle). In ``daily`` mode alerts are recorded as
``notify.pending`` and sent together once a day, from ``digest_hour`` (UTC) on.

The webhook body is JSON; ``X-Baseguard-Signature: sha256=<hex>`` is the HMAC-SHA256, keyed
with the channel's secret, of ``<X-Baseguard-Timestamp>.`` followed by the raw body
(:func:`sign`, and :func:`verify_signature` for receivers), so a receiver can refuse forged
and replayed messages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from baseguard.monitor import events as ev
from baseguard.monitor.alerts import Alert, sort_alerts
from baseguard.monitor.errors import MonitorError, NotifyError

if TYPE_CHECKING:
    from baseguard.store import Store

SIGNATURE_HEADER = "X-Baseguard-Signature"
TIMESTAMP_HEADER = "X-Baseguard-Timestamp"
EVENT_HEADER = "X-Baseguard-Event"
IMMEDIATE, DAILY = "immediate", "daily"
#: Slack refuses messages of more than 50 blocks.
SLACK_MAX_ALERTS = 45
#: Longest audit subject written (the full key is in the event data).
SUBJECT_LENGTH = 200


# --------------------------------------------------------------------------- signing


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``b"<timestamp>." + body`` keyed with ``secret``."""
    mac = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: datetime | None = None,
    tolerance: timedelta = timedelta(minutes=5),
) -> bool:
    """True when ``signature`` is :func:`sign`'s for this body and timestamp, and the
    timestamp is within ``tolerance`` of ``now`` (a replayed old message is refused)."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    moment = (now or datetime.now(UTC)).timestamp()
    if abs(moment - stamp) > tolerance.total_seconds():
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature)


# --------------------------------------------------------------------------- channels


class Channel(Protocol):
    """Somewhere alerts go."""

    name: str

    def send(self, alerts: Sequence[Alert], *, digest: bool, now: datetime) -> None:
        """Deliver ``alerts`` as one message; raise :class:`NotifyError` on failure."""


def _payload(alerts: Sequence[Alert], *, digest: bool, now: datetime) -> dict[str, Any]:
    from baseguard import __version__

    return {
        "source": "baseguard",
        "version": __version__,
        "sentAt": now.astimezone(UTC).isoformat(),
        "digest": digest,
        "count": len(alerts),
        "alerts": [a.to_dict() for a in alerts],
    }


def _summary(alerts: Sequence[Alert], *, digest: bool) -> str:
    if digest:
        return f"baseguard daily digest: {len(alerts)} alert{'s' if len(alerts) != 1 else ''}"
    return alerts[0].title if len(alerts) == 1 else f"baseguard: {len(alerts)} alerts"


def _post(url: str, body: bytes, headers: Mapping[str, str], timeout: float, what: str) -> None:
    import httpx

    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            resp = client.post(url, content=body, headers=dict(headers))
    except httpx.HTTPError as exc:
        raise NotifyError(f"{what}: cannot reach {_safe(url)}: {exc}") from exc
    if not 200 <= resp.status_code < 300:
        raise NotifyError(
            f"{what}: {_safe(url)} answered {resp.status_code}: {resp.text[:200]}",
            hint="check the URL and the receiver's logs",
        )


def _safe(url: str) -> str:
    """The URL without its path (webhook paths are secrets, Slack's especially)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/…" if rest else url


@dataclass
class WebhookChannel:
    """JSON POST with an HMAC-SHA256 signature header."""

    url: str
    secret: bytes
    name: str = "webhook"
    timeout: float = 10.0
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, alerts: Sequence[Alert], *, digest: bool, now: datetime) -> None:
        body = json.dumps(
            _payload(alerts, digest=digest, now=now), sort_keys=True, ensure_ascii=False
        ).encode("utf-8")
        stamp = int(now.timestamp())
        headers = {
            **self.headers,
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(self.secret, stamp, body),
            EVENT_HEADER: "digest" if digest else alerts[0].kind,
        }
        _post(self.url, body, headers, self.timeout, f"webhook {self.name}")


@dataclass
class SlackChannel:
    """A Slack incoming webhook (or anything that takes Slack's ``text`` + ``blocks``)."""

    url: str
    name: str = "slack"
    timeout: float = 10.0

    def message(self, alerts: Sequence[Alert], *, digest: bool) -> dict[str, Any]:
        summary = _summary(alerts, digest=digest)
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": summary[:150]}}
        ]
        for alert in alerts[:SLACK_MAX_ALERTS]:
            icon = {"critical": ":red_circle:", "warning": ":warning:"}.get(
                alert.level, ":information_source:"
            )
            blocks.append(
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": f"{icon} *{_mrkdwn(alert.title)}*\n{_mrkdwn(alert.text)}"[:3000],
                    },
                }
            )
        if len(alerts) > SLACK_MAX_ALERTS:
            blocks.append(
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "mrkdwn",
                            "text": f"and {len(alerts) - SLACK_MAX_ALERTS} more",
                        }
                    ],
                }
            )
        return {"text": summary, "blocks": blocks}

    def send(self, alerts: Sequence[Alert], *, digest: bool, now: datetime) -> None:
        body = json.dumps(self.message(alerts, digest=digest), ensure_ascii=False).encode()
        _post(
            self.url,
            body,
            {"Content-Type": "application/json"},
            self.timeout,
            f"slack {self.name}",
        )


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass
class EmailChannel:
    """Plain-text email through an SMTP server (``smtplib``; STARTTLS or TLS optional)."""

    host: str
    sender: str
    recipients: list[str]
    port: int = 25
    starttls: bool = False
    tls: bool = False
    username: str | None = None
    password: str | None = None
    name: str = "email"
    timeout: float = 30.0

    def message(self, alerts: Sequence[Alert], *, digest: bool, now: datetime) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"[baseguard] {_summary(alerts, digest=digest)}"
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = now.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        lines = []
        for alert in alerts:
            lines += [f"[{alert.level.upper()}] {alert.title}", alert.text, f"key: {alert.key}", ""]
        msg.set_content("\n".join(lines))
        return msg

    def send(self, alerts: Sequence[Alert], *, digest: bool, now: datetime) -> None:
        msg = self.message(alerts, digest=digest, now=now)
        try:
            if self.tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(
                f"email {self.name}: {self.host}:{self.port} did not take the message: {exc}",
                hint="check the SMTP host, port, TLS settings and credentials",
            ) from exc


# --------------------------------------------------------------------------- configuration

MAX_CONFIG_BYTES = 256 * 1024


class _NoAliasLoader(yaml.SafeLoader):
    """``safe_load`` without aliases (no alias bombs in a small config file)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases are not allowed here", event.start_mark
            )
        return super().compose_node(parent, index)


def load_yaml(text: str, where: str) -> Any:
    """Parse a small YAML document safely (no tags, no aliases)."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as exc:
        raise MonitorError(f"{where}: not valid YAML: {exc}") from None


@dataclass
class NotifyConfig:
    """What ``--notify-config FILE`` says (YAML; see docs/monitoring.md)."""

    channels: list[Channel] = field(default_factory=list)
    mode: str = IMMEDIATE
    digest_hour: int = 8
    eol_warning: timedelta = timedelta(days=30)
    exception_warning: timedelta = timedelta(days=14)
    #: Alert kinds to send (None: all).
    kinds: frozenset[str] | None = None

    @classmethod
    def load(cls, path: Path, env: Mapping[str, str] | None = None) -> NotifyConfig:
        try:
            with path.open("rb") as fh:
                raw = fh.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise MonitorError(f"cannot read the notify config {path}: {exc}") from exc
        if len(raw) > MAX_CONFIG_BYTES:
            raise MonitorError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes; not a config")
        data = load_yaml(raw.decode("utf-8", errors="replace"), str(path))
        return cls.from_dict(data, where=str(path), env=os.environ if env is None else env)

    @classmethod
    def from_dict(
        cls, data: Any, *, where: str = "notify config", env: Mapping[str, str] | None = None
    ) -> NotifyConfig:
        from baseguard.catalog.model import parse_duration
        from baseguard.monitor.alerts import KINDS

        environ = os.environ if env is None else env
        if not isinstance(data, dict):
            raise MonitorError(f"{where}: must be a mapping with channels:")
        allowed = {"channels", "mode", "digest_hour", "eol_warning", "exception_warning", "kinds"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise MonitorError(
                f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
            )
        mode = data.get("mode", IMMEDIATE)
        if mode not in (IMMEDIATE, DAILY):
            raise MonitorError(f"{where}: mode must be {IMMEDIATE} or {DAILY}, not {mode!r}")
        hour = data.get("digest_hour", 8)
        if not isinstance(hour, int) or isinstance(hour, bool) or not 0 <= hour <= 23:
            raise MonitorError(f"{where}: digest_hour must be an hour 0-23 (UTC)")
        config = cls(mode=mode, digest_hour=hour)
        for key in ("eol_warning", "exception_warning"):
            if key in data:
                try:
                    setattr(config, key, parse_duration(str(data[key])))
                except ValueError as exc:
                    raise MonitorError(f"{where}: {key}: {exc}") from None
        if "kinds" in data:
            kinds = data["kinds"]
            if not isinstance(kinds, list) or any(k not in KINDS for k in kinds):
                raise MonitorError(f"{where}: kinds must be a list of {', '.join(KINDS)}")
            config.kinds = frozenset(kinds)
        channels = data.get("channels")
        if not isinstance(channels, list) or not channels:
            raise MonitorError(f"{where}: channels: must list at least one channel")
        names: set[str] = set()
        for i, item in enumerate(channels):
            channel = _channel(item, f"{where}: channels[{i}]", environ)
            if channel.name in names:
                raise MonitorError(f"{where}: channels[{i}]: the name {channel.name!r} is taken")
            names.add(channel.name)
            config.channels.append(channel)
        return config


def _secret(item: dict[str, Any], key: str, where: str, env: Mapping[str, str]) -> str | None:
    if item.get(f"{key}_env"):
        name = str(item[f"{key}_env"])
        if name not in env:
            raise MonitorError(f"{where}: {key}_env names ${name}, which is not set")
        return env[name]
    value = item.get(key)
    return str(value) if value is not None else None


def _channel(item: Any, where: str, env: Mapping[str, str]) -> Channel:
    if not isinstance(item, dict):
        raise MonitorError(f"{where}: must be a mapping with type:")
    kind = item.get("type")
    name = str(item.get("name") or kind)

    def need(key: str) -> Any:
        if item.get(key) in (None, ""):
            raise MonitorError(f"{where}: {kind} needs {key}:")
        return item[key]

    def url() -> str:
        value = str(need("url"))
        if not value.startswith(("http://", "https://")):
            raise MonitorError(f"{where}: url must be http:// or https://")
        return value

    if kind == "webhook":
        secret = _secret(item, "secret", where, env)
        if not secret:
            raise MonitorError(
                f"{where}: a webhook needs secret: or secret_env: (the HMAC key)",
                hint="the receiver checks the X-Baseguard-Signature header with it",
            )
        headers = item.get("headers") or {}
        if not isinstance(headers, dict):
            raise MonitorError(f"{where}: headers must be a mapping")
        return WebhookChannel(
            url=url(),
            secret=secret.encode("utf-8"),
            name=name,
            timeout=float(item.get("timeout", 10)),
            headers={str(k): str(v) for k, v in headers.items()},
        )
    if kind == "slack":
        return SlackChannel(url=url(), name=name, timeout=float(item.get("timeout", 10)))
    if kind == "email":
        to = need("to")
        recipients = [to] if isinstance(to, str) else to
        if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
            raise MonitorError(f"{where}: to: must be an address or a list of addresses")
        return EmailChannel(
            host=str(need("host")),
            sender=str(need("from")),
            recipients=list(recipients),
            port=int(item.get("port", 25)),
            starttls=bool(item.get("starttls", False)),
            tls=bool(item.get("tls", False)),
            username=item.get("username"),
            password=_secret(item, "password", where, env),
            name=name,
            timeout=float(item.get("timeout", 30)),
        )
    raise MonitorError(f"{where}: type must be webhook, slack or email, not {kind!r}")


# --------------------------------------------------------------------------- dispatching


@dataclass
class DispatchReport:
    """What one dispatch did, per channel: sent keys, duplicates skipped, queued for the
    digest, and failures (the channel's error)."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    queued: list[tuple[str, str]] = field(default_factory=list)
    digests: list[tuple[str, int]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": [{"channel": c, "key": k} for c, k in self.sent],
            "duplicates": len(self.duplicates),
            "queued": [{"channel": c, "key": k} for c, k in self.queued],
            "digests": [{"channel": c, "alerts": n} for c, n in self.digests],
            "failed": [{"channel": c, "error": e} for c, e in self.failed],
        }


@dataclass
class _State:
    sent: set[tuple[str, str]] = field(default_factory=set)
    pending: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    last_digest: dict[str, datetime] = field(default_factory=dict)


class Dispatcher:
    """Sends alerts to the configured channels once each (state in the audit log)."""

    def __init__(self, store: Store, config: NotifyConfig, *, actor: str = ev.ACTOR) -> None:
        self.store = store
        self.config = config
        self.actor = actor

    def _state(self) -> _State:
        state = _State()
        kinds = [ev.NOTIFY_SENT, ev.NOTIFY_PENDING, ev.NOTIFY_DIGEST]
        for event in ev.events(self.store, kinds):
            channel, key = str(event.data.get("channel")), str(event.data.get("key"))
            if event.kind == ev.NOTIFY_SENT:
                state.sent.add((channel, key))
                state.pending.pop((channel, key), None)
            elif event.kind == ev.NOTIFY_PENDING:
                alert = event.data.get("alert")
                if isinstance(alert, dict) and (channel, key) not in state.sent:
                    state.pending[(channel, key)] = alert
            else:
                at = event.data.get("at")
                state.last_digest[channel] = ev.parse_time(str(at)) if at else event.time
        return state

    def _record(self, kind: str, channel: str, key: str, data: dict[str, Any]) -> None:
        subject = f"{channel}:{key}"[:SUBJECT_LENGTH]
        self.store.record_event(kind, subject, {"channel": channel, "key": key, **data}, self.actor)

    def _sent(self, report: DispatchReport, channel: str, alert: Alert, *, digest: bool) -> None:
        """Record that ``channel`` took ``alert`` (so it is never sent there again)."""
        data = {"kind": alert.kind, "title": alert.title, "digest": digest}
        self._record(ev.NOTIFY_SENT, channel, alert.key, data)
        report.sent.append((channel, alert.key))

    def digest_due(self, channel: str, last: datetime | None, now: datetime) -> bool:
        """Once a day, from ``digest_hour`` UTC on."""
        today = now.astimezone(UTC).replace(
            hour=self.config.digest_hour, minute=0, second=0, microsecond=0
        )
        slot = today if now >= today else today - timedelta(days=1)
        return last is None or last < slot

    def dispatch(self, alerts: Iterable[Alert], *, now: datetime | None = None) -> DispatchReport:
        moment = now or datetime.now(UTC)
        wanted = [
            a
            for a in sort_alerts(alerts)
            if self.config.kinds is None or a.kind in self.config.kinds
        ]
        state = self._state()
        report = DispatchReport()
        for channel in self.config.channels:
            fresh: list[Alert] = []
            for alert in wanted:
                slot = (channel.name, alert.key)
                if slot in state.sent or slot in state.pending:
                    report.duplicates.append(slot)
                else:
                    fresh.append(alert)
            if self.config.mode == IMMEDIATE:
                for alert in fresh:
                    try:
                        channel.send([alert], digest=False, now=moment)
                    except NotifyError as exc:
                        report.failed.append((channel.name, exc.message))
                        continue
                    self._sent(report, channel.name, alert, digest=False)
                continue
            for alert in fresh:
                self._record(ev.NOTIFY_PENDING, channel.name, alert.key, {"alert": alert.to_dict()})
                state.pending[(channel.name, alert.key)] = alert.to_dict()
                report.queued.append((channel.name, alert.key))
            waiting = sort_alerts(
                Alert.from_dict(a) for (name, _), a in state.pending.items() if name == channel.name
            )
            if not waiting or not self.digest_due(
                channel.name, state.last_digest.get(channel.name), moment
            ):
                continue
            try:
                channel.send(waiting, digest=True, now=moment)
            except NotifyError as exc:
                report.failed.append((channel.name, exc.message))
                continue
            for alert in waiting:
                self._sent(report, channel.name, alert, digest=True)
            self.store.record_event(
                ev.NOTIFY_DIGEST,
                channel.name,
                {"channel": channel.name, "alerts": len(waiting), "at": moment.isoformat()},
                self.actor,
            )
            report.digests.append((channel.name, len(waiting)))
        return report
