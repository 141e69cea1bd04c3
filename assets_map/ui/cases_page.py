"""Cases page: a site's Asset of Community Value clocks and its community asset transfer cases; the estates dashboard.

Thin over :mod:`assets_map.store.cases` and :mod:`assets_map.store.listings`: what each
visitor sees of a case (whole, or its public stages) is decided by the store from their role.
Values from other users are escaped with :func:`shared.md` or shown in tables that never
interpret them.
"""
from __future__ import annotations

import datetime as dt

import streamlit as st

from assets_map.community.acv import read_acv_bytes, write_planning_data
from assets_map.io.report import InputError
from assets_map.store import NotAllowed, Role, StoreError, cases, listings
from assets_map.store.casework import STAGES
from assets_map.ui.follow_page import can_follow, day_words, site_choice, who
from assets_map.ui.shared import md, open_register


def render() -> None:
    """The Cases page."""
    st.title("Transfer cases and ACV clocks")
    store = open_register()
    if store is None:
        return
    try:
        role, _, visitor = who(store)
        st.caption(md(visitor.line()))
        site = site_choice(store, role, "cases_site")
        if site is not None:
            _acv_section(store, role, site)
            _cases_section(store, role, site)
        if role.kind in ("editor", "admin"):
            _dashboard_section(store, role)
            _acv_import_section(store, role)
    except StoreError as exc:
        st.error(f"The register is not available just now: {md(exc)}")


def _acv_section(store, role: Role, site: str) -> None:
    st.subheader("Asset of Community Value")
    found = listings.for_site(store, site, role=role)
    if not found:
        st.caption("No listing on the council's list of assets of community value is linked to this site.")
        return
    for item in found:
        rec = item["record"]
        st.markdown(f"**{md(rec.get('name') or item['reference'])}** · listing {md(item['reference'])} · "
                    f"{md(rec.get('decision') or 'nominated, not yet decided')} (matched: "
                    f"{md(item['confidence_words'])}, {md(item['evidence'])})")
        if not item["clocks"]:
            st.caption("No clock runs for this listing.")
            continue
        for c in item["clocks"]:
            st.markdown(f"- **{md(c.date.strftime('%-d %B %Y'))}: {md(c.label)}** ({md(c.state)}). {md(c.to_do)}")


def _cases_section(store, role: Role, site: str) -> None:
    st.subheader("Community asset transfer cases")
    shown = cases.cases(store, role=role, asset_id=site)
    if not shown:
        st.caption("No transfer case on this site yet.")
    for case in shown:
        _one_case(store, role, case)
    if can_follow(role):
        _open_form(store, role, site)


def _one_case(store, role: Role, case: dict) -> None:
    line = f"**Case {case['id']}: {md(case['stage'])}** since {md(day_words(case['stage_date']))}"
    if case["whole"]:
        if case.get("group_name"):
            line += f" · {md(case['group_name'])}"
        if case.get("next_step"):
            line += f" · next step: {md(case['next_step'])}" + (
                f" by {md(day_words(case['deadline']))}" if case["deadline"] else "")
    st.markdown(line)
    trail = cases.case_history(store, case["id"], role=role)
    rows = [{"Stage": e["stage"], "Date": e["stage_date"], "Recorded by": e.get("by_user", ""),
             "Note": e.get("note") or e.get("reason") or "", "Documents": ", ".join(e.get("documents") or []),
             "Next step": e.get("next_step") or "", "Deadline": e.get("deadline") or "",
             "Public": "yes" if e["public"] else "no"} for e in trail]
    if not case["whole"]:
        rows = [{"Stage": r["Stage"], "Date": r["Date"]} for r in rows]
    st.dataframe(rows, hide_index=True, use_container_width=True, key=f"case_trail_{case['id']}")
    if case["whole"] and case["stage"] not in ("lease or transfer completed", "withdrawn", "refused"):
        _move_form(store, role, case)


