"""Follow page: follow sites, read the inbox, choose how to hear (e-mail or the inbox only).

Thin over :mod:`assets_map.store.follow` and :mod:`assets_map.store.notify`: the store
decides what each follower is told from their role, so nothing here can show a field
their role may not see. The one-click links in e-mails land here too
(``?unsubscribe=...`` and ``?confirm=...``) and work without signing in.
"""
from __future__ import annotations

import logging
import smtplib

import streamlit as st

from assets_map.io.report import InputError
from assets_map.store import NotAllowed, Role, StoreError, notify
from assets_map.store import follow as fl
from assets_map.store.roles import Identity, identity_from_claims
from assets_map.ui import identity
from assets_map.ui.shared import md, open_register

_LOG = logging.getLogger(__name__)
DELIVERY_LABELS = {"immediate": "E-mail me each change", "digest": "One e-mail a day (digest)",
                   "inbox": "No e-mail: the inbox here only"}


def who(store) -> tuple[Role, Identity | None, identity.Visitor]:
    """The visitor's role, their verified sign-in (None in local mode or the public view) and the visitor line."""
    visitor = identity.visitor(store)
    ident = None
    if visitor.mode == "signed-in" and identity.auth_configured() and st.user.is_logged_in:
        ident, _ = identity_from_claims(st.user.to_dict())
    return visitor.role, ident, visitor


