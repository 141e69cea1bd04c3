"""Land ownership: an anchor's titles in HM Land Registry's CCOD/OCOD against its register, worked through.

The files come in by Your data's **Land Registry ownership** slot and travel with the data in use. Here the
user chooses the anchor (from the register's organisations and the anchors the files name), extends its
alias table (kept in the register store by :mod:`assets_map.store.decisions`, so every later session and
``assets-map reconcile --store`` use it; an uploaded table is merged in for the session), reads the report :func:`assets_map.community.ownership.reconcile` makes (titles not in the
register, register sites with no title), records a decision on each row in the register store
(:mod:`assets_map.store.decisions`: who, when, confirmed or rejected, a note; viewers cannot) and downloads
the report with the decisions in it. The Map draws the chosen anchor's placed titles and names the anchor in
"Who owns this parcel?" (:func:`placed_titles`).
"""
from __future__ import annotations

import hashlib
import logging

import pandas as pd
import streamlit as st

from assets_map.community.ownership import (
    DECISIONS,
    STATUS_CCOD_ONLY,
    STATUS_MATCHED,
    STATUS_NO_TITLE,
    STATUS_NOT_IN_REGISTER,
    Reconciliation,
    anchor_choices,
    anchor_placements,
    anchor_register,
    anchors_found,
    apply_decisions,
    build_anchor,
    disposals,
    merge_aliases,
    placements,
    reconcile,
)
from assets_map.io.export import export_bytes
from assets_map.io.importer import Upload
from assets_map.io.report import InputError
from assets_map.io.uploads import read_alias_upload
from assets_map.store import NotAllowed, StoreError
from assets_map.store.decisions import (
    add_alias,
    alias_history,
    decision_history,
    record_decision,
    stored_aliases,
    withdraw_alias,
)
from assets_map.ui import identity, shared, state

ANCHOR = "own_anchor"
ALIAS_FILE = "own_alias_file"
# Widget values are dropped when another page runs; what the Map needs of this page is kept under these keys.
_KEPT_ANCHOR = "_own_anchor_kept"
_KEPT_ALIASES = "_own_aliases_kept"
_CACHE = "_own_report"
_CHOICES = "_own_choices"
_OTHERS = "_own_others"
_MESSAGE = "_own_message"
_LOG = logging.getLogger(__name__)
#: The report as the page shows it: column -> heading (words, not the report's column names).
SHOWN = {"status": "What", "title_number": "Title", "address": "Address", "asset": "Register site",
         "decision": "Decision", "decision_note": "Decision note", "tier": "Placed by", "matched_by": "Matched by",
         "anchor_rule": "Why this anchor", "postcode": "Postcode", "decided_by": "Decided by",
         "decided_at": "Decided at", "note": "What it may mean"}
#: How each status is said on the page (the report's own words).
STATUS_HELP = {STATUS_NOT_IN_REGISTER: "possibly missing from the register",
               STATUS_NO_TITLE: "possibly unregistered, or held under another name",
               STATUS_MATCHED: "a title and a register site that match",
               STATUS_CCOD_ONLY: "the anchor's portfolio from the Land Registry files alone"}


def ownership_loaded() -> pd.DataFrame | None:
    """The CCOD/OCOD rows travelling with the data in use (None: no ownership file was loaded)."""
    own = state.analysis().places.get("ownership")
    return own if own is not None and len(own) else None


def chosen_anchor() -> str | None:
    """The anchor chosen on this page, else the first one there is to choose (None: no ownership file)."""
    own = ownership_loaded()
    if own is None:
        return None
    choices = _choices()
    picked = st.session_state.get(_KEPT_ANCHOR)
    return picked if picked in choices else (choices[0] if choices else None)


def _keep_anchor() -> None:
    st.session_state[_KEPT_ANCHOR] = st.session_state.get(ANCHOR)


def _keep_aliases() -> None:
    f = st.session_state.get(ALIAS_FILE)
    st.session_state[_KEPT_ALIASES] = None if f is None else Upload(f.name, f.getvalue())