def _move_form(store, role: Role, case: dict) -> None:
    owner = role.can_edit(case["organisation"])
    stages = list(STAGES) if owner else list(cases.GROUP_STAGES[1:])
    with st.form(f"move_{case['id']}"):
        st.markdown("Record the next stage")
        stage = st.selectbox("Stage", stages, key=f"move_stage_{case['id']}")
        day = st.date_input("Date of this stage", value=dt.date.today(), key=f"move_date_{case['id']}",
                            format="DD/MM/YYYY")
        note = st.text_area("Note", key=f"move_note_{case['id']}", max_chars=2000)
        reason = st.text_input("Reason (needed when withdrawn or refused)", key=f"move_reason_{case['id']}")
        next_step = st.text_input("Next step", key=f"move_next_{case['id']}")
        deadline = st.date_input("Deadline of the next step", value=None, key=f"move_deadline_{case['id']}",
                                 format="DD/MM/YYYY")
        docs = st.text_area("Documents (one link or name per line)", key=f"move_docs_{case['id']}")
        public = st.checkbox("The public may see this stage (its name and date only)", value=True,
                             key=f"move_public_{case['id']}")
        go = st.form_submit_button("Record this stage")
    if go:
        try:
            cases.move_case(store, case["id"], stage, role=role, expected_version=case["version"], stage_date=day,
                            note=note, reason=reason, next_step=next_step, deadline=deadline,
                            documents=docs.splitlines(), public=public)
        except (InputError, NotAllowed, StoreError) as exc:
            st.error(md(exc))
        else:
            st.rerun()


def _open_form(store, role: Role, site: str) -> None:
    with st.expander("Open a transfer case on this site"):
        with st.form("open_case"):
            group = st.text_input("Group", key="case_group", max_chars=200)
            org = store.get(site, role) or {}
            first = list(STAGES[:2]) if not role.can_edit(org.get("organisation")) else list(STAGES[:5])
            stage = st.selectbox("Where the case starts", first, key="case_stage")
            note = st.text_area("What the group would like to do", key="case_note", max_chars=2000)
            next_step = st.text_input("Next step", key="case_next")
            deadline = st.date_input("Deadline of the next step", value=None, key="case_deadline", format="DD/MM/YYYY")
            go = st.form_submit_button("Open the case")
        if go:
            try:
                cases.open_case(store, site, role=role, group=group, stage=stage, note=note, next_step=next_step,
                                deadline=deadline)
            except (InputError, NotAllowed, StoreError) as exc:
                st.error(md(exc))
            else:
                st.rerun()


def _dashboard_section(store, role: Role) -> None:
    st.subheader("Estates dashboard")
    board = cases.dashboard(store, role=role)
    st.dataframe([{"Stage": s, "Cases": n} for s, n in board["by_stage"].items()], hide_index=True,
                 key="dash_stages")
    if board["open"]:
        st.markdown("**Open cases, longest at their stage first**")
        st.dataframe([{"Case": c["id"], "Site": c["asset_id"], "Stage": c["stage"], "Days at stage": c["days_at_stage"],
                       "Days open": c["days_open"], "Deadline": c["deadline"] or "",
                       "Overdue": "yes" if c["overdue"] else ""} for c in board["open"]],
                     hide_index=True, use_container_width=True, key="dash_open")
    never = board["never_asked"]
    st.markdown(f"**Flagged sites nobody has asked about: {len(never)}**")
    if never:
        st.dataframe([{"Site": r["asset_id"], "Name": r["name"] or "", "Priority": r["priority"]} for r in never],
                     hide_index=True, use_container_width=True, key="dash_never")


def _acv_import_section(store, role: Role) -> None:
    st.subheader("The council's list of assets of community value")
    up = st.file_uploader("A council's list (CSV or Excel) or the planning.data.gov.uk asset-of-community-value file (CSV or GeoJSON)",
                          type=["csv", "xlsx", "xls", "geojson", "json"], key="acv_upload")
    if up is not None and st.button("Import and match the list", key="acv_import"):
        try:
            out = listings.import_listings(store, read_acv_bytes(up.getvalue(), up.name), role=role)
        except (InputError, NotAllowed, StoreError) as exc:
            st.error(md(exc))
        else:
            st.success(f"{len(out)} listings read and matched.")
            st.dataframe([{"Listing": r.reference, "Site": r.asset_id or "no site", "Match": r.confidence_words,
                           "Evidence": r.evidence, "Change": r.change} for r in out.itertuples(index=False)],
                         hide_index=True, use_container_width=True, key="acv_matches")
    stored = listings.stored_list(store)
    if len(stored.frame):
        st.download_button("Download the list in the planning.data.gov.uk layout (CSV)",
                           write_planning_data(stored).encode("utf-8"), file_name="asset-of-community-value.csv",
                           mime="text/csv", key="acv_publish")
