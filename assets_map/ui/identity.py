"""Who is visiting, decided only from what a visitor cannot forge.

* With no sign-in configured (no ``[auth]`` section in ``.streamlit/secrets.toml``),
  a visitor is the local user with full access only when their browser is on this
  machine: the TCP peer of the session's WebSocket is a loopback address, no proxy
  header says the request was forwarded, and the ``Host`` and ``Origin`` the browser
  sent name this machine's loopback (so a page on another site that rebinds its
  name to 127.0.0.1 is not "local" either). Anyone else, and any visitor whose
  connection cannot be read, is the public viewer.
* With sign-in configured, a visitor's role comes from the store's users table,
  matched only on claims the provider vouched for: the issuer with the subject, or
  an e-mail address the provider marked verified (:func:`assets_map.store.roles.identity_from_claims`).

:func:`visitor_role` is what pages use (the Register page, budgets for public
visitors); :func:`visitor` also says which mode the app is in, for the line every
page shows in the sidebar.
"""
from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

import streamlit as st

from assets_map.store import LOCAL_USER, PUBLIC, Role, StoreError, open_store
from assets_map.store.roles import identity_from_claims

_LOG = logging.getLogger(__name__)

#: Headers a reverse proxy adds: a request carrying any of them did not come from a browser on this machine.
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "via",
                 "x-original-forwarded-for", "true-client-ip", "cf-connecting-ip")


@dataclass(frozen=True)
class Peer:
    """The visitor's connection: the TCP peer address and the headers of the WebSocket handshake.

    Parameters
    ----------
    remote_ip : str or None
        The address of the other end of the TCP connection (None when unknown).
    headers : mapping of str to tuple of str
        Header values by lower-cased name (a header may repeat).
    """

    remote_ip: str | None
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Visitor:
    """A visitor's role, the mode the app is in for them, and why (one line) when it is less than expected."""

    role: Role
    mode: str  # "local", "public" or "signed-in"
    note: str | None = None

    def line(self) -> str:
        """The one line every page shows: which mode the app is in for this visitor."""
        if self.mode == "local":
            text = "Local mode: full access on this machine (no sign-in configured)."
        elif self.mode == "signed-in":
            text = f"Signed in as {self.role.describe()}."
        else:
            text = "Public view: public sites and fields only."
        return text + (f" {self.note}" if self.note else "")


def peer() -> Peer:
    """The current session's connection, as Streamlit's server recorded it (unknown outside a server)."""
    try:
        from streamlit.runtime import exists, get_instance
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        if ctx is None or not exists():
            return Peer(None)
        client = get_instance().get_client(ctx.session_id)
        context = getattr(client, "client_context", None)
        if context is None:
            return Peer(None)
        headers: dict[str, tuple[str, ...]] = {}
        for name, value in context.headers:
            headers[name.lower()] = headers.get(name.lower(), ()) + (str(value),)
        return Peer(context.remote_ip, headers)
    except Exception:  # any surprise in Streamlit's internals: the peer is unknown, so public
        _LOG.warning("could not read the visitor's connection; treating them as public", exc_info=True)
        return Peer(None)


def _loopback_ip(text: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((text or "").strip().strip("[]"))
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def _loopback_host(host: str | None) -> bool:
    """True when a host name (no port) names this machine's loopback: localhost or a loopback address."""
    host = (host or "").strip().rstrip(".").lower()
    return host == "localhost" or host.endswith(".localhost") or _loopback_ip(host)


def is_local(p: Peer) -> bool:
    """True only for a browser on this machine talking to the app directly.

    The TCP peer must be a loopback address; no proxy header may be present (a
    reverse proxy on this machine also connects from loopback); and the ``Host``
    and ``Origin`` headers, when sent, must name a loopback host.
    """
    if not _loopback_ip(p.remote_ip):
        return False
    if any(name in p.headers for name in PROXY_HEADERS):
        return False
    for host in p.headers.get("host", ()):
        if not _loopback_host(urlsplit("//" + host).hostname):
            return False
    for origin in p.headers.get("origin", ()):
        if origin == "null" or not _loopback_host(urlsplit(origin).hostname):
            return False
    return True


def auth_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section (sign-in with OIDC through st.login)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def visitor(store=None) -> Visitor:
    """The current visitor: role, mode and a one-line note.

    Parameters
    ----------
    store : Store, optional
        The register (its users table gives signed-in users their roles); the
        app's shared store handle when omitted. Only read for a signed-in user.

    Returns
    -------
    Visitor
        Never raises: a connection or store that cannot be read gives the public view.
    """
    if not auth_configured():
        if is_local(peer()):
            return Visitor(LOCAL_USER, "local")
        return Visitor(PUBLIC, "public", "Sign-in is not configured, so only a browser on the server itself may edit.")
    if not st.user.is_logged_in:
        return Visitor(PUBLIC, "public")
    identity, note = identity_from_claims(st.user.to_dict())
    if identity is None:
        return Visitor(PUBLIC, "public", note)
    try:
        role = (store if store is not None else shared_store()).role_for(identity)
    except Exception as exc:  # the register is unreachable (or worse): fail closed, details in the server log
        _LOG.warning("could not look up the role of %s: %s", identity.name, exc,
                     exc_info=not isinstance(exc, StoreError))
        return Visitor(PUBLIC, "public", "Your role could not be looked up just now, so this is the public view.")
    return Visitor(role, "signed-in", note)


def visitor_role(store=None) -> Role:
    """The current visitor's :class:`~assets_map.store.Role` (see :func:`visitor`); the public viewer when in doubt."""
    return visitor(store).role


@st.cache_resource(show_spinner=False)
def shared_store():
    """The register's store handle (holds its location only; shared safely by every session)."""
    return open_store()
