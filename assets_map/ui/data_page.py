"""Your data: upload a register, boundaries, deprivation, postcodes and wards; check; then confirm.

Nothing replaces the data in use until the user has read the validation report
and pressed "Use this data". A file that cannot be read shows a clear error
and leaves the data in use exactly as it was.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from assets_map.engine.bounded import run_bounded
from assets_map.engine.pipeline import rescore
from assets_map.io.report import InputError, rows_text
from assets_map.io.uploads import KINDS, REQUIRED, Upload, check_uploads, with_wards
from assets_map.ui import shared, state

STAGED = "staged_uploads"
EXCLUDE = "staged_exclusions"
PENDING = "pending_upload"
ERROR = "upload_error"
TYPES = {
    "register": ["csv", "txt", "tsv", "xlsx", "xls", "gpkg", "geojson", "json", "zip"],
    "boundaries": ["gpkg", "geojson", "json", "zip"],
    "deprivation": ["csv", "txt", "tsv", "xlsx", "xls"],
    "postcodes": ["csv", "txt", "tsv"],
    "wards": ["gpkg", "geojson", "json", "zip", "csv", "txt", "xlsx"],
    "exclude": ["gpkg", "geojson", "json", "zip"],
}
INTRO = """
Load your own files to see **your** land and buildings against need. Files stay in this browser session:
they are not shared with other users and are gone when you close the tab (download what you want to keep).