def _choices() -> list[str]:
    """The anchors to choose from, worked out once per data in use (every Map rerun asks)."""
    own = ownership_loaded()
    if own is None:
        return []
    cached = st.session_state.get(_CHOICES)
    if not cached or cached[0] != state.data_version():
        cached = (state.data_version(), anchor_choices(own, state.analysis().assets), anchors_found(own))
        st.session_state[_CHOICES] = cached
    return cached[1]


def _found() -> pd.DataFrame:
    _choices()
    return st.session_state[_CHOICES][2]


def _kept(anchor: str) -> pd.DataFrame | None:
    """The anchor's aliases kept in the register (None: the register cannot be read; the page says so)."""
    try:
        kept = stored_aliases(identity.shared_store(), anchor)
    except StoreError as exc:
        st.session_state["_own_kept_error"] = f"The aliases kept in the register could not be read: {exc}"
        return None
    st.session_state.pop("_own_kept_error", None)
    return kept


def _aliases(anchor: str) -> pd.DataFrame | None:
    """The alias table in use: the uploaded one merged with the aliases of ``anchor`` kept in the register."""
    parts = []
    up = st.session_state.get(_KEPT_ALIASES)
    if up is not None:
        try:
            parts.append(read_alias_upload(up, limits=state.budgets()[0]))
        except InputError as exc:
            st.session_state["_own_alias_error"] = str(exc)
        else:
            st.session_state.pop("_own_alias_error", None)
    parts.append(_kept(anchor))
    return merge_aliases(parts)


def _report(anchor: str) -> Reconciliation:
    """The anchor's reconciliation without decisions, kept per data version, anchor and alias table."""
    result = state.analysis()
    aliases = _aliases(anchor)
    digest = "" if aliases is None else hashlib.sha256(aliases.to_csv(index=False).encode()).hexdigest()
    key = (state.data_version(), anchor, digest)
    cached = st.session_state.get(_CACHE)
    if cached and cached[0] == key:
        return cached[1]
    the_anchor = build_anchor(anchor, aliases)
    register, chosen = anchor_register(result.assets, the_anchor)  # as `assets-map reconcile` chooses it
    rec = reconcile(result.places["ownership"], the_anchor, register=register,
                    postcodes=result.places.get("postcodes"), parcels=result.places.get("parcels"))
    if chosen:
        rec.notes.insert(0, chosen)
    st.session_state[_CACHE] = (key, rec)
    return rec


def placed_titles():
    """The chosen anchor's placed titles for the Map (anchor, tier, rule), or None when no ownership file is loaded."""
    anchor = chosen_anchor()
    if anchor is None:
        return None
    try:
        return placements(_report(anchor))
    except Exception:  # noqa: BLE001 - the Map never fails for the titles: it shows none, details to the log
        _LOG.exception("placing the titles of %s", anchor)
        return None


def owners_placed():
    """Every anchor's placed titles for "who owns this?" (None: no ownership file is loaded).

    The chosen anchor's (by its alias table) first, then the other anchors the files name.
    """
    chosen = placed_titles()
    if chosen is None:
        return None
    result = state.analysis()
    key = state.data_version()
    cached = st.session_state.get(_OTHERS)
    if not cached or cached[0] != key:
        try:
            others = anchor_placements(result.places["ownership"], postcodes=result.places.get("postcodes"),
                                       parcels=result.places.get("parcels"), register=result.assets)
        except Exception:  # noqa: BLE001 - the Map never fails for the titles: the chosen anchor's alone
            _LOG.exception("placing the titles of the other anchors")
            others = chosen.iloc[0:0]
        cached = (key, others)
        st.session_state[_OTHERS] = cached
    others = cached[1]
    others = others[~others["title_number"].isin(set(chosen["title_number"]))]
    return pd.concat([chosen, others], ignore_index=True) if len(others) else chosen