def day_words(text: str | None) -> str:
    """An ISO date or time as "30 November 2026" (empty when missing)."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(str(text)[:10]).strftime("%-d %B %Y")
    except ValueError:
        return str(text or "")


def can_follow(role: Role) -> bool:
    """True for a signed-in user or the local user (the public view cannot follow)."""
    return role.local or role.user != "public"


def site_choice(store, role: Role, key: str) -> str | None:
    """A site the role may see, chosen in a box (preselected from ``?site=`` in the address)."""
    assets = store.assets(role)
    if assets.empty:
        st.info("The register holds no sites yet.")
        return None
    ids = assets["asset_id"].astype(str).tolist()
    names = dict(zip(ids, assets["name"].fillna("").astype(str), strict=True)) if "name" in assets else {}
    wanted = st.query_params.get("site")
    if wanted and wanted not in ids:
        st.warning(f"Site {md(wanted)} is not in the register as you may see it: choose a site below.")
    index = ids.index(wanted) if wanted in ids else 0
    chosen = st.selectbox("Site", ids, index=index, key=key,
                          format_func=lambda a: f"{names.get(a) or 'Unnamed site'} ({a})")
    if chosen != wanted:
        st.query_params["site"] = chosen
    return chosen


def _links(store) -> None:
    """The one-click links of e-mails: unsubscribe and confirm an address."""
    token = st.query_params.get("unsubscribe")
    if token:
        if fl.unsubscribe(store, token):
            st.success("Done: you will get no more e-mail from assets-map. Your inbox here stays.")
        else:
            st.warning("That unsubscribe link is not known here (it may be from another service).")
        del st.query_params["unsubscribe"]
    token = st.query_params.get("confirm")
    if token:
        address = fl.confirm_email(store, token)
        if address:
            st.success(f"Thank you: {md(address)} is confirmed. News of the sites you follow will be sent there.")
        else:
            st.warning("That confirmation link has been used already or is not known here.")
        del st.query_params["confirm"]


def render() -> None:
    """The Follow page."""
    st.title("Follow sites")
    store = open_register()
    if store is None:
        return
    try:
        _links(store)
        role, ident, visitor = who(store)
        st.caption(md(visitor.line()))
        if not can_follow(role):
            st.info("Sign in to follow sites: you are then told when a site you follow changes (declared surplus, "
                    "for sale, listed as an asset of community value, a transfer case moving).")
            return
        _follow_section(store, role, ident)
        _inbox_section(store, role)
        _email_section(store, role, ident)
    except StoreError as exc:
        st.error(f"The register is not available just now: {md(exc)}")


def _follow_section(store, role: Role, ident: Identity | None) -> None:
    st.subheader("Follow a site")
    site = site_choice(store, role, "follow_site")
    if site is None:
        return
    if fl.is_following(store, site, role=role):
        st.success("You follow this site.", icon=":material/notifications_active:")
        if st.button("Stop following", key="unfollow_button"):
            fl.unfollow(store, site, role=role)
            st.rerun()
    else:
        group = st.text_input("Your group (optional)", key="follow_group", max_chars=200)
        steward = st.text_input("Steward contact: who in the group looks after this site (optional)",
                                key="follow_steward", max_chars=200)
        if st.button("Follow this site", key="follow_button", type="primary"):
            try:
                fl.follow(store, site, role=role, identity=ident, group=group, steward=steward)
            except (InputError, NotAllowed) as exc:
                st.error(md(exc))
            else:
                st.rerun()
    mine = fl.following(store, role=role)
    if mine:
        st.markdown("**Sites you follow**")
        for f in mine:
            rec = store.get(f["asset_id"], role) or {}
            extra = "".join(f" · {label} {md(v)}" for label, v in (("group:", f["group"]), ("steward:", f["steward"]))
                            if v)
            st.markdown(f"- {md(rec.get('name') or 'Unnamed site')} ({md(f['asset_id'])}) · since "
                        f"{md(day_words(f['since']))}{extra}")


def _inbox_section(store, role: Role) -> None:
    items = notify.inbox(store, role=role)
    unread = [i for i in items if i["read_at"] is None]
    st.subheader(f"Inbox ({len(unread)} unread)" if unread else "Inbox")
    if not items:
        st.caption("Nothing yet: changes to the sites you follow appear here.")
        return
    for item in items[:50]:
        new = "**New** · " if item["read_at"] is None else ""
        st.markdown(f"{new}**{md(item['title'])}** · {md(day_words(item['at']))}")
        st.caption(md(item["body"]))
    if unread and st.button("Mark all as read", key="inbox_read"):
        notify.mark_read(store, [i["id"] for i in unread], role=role)
        st.rerun()


def _email_section(store, role: Role, ident: Identity | None) -> None:
    st.subheader("E-mail")
    st.caption(md(notify.email_setup()))
    me = fl.follower(store, role.user)
    if me is not None and me.email:
        state = "confirmed" if me.confirmed else "waiting for you to open the confirmation link we sent"
        st.text(f"Address: {me.email} ({state}).")  # st.text: an address is never made a link
    current = me.delivery if me is not None else "immediate"
    with st.form("email_form"):
        address = st.text_input("E-mail address", value=(me.email if me and me.email else ""), key="email_address")
        delivery = st.radio("How to hear", list(DELIVERY_LABELS), index=list(DELIVERY_LABELS).index(current),
                            format_func=DELIVERY_LABELS.get, key="email_delivery")
        saved = st.form_submit_button("Save")
    if not saved:
        return
    try:
        fl.set_delivery(store, delivery, role=role)
        if address.strip() and (me is None or address.strip().lower() != (me.email or "")):
            token = fl.set_email(store, address, role=role, identity=ident)
            if token is None:
                st.success("Saved: your sign-in's verified address is used.")
            elif notify.send_confirmation(store, role.user, token):
                st.success(f"We sent a confirmation link to {md(address.strip())}: nothing else is sent there until "
                           "you open it.")
            else:
                st.warning("Saved, but e-mail is not set up on this service, so no confirmation can be sent: "
                           "messages stay in your inbox here.")
        else:
            st.success("Saved.")
    except (InputError, fl.RateLimited, NotAllowed) as exc:
        st.error(md(exc))
    except (OSError, smtplib.SMTPException) as exc:  # the mail server said no: one line, details to the log
        _LOG.error("confirmation e-mail not sent: %s: %s", type(exc).__name__, exc)
        st.error("Saved, but the confirmation e-mail could not be sent just now: try Save again later.")
