"""Following sites: who follows what, their e-mail address (confirmed or not) and how they want to hear.

A follower is a signed-in user (their sign-in provider's issuer and subject are kept, so
that what they are sent is decided by the role they have *when* a message is made, never
by the role they had when they followed) or the one local user of an app with no sign-in.
The public (not signed in) cannot follow.

E-mail goes only to a confirmed address: the address the sign-in provider verified is
confirmed; any other address is sent one confirmation message with a link, and nothing
else until the link is opened. Sign-ups are rate-limited per follower and for everyone.
Every e-mail carries a one-click unsubscribe link (the follower's ``unsubscribe_token``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from assets_map.io.report import InputError
from assets_map.store import casework
from assets_map.store.base import Store, StoreError
from assets_map.store.roles import LOCAL_USER, Identity, NotAllowed, Role

#: Sign-ups (an e-mail address given for confirmation) allowed per follower and for everyone, per window.
SIGNUP_LIMITS = {"follower": 3, "all": 50}
SIGNUP_WINDOW_S = 3600
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


class RateLimited(StoreError):
    """Too many sign-ups or messages in the window; nothing was done."""


@dataclass(frozen=True)
class Follower:
    """One follower as the register holds them."""

    follower: str
    email: str | None
    confirmed: bool
    delivery: str
    unsubscribe_token: str
    local: bool = False
    issuer: str | None = None
    subject: str | None = None
    sign_in_email: str | None = None


def _require_signed_in(role: Role) -> None:
    if role.is_public and not role.local and role.user == "public":
        raise NotAllowed("sign in to follow a site (the public view cannot follow sites)")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _ensure_follower(tx, role: Role, identity: Identity | None) -> None:
    row = tx.one("SELECT follower FROM followers WHERE follower = ?", [role.user])
    if row is not None:
        if identity is not None:
            tx.x("UPDATE followers SET issuer = ?, subject = ?, sign_in_email = ? WHERE follower = ?",
                 [identity.issuer, identity.subject, identity.email, role.user])
        return
    email = identity.email if identity is not None else None
    tx.x("INSERT INTO followers (follower, issuer, subject, sign_in_email, local, email, email_confirmed_at, "
         "unsubscribe_token, delivery, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'immediate', ?)",
         [role.user, identity.issuer if identity else None, identity.subject if identity else None, email,
          1 if role.local else 0, email, casework.now() if email else None, secrets.token_urlsafe(24),
          casework.now()])


def follow(store: Store, asset_id: str, *, role: Role, identity: Identity | None = None, group: str | None = None,
           steward: str | None = None) -> None:
    """Follow a site (again: updates the group and steward contact).

    Parameters
    ----------
    asset_id : a site the role may see
    role : the signed-in user (or the local user)
    identity : their verified sign-in (issuer, subject, verified e-mail), kept to decide their role later
    group : the community group following it, if any
    steward : the group's steward contact (a name, phone or e-mail)
    """
    _require_signed_in(role)
    if store.get(asset_id, role) is None:
        raise StoreError(f"there is no site {asset_id!r} you can see to follow")
    problems = [f"{label} is longer than 200 characters" for label, v in (("the group", group), ("the steward", steward))
                if v and len(v) > 200]
    if problems:
        raise InputError(problems)
    casework.ensure(store)
    with store._write() as tx:
        _ensure_follower(tx, role, identity)
        tx.x("INSERT INTO follows (follower, asset_id, group_name, steward, created_at) VALUES (?, ?, ?, ?, ?) "
             "ON CONFLICT (follower, asset_id) DO UPDATE SET group_name = excluded.group_name, "
             "steward = excluded.steward",
             [role.user, asset_id, (group or "").strip() or None, (steward or "").strip() or None, casework.now()])


def unfollow(store: Store, asset_id: str, *, role: Role) -> bool:
    """Stop following a site; True when it was followed."""
    casework.ensure(store)
    with store._write() as tx:
        cur = tx.x("DELETE FROM follows WHERE follower = ? AND asset_id = ?", [role.user, asset_id])
        return cur.rowcount > 0


def following(store: Store, *, role: Role) -> list[dict]:
    """The sites ``role`` follows: asset_id, group, steward and since when."""
    if not casework.has_tables(store):
        return []
    with store._read() as tx:
        rows = tx.q("SELECT asset_id, group_name, steward, created_at FROM follows WHERE follower = ? "
                    "ORDER BY created_at", [role.user])
    return [dict(zip(("asset_id", "group", "steward", "since"), r, strict=True)) for r in rows]


def is_following(store: Store, asset_id: str, *, role: Role) -> bool:
    """True when ``role`` follows ``asset_id``."""
    return any(f["asset_id"] == asset_id for f in following(store, role=role))


def followers_of(store: Store, asset_id: str) -> list[str]:
    """Who follows a site (for the owner's count; never shown to the public)."""
    if not casework.has_tables(store):
        return []
    with store._read() as tx:
        return [r[0] for r in tx.q("SELECT follower FROM follows WHERE asset_id = ? ORDER BY follower", [asset_id])]


def follower(store: Store, name: str) -> Follower | None:
    """A follower's settings (None when they never followed anything)."""
    if not casework.has_tables(store):
        return None
    with store._read() as tx:
        r = tx.one("SELECT follower, email, email_confirmed_at, delivery, unsubscribe_token, local, issuer, subject, "
                   "sign_in_email FROM followers WHERE follower = ?", [name])
    if r is None:
        return None
    return Follower(r[0], r[1], r[2] is not None, r[3], r[4], bool(r[5]), r[6], r[7], r[8])


def role_now(store: Store, f: Follower) -> Role:
    """The role a follower has now: the local user, their signed-in role, or a viewer (never more)."""
    if f.local:
        return LOCAL_USER
    if f.issuer and f.subject:
        # Only what the sign-in provider vouched for gives a role (an address confirmed by link gives none).
        return store.role_for(Identity(f.issuer, f.subject, f.sign_in_email))
    return Role("viewer", f.follower)


def set_delivery(store: Store, delivery: str, *, role: Role) -> None:
    """Immediate e-mail, a digest, or the inbox only."""
    if delivery not in casework.DELIVERIES:
        raise InputError(f"delivery must be one of {', '.join(casework.DELIVERIES)} (got {delivery!r})")
    casework.ensure(store)
    with store._write() as tx:
        _ensure_follower(tx, role, None)
        tx.x("UPDATE followers SET delivery = ? WHERE follower = ?", [delivery, role.user])


def set_email(store: Store, email: str, *, role: Role, identity: Identity | None = None) -> str | None:
    """Give the address messages go to; returns a confirmation token to send, or None when already confirmed.

    The address the sign-in provider verified (``identity.email``) is confirmed at once. Any
    other address waits for its confirmation link (:func:`confirm_email`); until then it is
    sent nothing else. Sign-ups are limited to :data:`SIGNUP_LIMITS` per follower and for
    everyone in :data:`SIGNUP_WINDOW_S` seconds.

    Raises
    ------
    InputError : not an e-mail address
    RateLimited : too many sign-ups; nothing was changed
    """
    _require_signed_in(role)
    address = (email or "").strip().lower().removeprefix("mailto:")
    if not _EMAIL.match(address) or len(address) > 254:
        raise InputError(f"{email!r} is not an e-mail address (name@example.org)")
    casework.ensure(store)
    now = dt.datetime.now(dt.timezone.utc)
    verified = identity is not None and identity.email and identity.email.lower() == address
    with store._write() as tx:
        _ensure_follower(tx, role, identity)
        if verified:
            tx.x("UPDATE followers SET email = ?, email_confirmed_at = ?, confirm_token = NULL WHERE follower = ?",
                 [address, casework.now(), role.user])
            return None
        since = (now - dt.timedelta(seconds=SIGNUP_WINDOW_S)).isoformat(timespec="milliseconds")
        mine = tx.one("SELECT COUNT(*) FROM notify_log WHERE kind = 'signup' AND who = ? AND at >= ?",
                      [role.user, since])[0]
        if mine >= SIGNUP_LIMITS["follower"]:
            raise RateLimited(f"you have given {mine} e-mail addresses in the last hour, the most we take: "
                              "please wait an hour and try again")
        everyone = tx.one("SELECT COUNT(*) FROM notify_log WHERE kind = 'signup' AND at >= ?", [since])[0]
        if everyone >= SIGNUP_LIMITS["all"]:
            raise RateLimited("too many people have signed up for e-mail in the last hour: please try again later")
        token = secrets.token_urlsafe(24)
        tx.x("UPDATE followers SET email = ?, email_confirmed_at = NULL, confirm_token = ?, confirm_sent_at = ? "
             "WHERE follower = ?", [address, _hash(token), casework.now(), role.user])
        tx.x("INSERT INTO notify_log (at, kind, who) VALUES (?, 'signup', ?)", [casework.now(), role.user])
    return token


def confirm_email(store: Store, token: str) -> str | None:
    """Confirm the address a confirmation link was sent to; returns the address (None: unknown or used link)."""
    if not token or not casework.has_tables(store):
        return None
    with store._write() as tx:
        row = tx.one("SELECT follower, email FROM followers WHERE confirm_token = ?", [_hash(token)])
        if row is None:
            return None
        tx.x("UPDATE followers SET email_confirmed_at = ?, confirm_token = NULL WHERE follower = ?",
             [casework.now(), row[0]])
    return row[1]


def unsubscribe(store: Store, token: str) -> str | None:
    """One click from an e-mail: no more e-mail to that follower (the inbox stays); returns who (None: unknown link)."""
    if not token or not casework.has_tables(store):
        return None
    with store._write() as tx:
        row = tx.one("SELECT follower FROM followers WHERE unsubscribe_token = ?", [token])
        if row is None:
            return None
        tx.x("UPDATE followers SET delivery = 'inbox' WHERE follower = ?", [row[0]])
        tx.x("UPDATE inbox SET email_state = 'none' WHERE follower = ? AND email_state = 'pending'", [row[0]])
    return row[0]
