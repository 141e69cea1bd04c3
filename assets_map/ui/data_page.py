"""Your data: upload a register, boundaries, deprivation, postcodes, wards and layers; check; then confirm.

Nothing replaces the data in use until the user has read the validation report
and pressed "Use this data". Each file is looked at as soon as it is uploaded, with
the CLI's own kind detection (:func:`assets_map.io.uploads.looks_like`): the page says
in one line what it looks like, and where it belongs when that is another slot. A file
that cannot be used shows a clear one-line error and leaves the data in use exactly
as it was; no upload, in any slot, shows a traceback.
"""
from __future__ import annotations

import hashlib
import logging
import re

import pandas as pd
import streamlit as st

from assets_map.engine.bounded import run_bounded
from assets_map.engine.pipeline import rescore
from assets_map.io.report import InputError, rows_text
from assets_map.io.uploads import (
    KINDS,
    LAYER_SLOTS,
    REQUIRED,
    SLOT_NAMES,
    Upload,
    check_uploads,
    constraint_words,
    looks_like,
    ownership_verdict,
    slot_problem,
    with_wards,
)
from assets_map.ui import identity, shared, state
from assets_map.ui.finder_page import FACILITIES

STAGED = "staged_uploads"
LAYERS = "staged_layers"  # exclusion layers, partner facilities (lists) and the locations of NHS sites
VERDICTS = "upload_verdicts"  # (slot, name, digest) -> (fits, one line)
PENDING = "pending_upload"
ERROR = "upload_error"
IOD_CHOICES = ("as the file states", 2015, 2019, 2025)
_LOG = logging.getLogger(__name__)
MAPS = ["gpkg", "geojson", "json", "zip"]
TYPES = {
    "register": ["csv", "txt", "tsv", "xlsx", "xls", "ods", "gpkg", "geojson", "json", "zip"],
    "boundaries": MAPS,
    "deprivation": ["csv", "txt", "tsv", "xlsx", "xls", "ods"],
    "postcodes": ["csv", "txt", "tsv"],
    "wards": [*MAPS, "csv", "txt", "xlsx", "ods"],
    "exclude": MAPS,
    "facilities": MAPS,
    "locations": [*MAPS, "csv", "txt"],
    "constraints": [*MAPS, "csv", "txt", "parquet"],
    "parcels": [*MAPS, "gml", "parquet"],
    "ownership": ["csv", "zip"],
}
MULTIPLE = ("exclude", "facilities", "constraints", "parcels", "ownership")
INTRO = """
Load your own files to see **your** land and buildings against need. Files stay in this browser session and are
gone when you close the tab (download what you want to keep). You need an **asset register** and **need area
boundaries** (LSOA polygons); the rest is optional. Each file is looked at as you add it, and everything is checked
before anything changes.
"""
# The CLI's option names in messages the engine shares with the command line, in the app's words.
_APP_WORDS = [
    (re.compile(r"the asset register \(--assets, the app's 'Asset register' slot\)"), "the Asset register slot"),
    (re.compile(r"wards \(the app's 'Wards' slot, or find-sites --wards\)"), "the Wards slot"),
    (re.compile(r"--[a-z-]+ \(the app's '([^']+)' slot\)"), r"the \1 slot"),
    (re.compile(r"give it with --iod-year \("), "choose its edition under Deprivation data ("),
    (re.compile(r"give --iod-year (\d{4})"), r"choose the \1 edition under Deprivation data"),
    (re.compile(r"but --iod-year (\d{4}) was given; drop --iod-year"),
     r"but the \1 edition was chosen; choose 'as the file states'"),
    (re.compile(r"\(--locations\)"), "(add one in the Locations of NHS sites slot)"),
    (re.compile(r"--iod-year"), "the edition of the Indices of Deprivation"),
]


def app_words(text) -> str:
    """A message from the engine with the command line's option names said the way the app says them."""
    out = str(text)
    for pattern, repl in _APP_WORDS:
        out = pattern.sub(repl, out)
    return out


def _upload(f) -> Upload:
    return Upload(f.name, f.getvalue())


def _on_upload(slot: str) -> None:
    f = st.session_state.get(f"up_{slot}")
    if slot in LAYER_SLOTS:
        layers = st.session_state.setdefault(LAYERS, {})
        if slot in MULTIPLE:
            layers[slot] = [_upload(x) for x in f or []]
        elif f is None:
            layers.pop(slot, None)
        else:
            layers[slot] = _upload(f)
    else:
        staged = st.session_state.setdefault(STAGED, {})
        if f is None:
            staged.pop(slot, None)
        else:
            staged[slot] = _upload(f)
    st.session_state.pop(ERROR, None)


