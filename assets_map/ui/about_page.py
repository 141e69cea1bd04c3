"""About page: what assets-map shows, how a site gets flagged, and what it cannot tell you."""
from __future__ import annotations

import streamlit as st

from assets_map.schema import data_dictionary
from assets_map.ui import shared, state

ABOUT = """
**assets-map** puts the land and buildings of *anchor institutions* (councils, NHS trusts, universities,
colleges, housing associations, police and fire services) on a map against community need, and points out
sites that may be under-used and could serve the community: through community asset transfer, a community
land trust, or listing as an Asset of Community Value.

### How a site gets flagged: three layers, each explained
1. **Underuse evidence**: facts from the owner's own records: declared surplus, vacant or partly vacant; floor
   space reported empty or under-used (NHS returns); land not delivering services; on a brownfield register;
   how long it has been vacant. Each fact adds a capped amount and carries a confidence. Only a visit or a
   conversation with the owner makes it certain.
2. **Transferability**: who owns it and how (freehold or lease), whether it is let to someone else, and the
   route that owner type has for community ownership.
3. **Need**: how deprived the neighbourhood (LSOA) is, from the English Indices of Deprivation: decile 1 is
   the most deprived 10% of areas in England.

**Priority** combines them: **High** = strong evidence of underuse in one of the 30% most deprived areas;
**Medium** = strong evidence in a middling area, or some evidence in a deprived one; **Low** = some evidence
elsewhere, or where need could not be assessed. Parks, greenspace, allotments and land already in community
use are **never** flagged. Every flag lists its reasons, each with its source and date.

### What it cannot tell you
It does not say a site is available, or on what terms. Registers go out of date; legal title, covenants,
planning constraints (conservation areas, flood zones...) and condition are **not checked** unless a layer for
them is loaded, and the card says so rather than calling a site clear.

### Taking a site further
Open the site's card: it names the owner and how to contact them, and the routes to community ownership that
apply to that kind of owner, in plain words. Shortlist sites, download a site pack, and start a conversation.
"""


def render() -> None:
    """The About page: how assets-map works, the data in use and the data dictionary."""
    st.title("How assets-map works")
    shared.banner()
    st.markdown(ABOUT)
    res = state.analysis()
    st.subheader("The data in use")
    for line in res.summary_lines():
        st.markdown(f"- {shared.md(line)}")
    with st.expander("What every column means (data dictionary)"):
        table = data_dictionary("assets").replace({"m2": "m²"})
        st.dataframe(table.fillna(""), hide_index=True, width="stretch")
