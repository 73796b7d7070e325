"""API tokens for the service: a name, a role, and the SHA-256 of a random secret.

The secret is shown once, when :func:`create_token` makes it; the store keeps only its hash,
so a copy of the database gives no usable token. Tokens are 256 random bits, so a plain
SHA-256 (no slow password hash) is enough: nothing can be guessed. Creating and revoking a
token are audited in the same transaction as the change (``token.create``, ``token.revoke``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, String, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from baseguard.store.errors import StoreError
from baseguard.store.models import KEY_LENGTH, Base, UTCDateTime

if TYPE_CHECKING:
    from baseguard.store.store import Store

#: Roles, weakest first: each includes what the ones before it may do. ``uploader`` is for CI:
#: it reads and pushes analyses, and cannot approve.
ROLES = ("viewer", "uploader", "approver", "admin")
#: Every token starts with this, so that a leaked one is easy to recognise (secret scanners).
PREFIX = "bgt_"
TOKEN_CREATE = "token.create"
TOKEN_REVOKE = "token.revoke"


class ApiTokenRow(Base):
    """One API token: its name (the audit actor), role and secret's hash."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(KEY_LENGTH))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


@dataclass(frozen=True)
class TokenInfo:
    """A token without its secret."""

    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None

    def allows(self, role: str) -> bool:
        """Whether this token's role includes ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "createdAt": self.created_at.isoformat(),
            "createdBy": self.created_by,
            "revokedAt": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _check(name: str, role: str) -> None:
    if role not in ROLES:
        raise StoreError(f"unknown role {role!r}", hint=f"choose one of {', '.join(ROLES)}")
    if not name or not name.strip() or len(name) > KEY_LENGTH:
        raise StoreError(f"a token name must be 1 to {KEY_LENGTH} characters")


def create_token(store: Store, name: str, role: str, *, actor: str) -> str:
    """Make a token called ``name`` with ``role``; returns its secret (shown only now)."""
    _check(name, role)
    secret = PREFIX + secrets.token_urlsafe(32)
    with store._write(f"create token {name}") as session:
        taken = session.execute(
            select(ApiTokenRow.id).where(ApiTokenRow.name == name)
        ).scalar_one_or_none()
        if taken is not None:
            raise StoreError(
                f"a token called {name!r} exists", hint="choose another --name, or revoke it"
            )
        session.execute(
            insert(ApiTokenRow).values(
                name=name,
                role=role,
                token_hash=hash_token(secret),
                created_at=store._now(),
                created_by=actor,
                revoked_at=None,
            )
        )
        store._append(session, TOKEN_CREATE, name, {"name": name, "role": role}, actor)
    return secret


def find_token(store: Store, secret: str) -> TokenInfo | None:
    """The live (not revoked) token whose secret is ``secret``, or ``None``."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    with store._read("look up an API token") as session:
        row = session.execute(
            select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_token(secret))
        ).scalar_one_or_none()
        if row is None or row.revoked_at is not None:
            return None
        return _info(row)


def list_tokens(store: Store) -> list[TokenInfo]:
    """Every token (revoked ones too), by name."""
    with store._read("list API tokens") as session:
        return [_info(r) for r in session.scalars(select(ApiTokenRow).order_by(ApiTokenRow.name))]


def revoke_token(store: Store, name: str, *, actor: str) -> bool:
    """Revoke the token ``name``; False when there is no live token of that name."""
    with store._write(f"revoke token {name}") as session:
        result = session.execute(
            update(ApiTokenRow)
            .where(ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None))
            .values(revoked_at=store._now())
        )
        if not getattr(result, "rowcount", 0):
            return False
        store._append(session, TOKEN_REVOKE, name, {"name": name}, actor)
        return True


def _info(row: ApiTokenRow) -> TokenInfo:
    return TokenInfo(row.name, row.role, row.created_at, row.created_by, row.revoked_at)