def _verdict(slot: str, up: Upload) -> tuple[bool, str]:
    """(fits, one line): what the file looks like, or why it does not belong in this slot; kept per file."""
    key = (slot, up.name, hashlib.sha256(up.data).hexdigest())
    cache = st.session_state.setdefault(VERDICTS, {})
    if key not in cache:
        limits = state.budgets()[0]
        try:
            if slot == "parcels":  # read by the parcels reader alone (the published zip holds GML)
                problem = slot_problem(slot, up, limits=limits)
                cache[key] = (False, problem) if problem else (
                    True, f"{up.name}: looks like freehold parcels (HM Land Registry INSPIRE Index Polygons)")
                return cache[key]
            if slot == "ownership":  # recognised by its layout, then read whole as reconcile reads it
                problem = slot_problem(slot, up, limits=limits)
                cache[key] = (False, problem) if problem else (True, ownership_verdict(up, limits=limits))
                return cache[key]
            looks = looks_like(up, limits=limits)
            problem = slot_problem(slot, up, limits=limits, looks=looks)
            words = constraint_words(up, limits=limits) if slot == "constraints" and not problem else looks.words
            if looks.kind == "unknown" and not problem:  # nothing to tell it by: its slot's reader decides
                words = None
            cache[key] = (False, problem) if problem else (True, f"{up.name}: looks like {words}" if words else
                                                           f"{up.name}: to be read as {SLOT_NAMES[slot].lower()} "
                                                           "when you check the files")
        except InputError as exc:
            cache[key] = (False, str(exc))
        except Exception as exc:  # noqa: BLE001 - never a traceback for an upload: one line, details to the log
            _LOG.exception("looking at an upload for %s", slot)
            cache[key] = (False, f"{up.name}: could not be read ({type(exc).__name__}); is it the file you meant?")
    return cache[key]


def _show_verdicts(slot: str, ups: list[Upload]) -> None:
    for up in ups:
        fits, line = _verdict(slot, up)
        if fits:
            st.caption(shared.md(line))
        else:
            st.error(shared.md(app_words(line)), icon=":material/block:")


def _staged_layers() -> dict:
    return st.session_state.get(LAYERS, {})


def _iod_year() -> int | None:
    year = st.session_state.get("up_iod_year", IOD_CHOICES[0])
    return year if isinstance(year, int) else None


def _check() -> None:
    staged = dict(st.session_state.get(STAGED, {}))
    layers = _staged_layers()
    st.session_state.pop(PENDING, None)
    st.session_state.pop(ERROR, None)
    limits, job = state.budgets()
    weights = st.session_state.get("rw_weights", "") or None
    try:
        st.session_state[PENDING] = run_bounded(
            check_uploads, staged, weights=weights, limits=limits, exclude=list(layers.get("exclude", [])),
            facilities=list(layers.get("facilities", [])), locations=layers.get("locations"), iod_year=_iod_year(),
            constraints=list(layers.get("constraints", [])), parcels=list(layers.get("parcels", [])),
            ownership=list(layers.get("ownership", [])), budget=job,
            what="checking your files")
    except (InputError, RuntimeError) as exc:
        st.session_state[ERROR] = app_words(exc)
    except Exception as exc:  # noqa: BLE001 - never a traceback for an upload: one line, details to the log
        _LOG.exception("checking uploads")
        st.session_state[ERROR] = (f"the files could not be analysed ({type(exc).__name__}: "
                                   f"{' '.join(str(exc).split())[:200]}); please report this with the files")


def _confirm() -> None:
    pending = st.session_state.pop(PENDING, None)
    if pending is not None:
        pending.analysis.settings["contacts"] = _register_contacts()
        state.use_data(pending.analysis, pending.label)
        if pending.facilities is not None:
            st.session_state[FACILITIES] = pending.facilities
        else:
            st.session_state.pop(FACILITIES, None)
        st.session_state["data_message"] = f"Now showing {pending.label}."


def _register_contacts() -> dict:
    """The owners' estates contacts the register holds, so the cards and packs of uploaded data show them too.

    A register that does not exist yet is not created for this; one that cannot be read gives none.
    """
    from pathlib import Path

    from assets_map.store import default_location

    where = default_location()
    if not where.startswith(("postgresql://", "postgres://")) and not Path(where).is_file():
        return {}
    try:
        return identity.shared_store().contacts_by_owner()
    except Exception:  # noqa: BLE001 - unreachable or unreadable: cards say no contact is set
        _LOG.warning("the register's contacts could not be read", exc_info=True)
        return {}


def _back_to_demo() -> None:
    state.use_data(None)
    st.session_state.pop(PENDING, None)
    st.session_state.pop(FACILITIES, None)
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
    issues = pd.DataFrame([{"What": i.kind, "Problem": app_words(i.message),
                            "Rows": rows_text(i.rows) if i.rows else ""} for i in rep.issues])
    if not issues.empty:
        st.dataframe(issues, hide_index=True, width="stretch",
                     column_config={"What": st.column_config.TextColumn(width="small"),
                                    "Problem": st.column_config.TextColumn(width="large"),
                                    "Rows": st.column_config.TextColumn(width="medium")})
    for w in [*pending.cautions, *pending.analysis.warnings]:
        st.warning(shared.md(app_words(w)), icon=":material/warning:")
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
    except Exception as exc:  # noqa: BLE001 - never a traceback: one line, the details to the log
        _LOG.exception("re-weighting")
        st.session_state["reweight_error"] = f"the weights could not be applied ({type(exc).__name__}); please report this"
        return
    st.session_state.pop("reweight_error", None)
    demo = state.is_demo()
    label = state.data_label().split(" (need weighted:")[0]
    if text:
        label += f" (need weighted: {text})"
    state.use_data(result, label, demo=demo)
    st.session_state["data_message"] = "Need re-weighted: " + (text or "overall IMD") + "."


