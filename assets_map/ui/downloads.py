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


def buttons(sites, *, what: str, key: str) -> None:
    """A choice of layers and format, and one download button for ``sites`` (built once per data, rows and choice)."""
    result = state.analysis()
    offered = [n for n in LAYERS if n != "constraints" or getattr(result, "constraints", None) is not None]
    which = st.multiselect("Layers", offered, default=offered, key=f"{key}_layers",
                           format_func=lambda n: LAYERS[n],
                           help="Named as the command line names them (assets-map analyse and export): "
                                + "; ".join(f"{n}: {LAYER_HELP[n]}" for n in offered))
    fmt = st.radio("Format", list(FORMATS), format_func=lambda f: FORMATS[f][0], horizontal=True, key=f"{key}_fmt")
    if not which:
        st.info("Choose at least one layer to download.")
        return
    ids = "|".join(map(str, sites["asset_id"]))
    cache_key = (state.data_version(), hashlib.sha1(ids.encode()).hexdigest(), fmt, tuple(which), what)
    hit = st.session_state.get(CACHE)
    if not hit or hit[0] != cache_key:
        name = f"assets-map-{what}" + ("-fictional-demo" if state.is_demo() else "")
        note = "fictional demo data" if state.is_demo() else None
        try:
            layers = download_layers(result, sites, which)
            prov = download_provenance(result, filters=_filters_record(what, sites), note=note)
            hit = (cache_key, download(layers, fmt, name=name, provenance=prov))
        except (InputError, ValueError) as exc:
            st.error(f"Could not prepare the {FORMATS[fmt][0]} file: {shared.md(exc)}")
            return
        st.session_state[CACHE] = hit
    filename, data, mime, notes = hit[1]
    st.download_button(f"Download {len(sites)} sites as {FORMATS[fmt][0]}", data, file_name=filename, mime=mime,
                       key=f"{key}_button", type="primary", on_click="ignore")
    st.caption("Layers in the file: " + ", ".join(which) + ". With a data dictionary and the provenance: every "
               "input file with its size and SHA-256 hash, the settings and the filters.")
    for n in notes:
        st.caption(shared.md(n))
    if state.is_demo():
        st.caption("This is the fictional demo: every organisation and address in the file is marked (fictional).")