You need an **asset register** and **need area boundaries** (LSOA polygons). Add the **English Indices of
Deprivation** unless the boundaries already carry them, a **postcode directory** to place rows that only have
a postcode, **wards** to summarise by ward, and **exclusion layers** (greenspace, allotments) whose land is never
flagged. assets-map checks everything first and shows you what it found
before anything changes.
"""


def _on_upload(kind: str) -> None:
    f = st.session_state.get(f"up_{kind}")
    staged = st.session_state.setdefault(STAGED, {})
    if f is None:
        staged.pop(kind, None)
    else:
        staged[kind] = Upload(f.name, f.getvalue())
    st.session_state.pop(ERROR, None)


def _on_exclude() -> None:
    files = st.session_state.get("up_exclude") or []
    st.session_state[EXCLUDE] = [Upload(f.name, f.getvalue()) for f in files]
    st.session_state.pop(ERROR, None)


def _check(weights: str) -> None:
    staged = dict(st.session_state.get(STAGED, {}))
    exclude = list(st.session_state.get(EXCLUDE, []))
    st.session_state.pop(PENDING, None)
    st.session_state.pop(ERROR, None)
    limits, job = state.budgets()
    try:
        st.session_state[PENDING] = run_bounded(check_uploads, staged, weights=weights or None, limits=limits,
                                                exclude=exclude, budget=job, what="checking your files")
    except (InputError, RuntimeError) as exc:
        st.session_state[ERROR] = str(exc)


def _confirm() -> None:
    pending = st.session_state.pop(PENDING, None)
    if pending is not None:
        state.use_data(pending.analysis, pending.label)
        st.session_state["data_message"] = f"Now showing {pending.label}."


def _back_to_demo() -> None:
    state.use_data(None)
    st.session_state.pop(PENDING, None)
    st.session_state["data_message"] = "Back to the fictional demo."


def _report(pending) -> None:
    rep = pending.report
    st.subheader("Check before you use it")
    st.markdown("This is what assets-map found in your files. **Nothing has changed yet**: the data in use is "
                f"still {shared.md(state.data_label())}.")
    c = st.columns(5)
    c[0].metric("rows read", rep.rows_read)
    c[1].metric("placed on the map", rep.placed)
    c[2].metric("fixed", sum(len(i.rows) or 1 for i in rep.of_kind("fixed")))
    c[3].metric("unplaced (kept)", rep.unplaced)
    c[4].metric("rejected", rep.rejected)
    st.caption(shared.md(f"{rep.source}: {rep.lines_text()}."))
    if rep.placed_by:
        st.markdown("Placed by: " + ", ".join(f"{n} by {shared.md(q)}" for q, n in rep.placed_by.items()))
    issues = pd.DataFrame([{"what": i.kind, "problem": i.message, "rows": rows_text(i.rows) if i.rows else ""}
                           for i in rep.issues])
    if not issues.empty:
        st.dataframe(issues, hide_index=True, width="stretch",
                     column_config={"what": st.column_config.TextColumn(width="small"),
                                    "problem": st.column_config.TextColumn(width="large"),
                                    "rows": st.column_config.TextColumn(width="medium")})
    for w in pending.analysis.warnings:
        st.warning(shared.md(w))
    st.markdown("**Files read**")
    for n in pending.notes:
        st.markdown(f"- {shared.md(n)}")
    st.markdown("**Result**")
    for line in pending.analysis.summary_lines():
        st.markdown(f"- {shared.md(line)}")
    b1, b2 = st.columns(2)
    b1.button("Use this data", type="primary", key="confirm_upload", on_click=_confirm)
    b2.button("Discard", key="discard_upload", on_click=lambda: st.session_state.pop(PENDING, None))


def _reweight() -> None:
    text = st.session_state.get("rw_weights", "")
    try:
        result = run_bounded(rescore, state.analysis(), weights=text or None, budget=state.budgets()[1],
                             what="re-scoring the data")
    except (InputError, RuntimeError) as exc:
        st.session_state["reweight_error"] = str(exc)
        return
    st.session_state.pop("reweight_error", None)
    demo = state.is_demo()
    label = state.data_label().split(" (need weighted:")[0]
    if text:
        label += f" (need weighted: {text})"
    state.use_data(result, label, demo=demo)
    st.session_state["data_message"] = "Need re-weighted: " + (text or "overall IMD") + "."


def _add_wards() -> None:
    up = st.session_state.get("up_wards_only")
    if up is None:
        return
    limits, job = state.budgets()
    try:
        result, note = run_bounded(with_wards, state.analysis(), Upload(up.name, up.getvalue()), limits=limits,
                                   budget=job, what="adding the wards")
    except (InputError, RuntimeError) as exc:
        st.session_state["wards_error"] = str(exc)
        return
    st.session_state.pop("wards_error", None)
    state.use_data(result, state.data_label(), demo=state.is_demo())
    st.session_state["data_message"] = note


def render() -> None:
    """The Your data page: upload registers, boundaries, deprivation and layers, check them, then use them."""
    st.title("Your data")
    shared.banner()
    msg = st.session_state.pop("data_message", None)
    if msg:
        st.success(shared.md(msg))
    shared.count_line(state.filtered()[1])
    st.markdown(INTRO)
    if state.own_analysis():
        st.button("Go back to the demo" if not state.is_demo() else "Back to the demo as shipped",
                  key="back_to_demo", on_click=_back_to_demo)
    for kind, label in KINDS.items():
        need = " (required)" if kind in REQUIRED else " (optional)"
        st.file_uploader(label + need, type=TYPES[kind], key=f"up_{kind}", on_change=_on_upload, args=(kind,))
    st.file_uploader("Exclusion layers (optional): greenspace, allotments or other land never to flag "
                     "(polygons: GeoPackage, GeoJSON or zipped Shapefile)", type=TYPES["exclude"],
                     accept_multiple_files=True, key="up_exclude", on_change=_on_exclude)
    weights = st.text_input("Need weights (optional)", key="up_weights", placeholder="e.g. income=2, health=1",
                            help="Leave empty to use the overall Index of Multiple Deprivation. Otherwise give "
                                 "domains and weights: income, employment, education, health, crime, housing, "
                                 "environment, idaci, idaopi.")
    staged = st.session_state.get(STAGED, {})
    if staged:
        layers = [f"exclusion layer: {shared.md(u.name)}" for u in st.session_state.get(EXCLUDE, [])]
        st.caption("Ready to check: " + ", ".join([f"{k}: {shared.md(u.name)}" for k, u in staged.items()] + layers))
    st.button("Check these files", key="check_upload", on_click=_check, args=(weights,),
              disabled=not staged, type="primary")
    err = st.session_state.get(ERROR)
    if err:
        st.error(f"**These files could not be used.** {shared.md(err)}\n\nThe data in use has not changed: "
                 f"still {shared.md(state.data_label())}. Fix the file and check again.", icon="🚫")
    pending = st.session_state.get(PENDING)
    if pending is not None:
        _report(pending)
    st.divider()
    st.subheader("Weight the need")
    w = state.analysis().settings.get("weights") or {"imd": 1.0}
    st.caption("Priorities use the overall Index of Multiple Deprivation unless you weight the domains that matter "
               "for your purpose, e.g. income=2, health=1 for a health project. In use now: "
               + shared.md(", ".join(f"{k} x{v:g}" for k, v in w.items())) + ".")
    st.text_input("Domain weights (empty = overall IMD)", key="rw_weights", placeholder="e.g. income=2, health=1")
    st.button("Apply to the data in use", key="apply_weights", on_click=_reweight)
    if st.session_state.get("reweight_error"):
        st.error(f"**The weights could not be used.** {shared.md(st.session_state['reweight_error'])} "
                 "The data in use has not changed.", icon="🚫")
    st.divider()
    st.subheader("Add wards to the data in use")
    st.caption("Ward polygons (e.g. WD23CD/WD23NM) or an LSOA-to-ward lookup (e.g. LSOA21CD, WD24CD, WD24NM), "
               "so that the Summary page can group sites by ward. The fictional demo has no wards.")
    st.file_uploader("Ward file", type=TYPES["wards"], key="up_wards_only", on_change=_add_wards)
    if st.session_state.get("wards_error"):
        st.error(f"**The ward file could not be used.** {shared.md(st.session_state['wards_error'])} "
                 "The data in use has not changed.", icon="🚫")
