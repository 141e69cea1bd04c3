"""Telling followers what changed: the in-app inbox, and e-mail through the deployment's SMTP server.

:func:`after_change` runs after every change the register commits (an edit, an accepted
correction, an import): each new history row that changes a followed site's status, or
takes it off the register, becomes an inbox item for every follower who may see that
change *with the role they have now*. A follower who may see only the public view is told
only what the public view shows now (the site's public name and status): no message ever
carries a field the follower may not see. Transfer-case stages and ACV listings post their
own items (:func:`post`).

E-mail is sent only when the deployment configures an SMTP server (:class:`SmtpSettings`,
from ``ASSETS_MAP_SMTP_*``); without one the inbox is the only delivery. Only confirmed
addresses are e-mailed; each follower gets at most :data:`EMAIL_LIMITS` e-mails an hour
(the rest wait for the next digest), every e-mail has a one-click unsubscribe link and
``List-Unsubscribe`` headers (RFC 8058).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Callable, Iterable

from assets_map.store import base, casework, codec
from assets_map.store.base import Store, StoreError
from assets_map.store.follow import Follower, follower, role_now
from assets_map.store.roles import Role

_LOG = logging.getLogger(__name__)
#: E-mails one follower is sent in an hour at most (beyond: they wait for the digest), and by the service.
EMAIL_LIMITS = {"follower": 6, "all": 500}
STATUS_WORDS = {"occupied": "in use", "vacant": "vacant", "surplus": "declared surplus", "part-vacant": "partly vacant",
                "leased-out": "leased out", "sold": "sold", "not-available": "not available for transfer",
                "unknown": "not known"}
#: History changes a follower is told about.
WATCHED = ("status", "removed")


@dataclass(frozen=True)
class SmtpSettings:
    """Where e-mail goes: the deployment's SMTP server.

    Read by :meth:`from_env` from ``ASSETS_MAP_SMTP_HOST`` (none: no e-mail, inbox only),
    ``ASSETS_MAP_SMTP_PORT`` (25), ``ASSETS_MAP_SMTP_FROM`` (the sender address, required with
    a host), ``ASSETS_MAP_SMTP_USER`` / ``ASSETS_MAP_SMTP_PASSWORD`` (optional login),
    ``ASSETS_MAP_SMTP_TLS`` (``starttls``, ``ssl`` or ``none``; default ``starttls`` when a
    login is given) and ``ASSETS_MAP_PUBLIC_URL`` (the app's address, for links in e-mails).
    """

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    tls: str = "none"
    public_url: str = "http://localhost:8501"

    @classmethod
    def from_env(cls, env: dict | None = None) -> "SmtpSettings | None":
        """The configured server, or None when e-mail is not set up."""
        env = os.environ if env is None else env
        host = env.get("ASSETS_MAP_SMTP_HOST", "").strip()
        if not host:
            return None
        sender = env.get("ASSETS_MAP_SMTP_FROM", "").strip()
        if "@" not in sender:
            raise StoreError("ASSETS_MAP_SMTP_FROM must be the sender's e-mail address when ASSETS_MAP_SMTP_HOST is set")
        user = env.get("ASSETS_MAP_SMTP_USER", "").strip() or None
        tls = env.get("ASSETS_MAP_SMTP_TLS", "").strip().lower() or ("starttls" if user else "none")
        if tls not in ("starttls", "ssl", "none"):
            raise StoreError(f"ASSETS_MAP_SMTP_TLS must be starttls, ssl or none (got {tls!r})")
        try:
            port = int(env.get("ASSETS_MAP_SMTP_PORT", "") or (465 if tls == "ssl" else 25))
        except ValueError:
            raise StoreError("ASSETS_MAP_SMTP_PORT must be a port number") from None
        return cls(host, port, sender, user, env.get("ASSETS_MAP_SMTP_PASSWORD") or None, tls,
                   (env.get("ASSETS_MAP_PUBLIC_URL", "").strip() or "http://localhost:8501").rstrip("/"))

    def send(self, messages: Iterable[EmailMessage]) -> None:
        """Send messages over one connection."""
        messages = list(messages)
        if not messages:
            return
        context = ssl.create_default_context()
        conn = smtplib.SMTP_SSL(self.host, self.port, context=context, timeout=30) if self.tls == "ssl" \
            else smtplib.SMTP(self.host, self.port, timeout=30)
        with conn:
            if self.tls == "starttls":
                conn.starttls(context=context)
            if self.user:
                conn.login(self.user, self.password or "")
            for m in messages:
                conn.send_message(m)


def email_setup() -> str:
    """One line for the page: whether e-mail is set up here."""
    try:
        smtp = SmtpSettings.from_env()
    except StoreError as exc:
        return f"E-mail is not working on this service ({exc}): messages stay in your inbox here."
    if smtp is None:
        return "E-mail is not set up on this service: messages stay in your inbox here."
    return "Messages are also e-mailed to your confirmed address, as you choose below."


# ----------------------------------------------------------------------- making items
def _status_words(s: object) -> str:
    return STATUS_WORDS.get(str(s), str(s).replace("-", " ")) if s else "not recorded"


def _item_for(role: Role, org: str, kind: str, changes: dict, state: dict, public: dict | None,
              asset_id: str) -> tuple[str, str] | None:
    """The (title, body) one follower is told about one history row, from what their role may see; None: nothing."""
    if not any(k in changes for k in WATCHED) and kind != "correction":
        return None
    if role.sees_internal(org):
        name = state.get("name") or f"site {asset_id}"
        if "removed" in changes:
            gone = changes["removed"][1]
            return (f"{name}: {'no longer in the register' if gone else 'back in the register'}",
                    f"{name} ({asset_id}) is {'no longer' if gone else 'again'} in its owner's register.")
        if "status" in changes:
            old, new = changes["status"]
            verb = "A correction was accepted: " if kind == "correction" else ""
            return (f"{name}: now {_status_words(new)}",
                    f"{verb}{name} ({asset_id}) is now {_status_words(new)} (it was {_status_words(old)}).")
        return (f"{name}: a correction was accepted", f"A correction to {name} ({asset_id}) was accepted.")
    # The public view now: the change is told only when the public sees its result.
    if public is None:
        return None
    name = public.get("name") or f"site {asset_id}"
    if "status" in changes:
        new = changes["status"][1]
        if public.get("status") != new:
            return None
        verb = "A correction was accepted: " if kind == "correction" else ""
        return f"{name}: now {_status_words(new)}", f"{verb}{name} ({asset_id}) is now {_status_words(new)}."
    return None


def after_change(store: Store) -> int:
    """Inbox items for the changes committed since the last call, then immediate e-mail; returns items made.

    Never raises: a failure here is logged and the change it follows stays committed (the
    items are made on the next call, from the history).
    """
    try:
        if not casework.has_tables(store):
            return 0
        with store._read() as tx:  # nobody follows anything: nothing to tell (one cheap read per change)
            if tx.one("SELECT 1 FROM follows LIMIT 1") is None:
                return 0
        made = make_items(store)
        deliver_quietly(store)
        return made
    except Exception:  # noqa: BLE001 - a change is never undone by a notification that failed
        _LOG.exception("notifying followers failed; it is tried again after the next change")
        return 0


def make_items(store: Store) -> int:
    """Turn new history rows of followed sites into inbox items (each once); returns how many were made."""
    casework.ensure(store)
    with store._read() as tx:
        mark = tx.one("SELECT value FROM notify_state WHERE key = 'history'")
        last = int(mark[0]) if mark else 0
        rows = tx.q("SELECT h.id, h.asset_id, h.at, h.kind, h.changes, h.state, a.organisation, f.follower "
                    "FROM history h JOIN follows f ON f.asset_id = h.asset_id JOIN assets a ON a.asset_id = h.asset_id "
                    "WHERE h.id > ? AND h.at >= f.created_at ORDER BY h.id, f.follower", [last])
        top = tx.one("SELECT COALESCE(MAX(id), 0) FROM history")[0]
    roles: dict[str, Role] = {}
    public: dict[tuple[str, str], dict | None] = {}
    items = []
    for hid, asset_id, at, kind, changes, state, org, who in rows:
        if who not in roles:
            f = follower(store, who)
            roles[who] = role_now(store, f) if f else Role("viewer", who)
        role = roles[who]
        key = (who, asset_id)
        if key not in public and not role.sees_internal(org):
            public[key] = store.get(asset_id, role)
        made = _item_for(role, org, kind, codec.loads(changes) or {}, codec.loads(state) or {}, public.get(key),
                         asset_id)
        if made:
            items.append([who, asset_id, at, "status" if kind != "correction" else "correction", made[0], made[1],
                          f"history:{hid}"])
    with store._write() as tx:
        if items:
            tx.many("INSERT INTO inbox (follower, asset_id, at, kind, title, body, source_key) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?) ON CONFLICT (follower, source_key) DO NOTHING", items)
        tx.x("DELETE FROM notify_state WHERE key = 'history'")
        tx.x("INSERT INTO notify_state (key, value) VALUES ('history', ?)", [str(max(int(top), last))])
    return len(items)


def post(store: Store, asset_id: str, *, kind: str, source_key: str,
         message: Callable[[Role], tuple[str, str] | None]) -> int:
    """An item for every follower of ``asset_id``, worded by ``message(role)`` for each (None: not for them).

    Used by transfer cases (a stage change) and ACV listings (a new listing, a notification
    to sell); ``message`` decides from the follower's current role what they may be told.
    """
    casework.ensure(store)
    with store._read() as tx:
        who = [r[0] for r in tx.q("SELECT follower FROM follows WHERE asset_id = ?", [asset_id])]
    items = []
    for w in who:
        f = follower(store, w)
        role = role_now(store, f) if f else Role("viewer", w)
        if store.get(asset_id, role) is None:
            continue
        made = message(role)
        if made:
            items.append([w, asset_id, casework.now(), kind, made[0], made[1], source_key])
    if items:
        with store._write() as tx:
            tx.many("INSERT INTO inbox (follower, asset_id, at, kind, title, body, source_key) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?) ON CONFLICT (follower, source_key) DO NOTHING", items)
        deliver_quietly(store)
    return len(items)


def deliver_quietly(store: Store) -> int:
    """:func:`deliver`, logging instead of raising: the change it follows is committed, and the items wait."""
    try:
        return deliver(store)
    except (OSError, smtplib.SMTPException, StoreError) as exc:
        _LOG.error("e-mail to followers could not be sent (%s: %s); the items wait for the next delivery",
                   type(exc).__name__, " ".join(str(exc).split()))
        return 0


# ------------------------------------------------------------------------ the inbox
def inbox(store: Store, *, role: Role, unread_only: bool = False) -> list[dict]:
    """``role``'s inbox, newest first."""
    if not casework.has_tables(store):
        return []
    where = " AND read_at IS NULL" if unread_only else ""
    keys = ("id", "asset_id", "at", "kind", "title", "body", "read_at", "email_state", "emailed_at")
    with store._read() as tx:
        rows = tx.q(f"SELECT {', '.join(keys)} FROM inbox WHERE follower = ?{where} ORDER BY id DESC", [role.user])
    return [dict(zip(keys, r, strict=True)) for r in rows]


def mark_read(store: Store, item_ids: Iterable[int], *, role: Role) -> None:
    """Mark inbox items read (only the role's own)."""
    ids = [int(i) for i in item_ids]
    if not ids:
        return
    with store._write() as tx:
        tx.x(f"UPDATE inbox SET read_at = ? WHERE follower = ? AND read_at IS NULL AND id IN ({','.join('?' * len(ids))})",
             [casework.now(), role.user, *ids])


# ------------------------------------------------------------------------- e-mail
def _message(smtp: SmtpSettings, f: Follower, items: list[tuple], digest: bool) -> EmailMessage:
    m = EmailMessage()
    m["From"] = smtp.sender
    m["To"] = f.email
    unsubscribe = f"{smtp.public_url}/?unsubscribe={f.unsubscribe_token}"
    if digest:
        m["Subject"] = f"assets-map: {len(items)} change{'s' if len(items) != 1 else ''} to sites you follow"
    else:  # a site's name is the register's text: one line, whatever it holds
        m["Subject"] = "assets-map: " + " ".join(str(items[0][2]).split())[:200]
    m["List-Unsubscribe"] = f"<{unsubscribe}>"
    m["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    lines = []
    for _, asset_id, title, body, at in items:
        lines += [title, body, f"{at[:10]} · {smtp.public_url}/?site={asset_id}", ""]
    lines += ["You follow these sites on assets-map.", f"Stop these e-mails with one click: {unsubscribe}"]
    m.set_content("\n".join(lines))
    return m


def _sent_recently(tx, who: str | None) -> int:
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).isoformat(timespec="milliseconds")
    if who is None:
        return tx.one("SELECT COUNT(*) FROM notify_log WHERE kind = 'email' AND at >= ?", [since])[0]
    return tx.one("SELECT COUNT(*) FROM notify_log WHERE kind = 'email' AND who = ? AND at >= ?", [who, since])[0]


def deliver(store: Store, *, digest: bool = False, smtp: SmtpSettings | None = None) -> int:
    """E-mail pending items: immediate followers now; with ``digest``, every follower's pending items as one e-mail.

    Items of followers who receive no e-mail (inbox only, no confirmed address) are settled
    as ``none``; with no SMTP server configured nothing is sent and items stay in the inbox.
    Returns the number of e-mails sent.
    """
    smtp = smtp or SmtpSettings.from_env()
    casework.ensure(store)
    with store._write() as tx:  # who gets no e-mail at all: settled, so a later address never sends old news
        tx.x("UPDATE inbox SET email_state = 'none' WHERE email_state = 'pending' AND follower IN (SELECT follower "
             "FROM followers WHERE delivery = 'inbox' OR email IS NULL OR email_confirmed_at IS NULL)")
    if smtp is None:
        return 0
    with store._read() as tx:
        rows = tx.q("SELECT i.id, i.asset_id, i.title, i.body, i.at, i.follower, f.delivery FROM inbox i JOIN followers f "
                    "ON f.follower = i.follower WHERE i.email_state = 'pending' ORDER BY i.follower, i.id")
        everyone = _sent_recently(tx, None)
    by_follower: dict[str, list[tuple]] = {}
    for r in rows:
        if r[6] == "immediate" or digest:
            by_follower.setdefault(r[5], []).append(r)
    sent = 0
    for who, items in by_follower.items():
        f = follower(store, who)
        if f is None or not f.confirmed or not f.email:
            continue
        with store._read() as tx:
            mine = _sent_recently(tx, who)
        if everyone + sent >= EMAIL_LIMITS["all"]:
            _LOG.warning("the hourly e-mail limit (%s) is reached; the rest wait", EMAIL_LIMITS["all"])
            break
        if digest or f.delivery == "digest":
            batches = [items]
        else:
            room = max(0, EMAIL_LIMITS["follower"] - mine)
            batches = [[i] for i in items[:room]]  # the rest wait for the digest
        for batch in batches:
            msg = _message(smtp, f, [(i[0], i[1], i[2], i[3], i[4]) for i in batch], digest=len(batch) > 1 or digest)
            smtp.send([msg])
            with store._write() as tx:
                ids = [i[0] for i in batch]
                tx.x(f"UPDATE inbox SET email_state = 'sent', emailed_at = ? WHERE id IN ({','.join('?' * len(ids))})",
                     [casework.now(), *ids])
                tx.x("INSERT INTO notify_log (at, kind, who) VALUES (?, 'email', ?)", [casework.now(), who])
            sent += 1
    return sent


def send_confirmation(store: Store, who: str, token: str, *, smtp: SmtpSettings | None = None) -> bool:
    """E-mail the confirmation link of a new address (the only message an unconfirmed address gets)."""
    smtp = smtp or SmtpSettings.from_env()
    f = follower(store, who)
    if smtp is None or f is None or not f.email:
        return False
    m = EmailMessage()
    m["From"], m["To"] = smtp.sender, f.email
    m["Subject"] = "assets-map: confirm your e-mail address"
    m.set_content(f"Someone (we hope you) asked for news of sites they follow on assets-map to be sent here.\n\n"
                  f"Confirm with this link: {smtp.public_url}/?confirm={token}\n\n"
                  f"If it was not you, ignore this message: nothing more will be sent.")
    smtp.send([m])
    return True


if after_change not in base.AFTER_CHANGE:
    base.AFTER_CHANGE.append(after_change)
