"""Download buttons: the layers the CLI writes, named as the CLI names them, in every format the export code writes."""
from __future__ import annotations

import hashlib
from dataclasses import asdict

import streamlit as st

from assets_map.engine.filters import Filters
from assets_map.io.downloads import FORMATS, LAYERS, download, download_layers, download_provenance
from assets_map.io.report import InputError
from assets_map.ui import shared, state

CACHE = "_download_cache"

#: What each layer holds, said on the page.
LAYER_HELP = {
    "assets": "the sites chosen above, every field",
    "candidates": "those of them flagged High, Medium or Low, with the reasons",
    "needs": "the need areas (LSOAs) of the analysis, with deprivation",
    "summary": "counts and areas of the chosen sites: all, by need decile, by owner, by area",
    "constraints": "the planning constraint answers for the chosen sites",
}


def _filters_record(what: str, sites) -> dict:
    """The filters of a download, for its provenance (only those set)."""
    if what == "shortlist":
        return {"shortlist": [str(i) for i in sites["asset_id"]]}
    now, default = asdict(state.filters()), asdict(Filters())
    return {k: v for k, v in now.items() if v != default[k]}


def buttons(sites, *, what: str, key: str, extra: dict | None = None, extra_note: str | None = None) -> None:
    """A choice of layers and format, and one download button for ``sites`` (built once per data, rows and choice).

    ``extra`` adds layers beside the analysis's: name -> ``(label, what it holds, frame)`` (the Land ownership
    reconciliation); ``extra_note`` goes into the provenance when one of them is in the file.
    """
    result = state.analysis()
    extra = extra or {}
    offered = [n for n in LAYERS if n != "constraints" or getattr(result, "constraints", None) is not None]
    offered += list(extra)
    labels = {**LAYERS, **{n: v[0] for n, v in extra.items()}}
    helps = {**LAYER_HELP, **{n: v[1] for n, v in extra.items()}}
    which = st.multiselect("Layers", offered, default=offered, key=f"{key}_layers",
                           format_func=lambda n: labels[n],
                           help="Named as the command line names them (assets-map analyse, export and reconcile): "
                                + "; ".join(f"{n}: {helps[n]}" for n in offered))
    fmt = st.radio("Format", list(FORMATS), format_func=lambda f: FORMATS[f][0], horizontal=True, key=f"{key}_fmt")
    if not which:
        st.info("Choose at least one layer to download.")
        return
    ids = "|".join(map(str, sites["asset_id"]))
    added = {n: extra[n][2] for n in which if n in extra}
    # the extra layers' rows change with decisions recorded since: their content is part of the key
    digest = hashlib.sha1((ids + "".join(f.drop(columns="geometry", errors="ignore").to_csv(index=False)
                                         for f in added.values())).encode()).hexdigest()
    cache_key = (state.data_version(), digest, fmt, tuple(which), what)
    hit = st.session_state.get(CACHE)
    if not hit or hit[0] != cache_key:
        name = f"assets-map-{what}" + ("-fictional-demo" if state.is_demo() else "")
        notes = (["fictional demo data"] if state.is_demo() else []) + ([extra_note] if added and extra_note else [])
        note = "; ".join(notes) or None
        try:
            layers = {**download_layers(result, sites, [n for n in which if n in LAYERS]), **added}
            prov = download_provenance(result, filters=_filters_record(what, sites), note=note)
            hit = (cache_key, download(layers, fmt, name=name, provenance=prov))
        except (InputError, ValueError) as exc:
            st.error(f"Could not prepare the {FORMATS[fmt][0]} file: {shared.md(exc)}")
            return
        st.session_state[CACHE] = hit
    filename, data, mime, notes = hit[1]
    label = f"Download {len(sites)} sites" + (" and the Land ownership reconciliation" if added else "")
    st.download_button(f"{label} as {FORMATS[fmt][0]}", data, file_name=filename, mime=mime,
                       key=f"{key}_button", type="primary", on_click="ignore")
    st.caption("Layers in the file: " + ", ".join(which) + ". With a data dictionary and the provenance: every "
               "input file with its size and SHA-256 hash, the settings and the filters.")
    for n in notes:
        st.caption(shared.md(n))
    if state.is_demo():
        st.caption("This is the fictional demo: every organisation and address in the file is marked (fictional).")