def _add_wards() -> None:
    up = st.session_state.get(STAGED, {}).get("wards")
    if up is None:
        return
    limits, job = state.budgets()
    try:
        result, note = run_bounded(with_wards, state.analysis(), up, limits=limits, budget=job,
                                   what="adding the wards")
    except (InputError, RuntimeError) as exc:
        st.session_state["wards_error"] = app_words(exc)
        return
    except Exception as exc:  # noqa: BLE001 - never a traceback for an upload: one line, the details to the log
        _LOG.exception("adding wards")
        st.session_state["wards_error"] = f"{up.name} could not be read as wards ({type(exc).__name__})"
        return
    st.session_state.pop("wards_error", None)
    state.use_data(result, state.data_label(), demo=state.is_demo())
    st.session_state["data_message"] = note


def _uploader(slot: str, label: str, *, required: bool = False, help: str | None = None) -> None:
    st.file_uploader(label + (" (required)" if required else " (optional)"), type=TYPES[slot],
                     accept_multiple_files=slot in MULTIPLE, key=f"up_{slot}", on_change=_on_upload, args=(slot,),
                     help=help)
    got = _staged_layers().get(slot) if slot in LAYER_SLOTS else st.session_state.get(STAGED, {}).get(slot)
    _show_verdicts(slot, got if isinstance(got, list) else [got] if got is not None else [])


def _files_section() -> None:
    st.subheader("Your files")
    left, right = st.columns(2)
    with left:
        for slot in REQUIRED:
            _uploader(slot, KINDS[slot], required=True)
        _uploader("deprivation", KINDS["deprivation"])
        if "deprivation" in st.session_state.get(STAGED, {}) or "boundaries" in st.session_state.get(STAGED, {}):
            st.selectbox("Edition of the Indices of Deprivation", IOD_CHOICES, key="up_iod_year",
                         format_func=lambda y: y if isinstance(y, str) else f"IoD {y}",
                         help="Read from the file's headers, codes or name. Choose it only when the check says the "
                              "file does not state its edition (2019 for LSOA 2011 codes, 2025 for LSOA 2021).")
        _uploader("postcodes", KINDS["postcodes"])
    with right:
        _uploader("wards", KINDS["wards"])
        for slot, label in LAYER_SLOTS.items():
            _uploader(slot, label + (" (GeoPackage, GeoJSON or zipped Shapefile)"
                                     if slot not in ("locations", "parcels", "ownership") else ""))


def _weights_section() -> None:
    w = state.analysis().settings.get("weights") or {"imd": 1.0}
    st.text_input("Need weights (optional)", key="rw_weights", placeholder="e.g. income=2, health=1",
                  help="Leave empty to use the overall Index of Multiple Deprivation. Otherwise give domains and "
                       "weights: income, employment, education, health, crime, housing, environment, idaci, idaopi. "
                       "Used when your files are checked, or applied to the data in use with the button.")
    st.caption("Priorities use the overall Index of Multiple Deprivation unless you weight the domains that matter "
               "for your purpose, e.g. income=2, health=1 for a health project. In use now: "
               + shared.md(", ".join(f"{k} x{v:g}" for k, v in w.items())) + ".")


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
    _files_section()
    _weights_section()
    staged = st.session_state.get(STAGED, {})
    names = [f"{SLOT_NAMES[k]}: {u.name}" for k, u in staged.items()]
    for slot, got in _staged_layers().items():
        names += [f"{SLOT_NAMES[slot]}: {u.name}" for u in (got if isinstance(got, list) else [got])]
    if names:
        st.caption("Ready to check: " + shared.md(", ".join(names)))
    has_register = "register" in staged
    c1, c2, c3 = st.columns(3)
    c1.button("Check these files", key="check_upload", on_click=_check, disabled=not has_register, type="primary")
    c2.button("Apply the weights to the data in use", key="apply_weights", on_click=_reweight)
    if "wards" in staged and not has_register:
        c3.button("Add these wards to the data in use", key="add_wards", on_click=_add_wards)
    for key, what in (("reweight_error", "The weights could not be used."),
                      ("wards_error", "The ward file could not be used.")):
        if st.session_state.get(key):
            st.error(f"**{what}** {shared.md(st.session_state[key])} The data in use has not changed.",
                     icon=":material/block:")
    err = st.session_state.get(ERROR)
    if err:
        st.error(f"**These files could not be used.** {shared.md(err)}\n\nThe data in use has not changed: "
                 f"still {shared.md(state.data_label())}. Fix the file and check again.", icon=":material/block:")
    pending = st.session_state.get(PENDING)
    if pending is not None:
        _report(pending)