def with_decisions(anchor: str, rec: Reconciliation, role) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``(the report's rows with the decisions this visitor may read, the decision history or None)``."""
    history = _history(anchor, role)
    return apply_decisions(rec.rows, history), history


def anchor_report() -> tuple[str, pd.DataFrame] | None:
    """The chosen anchor and its report as this page shows and downloads it (None: no ownership file is loaded).

    The rows are :func:`~assets_map.community.ownership.reconcile`'s (each title with its placement tier in words,
    how it matched and the rule naming the anchor) with the decisions this visitor may read; the Download page
    offers them beside the analysis layers. Raises what :func:`reconcile` raises.
    """
    anchor = chosen_anchor()
    if anchor is None:
        return None
    rows, _ = with_decisions(anchor, _report(anchor), identity.visitor_role())
    return anchor, rows


def _may_decide(role, anchor: str) -> bool:
    from assets_map.community.ownership import normalise_name

    return role.kind == "admin" or (role.kind == "editor" and normalise_name(role.organisation) == normalise_name(anchor))


def _history(anchor: str, role) -> pd.DataFrame | None:
    """The decisions recorded for the anchor (None: this visitor may not read them, or the register cannot be read)."""
    if not _may_decide(role, anchor):
        return None
    try:
        return decision_history(identity.shared_store(), anchor, role=role)
    except (StoreError, NotAllowed) as exc:
        st.session_state[_MESSAGE] = ("error", f"The decisions could not be read: {exc}")
        return None


def _words(rows: pd.DataFrame) -> pd.DataFrame:
    """The report rows in words for the table: nothing missing shows as a code."""
    site = [f"{n} ({a})" if isinstance(n, str) and n else (a if isinstance(a, str) else "")
            for n, a in zip(rows["asset_name"], rows["asset_id"], strict=True)]
    frame = rows.assign(asset=site)
    out = pd.DataFrame({label: frame[col].astype(object) for col, label in SHOWN.items()})
    out["Matched by"] = out["Matched by"].map(lambda v: f"same {v}" if isinstance(v, str) and v else v)
    return out.where(out.notna(), "").reset_index(drop=True)


def _row_label(row: dict) -> str:
    decided = f" · {row['decision']}" if isinstance(row.get("decision"), str) and row["decision"] else ""
    if row["status"] == STATUS_NO_TITLE:
        return f"{row.get('asset_name') or 'a site'} ({row['asset_id']}): no title found{decided}"
    where = row.get("address") or row.get("property_address") or "no address"
    to = f" → {row.get('asset_name') or row.get('asset_id')}" if isinstance(row.get("asset_id"), str) else ""
    return f"Title {row['title_number']}: {where}{to} ({row['status']}){decided}"


def _decide(anchor: str, rows: pd.DataFrame) -> None:
    key = st.session_state.get("own_decide_row")
    decision = st.session_state.get("own_decide_what")
    note = st.session_state.get("own_decide_note", "")
    match = rows[rows["match_key"] == key]
    if not len(match) or decision not in DECISIONS:
        st.session_state[_MESSAGE] = ("error", "Choose a row and whether it is confirmed or rejected.")
        return
    r = match.iloc[0]
    try:
        record_decision(identity.shared_store(), anchor=anchor, match_key=key, decision=decision, note=note,
                        role=identity.visitor_role(), title_number=r["title_number"] if pd.notna(r["title_number"]) else None,
                        asset_id=r["asset_id"] if pd.notna(r["asset_id"]) else None)
    except (InputError, NotAllowed, StoreError) as exc:
        st.session_state[_MESSAGE] = ("error", f"Nothing was recorded: {exc}")
        return
    st.session_state[_MESSAGE] = ("success", f"Recorded: {_row_label({**r.to_dict(), 'decision': None})}, {decision}.")
    st.session_state["own_decide_note"] = ""


def _add_names(anchor: str) -> None:
    """Keep the names picked and typed in the register as aliases of ``anchor`` (each its own row of the history)."""
    names = st.session_state.get("own_add_names") or []
    typed = (st.session_state.get("own_add_typed") or "").strip()
    note = st.session_state.get("own_add_note", "")
    wanted = list(dict.fromkeys([*names, *([typed] if typed else [])]))
    if not wanted:
        st.session_state[_MESSAGE] = ("error", "Pick a name from the files or type one to add.")
        return
    added, refused = [], []
    for n in wanted:
        try:
            add_alias(identity.shared_store(), anchor=anchor, name=n, note=note, role=identity.visitor_role())
        except (InputError, NotAllowed, StoreError) as exc:
            refused.append(f"{n}: {exc}")
        else:
            added.append(n)
    if refused:
        st.session_state[_MESSAGE] = ("error", "Not added: " + "; ".join(refused)
                                      + (f". Added: {', '.join(added)}." if added else ""))
    else:
        st.session_state[_MESSAGE] = ("success", f"Added to the alias table of {anchor}, kept in the register: "
                                                 f"{', '.join(added)}.")
    st.session_state["own_add_names"] = []
    st.session_state["own_add_typed"] = ""
    st.session_state["own_add_note"] = ""


def _withdraw(anchor: str) -> None:
    key = st.session_state.get("own_withdraw_which")
    try:
        withdraw_alias(identity.shared_store(), anchor=anchor, key=key, role=identity.visitor_role(),
                       note=st.session_state.get("own_withdraw_note", ""))
    except (InputError, NotAllowed, StoreError) as exc:
        st.session_state[_MESSAGE] = ("error", f"Nothing was withdrawn: {exc}")
        return
    st.session_state[_MESSAGE] = ("success", f"Withdrawn from the alias table of {anchor}: it is no longer used.")
    st.session_state["own_withdraw_note"] = ""


def _alias_words(aliases: pd.DataFrame, *, notes: bool = False) -> pd.DataFrame:
    """The alias table in words: the name or company number, where it came from and, with ``notes``, why."""
    out = pd.DataFrame({"Name": _cells(aliases["alias"]), "Company number": _cells(aliases["company_number"]),
                        "Where it comes from": aliases["source"].astype(object).fillna("").tolist()})
    if notes:
        out["Note"] = _cells(aliases["note"]) if "note" in aliases else [""] * len(aliases)
    return out


def _cells(values) -> list[str]:
    """Texts as shown in a table: a missing value (or anything not text) blank."""
    return [v if isinstance(v, str) else "" for v in values]


def _alias_trail(anchor: str) -> None:
    """Every alias of ``anchor`` added or withdrawn in the register, newest first, with who, when and why."""
    try:
        log = alias_history(identity.shared_store(), anchor)
    except StoreError as exc:
        st.error(shared.md(f"The history of the alias table could not be read: {exc}"), icon=":material/block:")
        return
    if not len(log):
        return
    st.markdown("**History of the alias table kept in the register** (newest first; nothing is ever deleted)")
    st.dataframe(pd.DataFrame({
        "When": [str(v)[:16].replace("T", " ") for v in log["at"]],
        "Who": log["by_user"].astype(object).fillna("").tolist(),
        "What": log["action"].astype(object).tolist(),
        "Name": _cells(log["alias"]), "Company number": _cells(log["company_number"]),
        "Note": _cells(log["note"])}), hide_index=True, width="stretch")


def _alias_editing(anchor: str, role) -> None:
    """Add names to the anchor's alias table kept in the register, or withdraw one (editors and admins only)."""
    if not _may_decide(role, anchor):
        st.info(f"The alias table kept in the register is extended by {shared.md(anchor)}'s editors and "
                f"administrators. You are {shared.md(role.describe())}: the report uses it, you cannot change it.",
                icon=":material/lock:")
        return
    found = [n for n in _found()["name"] if n != anchor]
    st.multiselect("Names in the files", found, key="own_add_names")
    st.text_input("Or type a name or company number", key="own_add_typed")
    st.text_input("Note (why; kept with the alias)", key="own_add_note", max_chars=5000)
    st.button("Add to the alias table", key="own_add", on_click=_add_names, args=(anchor,))
    kept = _kept(anchor)
    if kept is not None and len(kept):
        labels = dict(zip(kept["alias_key"], [a if isinstance(a, str) and a else f"company number {c}" for a, c in
                                              zip(kept["alias"], kept["company_number"], strict=True)], strict=True))
        st.selectbox("Withdraw an alias kept in the register", list(labels), key="own_withdraw_which",
                     format_func=lambda k: labels.get(k, k))
        st.text_input("Why it is withdrawn (kept with the history)", key="own_withdraw_note", max_chars=5000)
        st.button("Withdraw it", key="own_withdraw", on_click=_withdraw, args=(anchor,))


def _anchor_section(own: pd.DataFrame) -> str:
    choices = _choices()
    st.session_state[ANCHOR] = chosen_anchor()
    anchor = st.selectbox("Anchor", choices, key=ANCHOR, on_change=_keep_anchor,
                          help="The register's organisations first, then the councils, NHS bodies, universities, "
                               "colleges and housing associations the Land Registry files name as proprietors.")
    with st.expander("Other names this anchor holds land under (the alias table)", icon=":material/badge:"):
        st.caption("Spellings vary: a council may hold land as 'The Mayor and Burgesses of ...'. Add the names or "
                   "company numbers it holds land under, or upload an alias table (CSV or Excel with the columns "
                   "anchor, alias and optionally company_number, as `assets-map reconcile --aliases` reads).")
        st.file_uploader("Alias table (optional)", type=["csv", "xlsx", "xls"], key=ALIAS_FILE,
                         on_change=_keep_aliases)
        kept = st.session_state.get(_KEPT_ALIASES)
        if kept is not None and st.session_state.get(ALIAS_FILE) is None:
            st.caption(f"In use: the alias table {shared.md(kept.name)} you uploaded.")
            st.button("Stop using it", key="own_alias_drop", on_click=st.session_state.pop, args=(_KEPT_ALIASES, None))
        for err in ("_own_alias_error", "_own_kept_error"):
            if st.session_state.get(err):
                st.error(shared.md(st.session_state[err]), icon=":material/block:")
        _alias_editing(anchor, identity.visitor_role())
        aliases = _aliases(anchor)
        may_decide = _may_decide(identity.visitor_role(), anchor)
        if aliases is not None and len(aliases):
            # the notes and the history say why and who: for those who keep the table (as with the decisions)
            st.dataframe(_alias_words(aliases, notes=may_decide), hide_index=True, width="stretch")
            table = aliases[["anchor", "alias", "company_number", "source"]].astype(object)
            st.download_button("Download the alias table (CSV)", table.where(table.notna(), "").to_csv(index=False)
                               .encode("utf-8"), file_name="aliases.csv", mime="text/csv", key="own_alias_download")
        if may_decide:
            _alias_trail(anchor)
    return anchor


def _decide_section(anchor: str, rows: pd.DataFrame, role) -> None:
    st.subheader("Confirm or reject a row")
    if not _may_decide(role, anchor):
        st.info(f"Decisions are recorded in the register by {shared.md(anchor)}'s editors and administrators. "
                f"You are {shared.md(role.describe())}: you can read and download the report, not decide.",
                icon=":material/lock:")
        return
    keys = rows["match_key"].tolist()
    labels = {k: _row_label(r) for k, r in zip(keys, rows.to_dict("records"), strict=True)}
    with st.form("own_decide"):
        st.selectbox("Row", keys, key="own_decide_row", format_func=lambda k: labels.get(k, k))
        st.radio("Decision", DECISIONS, key="own_decide_what", horizontal=True,
                 format_func=lambda d: {"confirmed": "Confirm", "rejected": "Reject"}[d])
        st.text_area("Note (why; kept with the decision)", key="own_decide_note", max_chars=5000)
        st.form_submit_button("Record the decision", type="primary", on_click=_decide, args=(anchor, rows))


def _downloads(anchor: str, rows) -> None:
    stem = "reconciliation-" + "".join(c if c.isalnum() else "-" for c in anchor.lower()).strip("-")[:60]
    c1, c2 = st.columns(2)
    for col, fmt, label in ((c1, "xlsx", "Download the report (Excel)"), (c2, "csv", "Download the report (CSV, zipped)")):
        try:
            name, data = export_bytes({"reconciliation": rows}, fmt, name=stem)
        except InputError as exc:
            col.error(shared.md(str(exc)), icon=":material/block:")
            continue
        col.download_button(label, data, file_name=name, key=f"own_download_{fmt}")


def render() -> None:
    """The Land ownership page: choose an anchor, work through its reconciliation, record decisions, download."""
    st.title("Land ownership")
    shared.banner()
    own = ownership_loaded()
    if own is None:
        st.info("Load HM Land Registry's ownership file (CCOD, or OCOD for overseas companies) in the **Land Registry "
                "ownership** slot of **Your data**, with your register, to see an anchor's titles against it. A "
                "postcode directory and freehold parcels place the titles on the map.", icon=":material/info:")
        return
    anchor = _anchor_section(own)
    try:
        rec = _report(anchor)
    except InputError as exc:
        st.error(shared.md(str(exc)), icon=":material/block:")
        return
    except Exception as exc:  # noqa: BLE001 - never a traceback: one line, the details to the log
        _LOG.exception("reconciling %s", anchor)
        st.error(f"The titles of {shared.md(anchor)} could not be reconciled ({type(exc).__name__}); please report "
                 "this with the files.", icon=":material/block:")
        return
    role = identity.visitor_role()
    rows, history = with_decisions(anchor, rec, role)
    msg = st.session_state.pop(_MESSAGE, None)
    if msg:
        (st.success if msg[0] == "success" else st.error)(shared.md(msg[1]))
    if STATUS_CCOD_ONLY in rec.counts:
        st.warning(f"No register of {shared.md(anchor)} is loaded: this is its portfolio from HM Land Registry's "
                   "files alone (flagged as such in the report and downloads).", icon=":material/warning:")
    cols = st.columns(max(1, len(rec.counts)))
    for c, (status, n) in zip(cols, rec.counts.items(), strict=False):
        c.metric(status, n, help=STATUS_HELP.get(status))
    for note in rec.notes:
        st.caption(shared.md(note))
    st.caption("Titles are placed approximately, from their address and postcode (there is no open link from a "
               "title to its plan): 'Placed by' says how. 'Why this anchor' is the rule that named the proprietor.")
    shown = st.radio("Show", ["every row", *rec.counts], horizontal=True, key="own_show")
    view = rows if shown == "every row" else rows[rows["status"] == shown]
    st.dataframe(_words(view), hide_index=True, width="stretch", key="own_table")
    _decide_section(anchor, rows, role)
    if history is not None and len(history):
        with st.expander(f"Decisions recorded ({len(history)}): the audit trail", icon=":material/history:"):
            labels = {k: _row_label({**r, "decision": None}) for k, r in zip(rows["match_key"], rows.to_dict("records"),
                                                                               strict=True)}
            trail = history[["decided_at", "decided_by", "decision", "match_key", "note"]].astype(object)
            trail["match_key"] = [labels.get(k, f"a row no longer in the report ({k})") for k in trail["match_key"]]
            trail.columns = ["When", "Who", "Decision", "Row", "Note"]
            st.dataframe(trail.where(trail.notna(), ""), hide_index=True, width="stretch")
    _downloads(anchor, rows)
    _disposals(anchor)


def _disposals(anchor: str) -> None:
    """Possible disposals in the change-only files loaded: the anchor's titles deleted or moved to another owner."""
    result = state.analysis()
    changes = result.places.get("ownership_changes")
    if changes is None or not len(changes):
        return
    found = disposals(changes, build_anchor(anchor, _aliases(anchor)), held=result.places.get("ownership"))
    st.subheader("Possible disposals in the change-only files")
    if not len(found):
        st.caption(f"None of {shared.md(anchor)}'s titles was deleted or moved to another proprietor in "
                   f"{shared.md(changes.attrs.get('source', 'the change-only files'))}.")
        return
    shown = found[["title_number", "property_address", "change_date", "what", "new_proprietor"]].astype(object)
    shown.columns = ["Title", "Address", "Changed on", "What", "New proprietor"]
    st.dataframe(shown.where(shown.notna(), ""), hide_index=True, width="stretch")
    _tell_followers(found)


def _tell_followers(found: pd.DataFrame) -> None:
    """For an editor or admin: tell the followers of the register sites these titles are (as `notify-disposals`)."""
    from assets_map.store.disposals import tell_disposals
    from assets_map.store.listings import LINKED

    role = identity.visitor_role()
    if role.kind not in ("editor", "admin"):
        return
    if not st.button("Tell the followers of these sites", key="own_tell_disposals", icon=":material/campaign:",
                     help="Each title is matched to a site of the register by its address and postcode; the people "
                          "following a site matched with medium confidence or better are told (once per change)."):
        return
    store = shared.open_register()
    if store is None:
        return
    try:
        out = tell_disposals(store, found, role=role)
    except (NotAllowed, StoreError, InputError) as exc:
        st.error(shared.md(str(exc)))
        return
    linked = int(out["confidence_words"].isin(LINKED).sum()) if len(out) else 0
    told = int(pd.to_numeric(out["told"], errors="coerce").fillna(0).sum()) if len(out) else 0
    st.success(f"{linked:,} of {len(out):,} possible disposals matched to a site of the register (medium confidence "
               f"or better); {told:,} followers told.")


#: The colour each placement tier is drawn in on the map, and its name in the legend beside it (the map's colour is
#: the one Streamlit gives that name's text, so the legend's squares match the map).
TIER_COLOURS = {"address matched to a register asset": ("#158237", "green"),
                "postcode with one parcel": ("#244fb4", "blue"), "postcode only": ("#9b4519", "orange")}


def title_layer(placed, *, street_zoom: bool = True):
    """The placed titles as a map layer (drawn from street zoom on, like the parcels), coloured by tier, or None."""
    import folium

    from assets_map.community.ownership import TIER_UNPLACED
    from assets_map.maps.features import display_geometry, geojson_features

    if placed is None or not len(placed):
        return None
    shown = placed[placed.geometry.notna() & (placed["tier"] != TIER_UNPLACED)]
    shown = shown[~shown.geometry.is_empty]
    if not len(shown):
        return None
    shown = shown.assign(words=[f"{a}: title {t}, placed by {tier} (approximate)" for a, t, tier in
                                zip(shown["anchor"], shown["title_number"], shown["tier"], strict=True)])
    data = geojson_features(shown, ["title_number", "tier", "words"], display_geometry(shown, tolerance_m=0.5))
    cls = "am-parcel am-title" if street_zoom else "am-title"

    def style(feature):
        colour = TIER_COLOURS.get(feature["properties"].get("tier"), ("#555555", "grey"))[0]
        return {"color": colour, "weight": 3, "fillColor": colour, "fillOpacity": 0.25, "className": cls}

    group = folium.FeatureGroup(name="Titles placed (street zoom)")
    folium.GeoJson(data, style_function=style, marker=folium.CircleMarker(radius=7),
                   tooltip=folium.GeoJsonTooltip(fields=["words"], aliases=["Land Registry title"])).add_to(group)
    return group


def title_legend(placed) -> str | None:
    """The map legend of the placed titles, in words (Streamlit colour names; nothing to escape but the anchor)."""
    if placed is None or not len(placed):
        return None
    tiers = [t for t in TIER_COLOURS if (placed["tier"] == t).any()]
    if not tiers:
        return None
    anchor = shared.md(placed["anchor"].iloc[0])
    return (f"**Titles of {anchor}** placed on the map (from street zoom; approximate): "
            + "; ".join(f":{TIER_COLOURS[t][1]}[■] {t}" for t in tiers) + ".")
