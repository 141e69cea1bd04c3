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
    chart, side = st.columns([5, 1])
    if label == "need decile":
        chart.bar_chart(data, color=PRIORITY_COLOURS, x_label=label, y_label="flagged sites")
    else:
        with chart:
            _named_bars(data, label)
    if apart.any():
        rows = table[apart]
        side.metric("not placed on the map" if label != "need decile" else "with no need data",
                    f"{int(rows['sites'].sum()):,}", help="Sites with no location (or outside the need areas "
                    "loaded), so in no group of the chart; "
                    f"{int(rows[['High', 'Medium', 'Low']].to_numpy().sum()):,} of them flagged.")


#: Bars drawn at most on a chart of named groups (the table under it lists every group).
MAX_BARS = 40
#: Group names whose plural is not the name and an "s".
_PLURALS = {"LSOA (need area)": "LSOAs (need areas)"}


def _named_bars(data: pd.DataFrame, label: str) -> None:
    """Flagged sites by a named group (organisation, ward...) as horizontal bars, every name written in full.

    Streamlit's own bar chart cuts axis labels at 200 pixels ("Ashbridge Borou…"); here each name gets
    the room it needs, one bar per line, the groups with the most flagged sites first.
    """
    import altair as alt

    data = data[data.sum(axis=1) > 0]
    if data.empty:
        st.caption("No site shown is flagged.")
        return
    data = data.loc[data.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    if len(data) > MAX_BARS:
        groups = _PLURALS.get(label, f"{label}s")
        st.caption(f"The {MAX_BARS} {groups} with the most flagged sites, of {len(data):,}; the table lists them all.")
        data = data.iloc[:MAX_BARS]
    names = [str(v) for v in data.index]
    long = data.set_axis(names).rename_axis("group").reset_index().melt(
        id_vars="group", var_name="priority", value_name="sites")
    long["order"] = long["priority"].map({"High": 0, "Medium": 1, "Low": 2})
    bars = alt.Chart(long).mark_bar().encode(
        y=alt.Y("group:N", sort=names, title=None, axis=alt.Axis(labelLimit=0, labelFontSize=13, labelOverlap=False)),
        x=alt.X("sum(sites):Q", title="flagged sites", axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("priority:N", title="Priority",
                        scale=alt.Scale(domain=["High", "Medium", "Low"], range=PRIORITY_COLOURS),
                        legend=alt.Legend(orient="bottom")),
        order=alt.Order("order:Q"),
        tooltip=[alt.Tooltip("group:N", title=label), alt.Tooltip("priority:N", title="priority"),
                 alt.Tooltip("sites:Q", title="flagged sites")],
    )
    st.altair_chart(bars, width="stretch", height=30 * len(names) + 120)  # the bars, then the axis and the legend


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
