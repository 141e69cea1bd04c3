"""Summary page: sites, hectares, floor area and flags by organisation, by need decile and by ward."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from assets_map.engine.summary import NO_DECILE, NO_NEED_AREA, UNPLACED, by_area, by_need_decile, by_organisation
from assets_map.ui import shared, state

PRIORITY_COLOURS = ["#b2182b", "#ef8a62", "#67a9cf"]


def _chart(table, label: str) -> None:
    """Flagged sites by group; sites not placed (or with no need data) are counted beside the chart, not as a bar."""
    apart = table[label].astype(str).isin([UNPLACED, NO_DECILE, NO_NEED_AREA])
    data = table[~apart].set_index(label)[["High", "Medium", "Low"]]
    numbers = pd.to_numeric(pd.Series(data.index), errors="coerce")
    if len(data) and numbers.notna().all():  # deciles in their order (1, 2, ... 10), not as text (1, 10, 2, ...)
        data.index = pd.Index(numbers.astype(int), name=label)
    across = label != "need decile"  # long names read better on horizontal bars
    chart, side = st.columns([5, 1])
    chart.bar_chart(data, color=PRIORITY_COLOURS, horizontal=across, x_label="flagged sites" if across else label,
                    y_label="" if across else "flagged sites")
    if apart.any():
        rows = table[apart]
        side.metric("not placed on the map" if label != "need decile" else "with no need data",
                    f"{int(rows['sites'].sum()):,}", help="Sites with no location (or outside the need areas "
                    "loaded), so in no group of the chart; "
                    f"{int(rows[['High', 'Medium', 'Low']].to_numpy().sum()):,} of them flagged.")


def _section(title: str, table, label: str, note: str) -> None:
    st.subheader(title)
    st.caption(note)
    _chart(table, label)
    shown = table.copy()
    for col, fmt in (("hectares", "{:,.2f}"), ("floor_area_m2", "{:,.0f}")):  # none recorded: said, not "None"
        if col in shown.columns:
            shown[col] = [fmt.format(v) if v == v else "not recorded" for v in shown[col].astype(float)]
    st.dataframe(shown.rename(columns={"floor_area_m2": "floor area (m²)"}), hide_index=True, width="stretch")


def render() -> None:
    """The Summary page: the sites shown counted by organisation, need decile and ward or area."""
    st.title("Summary")
    shared.banner()
    view, res = state.filtered()
    shared.count_line(res)
    st.markdown("Counts of the sites shown: how many each holds, their hectares and floor area, and how many "
                "are flagged at each priority (High, Medium, Low). Hectares and floor area add up only what "
                "the registers record.")
    tabs = st.tabs(["By organisation", "By need decile", "By ward or area"])
    with tabs[0]:
        _section("By organisation", by_organisation(view), "organisation",
                 "Which anchor institutions hold the sites, and how many of each are flagged.")
    with tabs[1]:
        _section("By need decile", by_need_decile(view), "need decile",
                 "Decile 1 is the most deprived 10% of areas in England. 'no need data' = sites not placed "
                 "or outside the need areas loaded.")
    with tabs[2]:
        table, used = by_area(view)
        if used == "ward":
            note = f"Wards from {state.analysis().settings.get('wards', 'the ward file loaded')}."
            label = "ward"
        else:
            note = ("No ward areas are loaded, so sites are grouped by need area (LSOA) instead. Load a ward "
                    "layer or an LSOA-to-ward lookup on the Your data page to group by ward.")
            label = "LSOA (need area)"
        _section("By ward" if used == "ward" else "By need area (LSOA)", table, label, note)
