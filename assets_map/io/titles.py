"""The publisher named in a register's title lines, for a register with no organisation column.

District registers often carry the owner only in a title above the header ("Anytown District Council",
"Land and property held by Northshire County Council, March 2024"). Without it every site would have no
owner and the route would be "the owner's own disposal policy". The title line naming an organisation
gives the owner of every row, said in the report; a register with its own organisation column keeps it.
"""
from __future__ import annotations

import re

import pandas as pd

from assets_map.io.normalise import anchor_type_of

#: An organisation named in a line of text: a council, an NHS trust, a university, college, police or fire body.
_ORG = re.compile(
    r"((?:[A-Z][\w'’&.-]*\s+(?:(?:and|of|upon|on|in|the|le)\s+)?){1,6}"
    r"(?:(?:City|County|District|Borough|Metropolitan Borough|Town|Parish)\s+)?Council"
    r"|(?:[A-Z][\w'’&.-]*\s+){1,8}NHS\s+(?:Foundation\s+)?Trust"
    r"|(?:London|Royal)\s+Borough\s+of\s+(?:[A-Z][\w'’&.-]*\s*){1,3}"
    r"|University\s+of\s+(?:[A-Z][\w'’&.-]*\s*){1,4}|(?:[A-Z][\w'’&.-]*\s+){1,4}University"
    r"|(?:[A-Z][\w'’&.-]*\s+){1,4}(?:Constabulary|Police|Fire and Rescue (?:Service|Authority)|Combined Authority))")
_NOT_START = re.compile(r"^(?:Land|Property|Properties|Assets?|Register|Held|By|Owned|The|Of|And|List|Schedule)\s+")


def title_lines(rows) -> list[str]:
    """The text of the lines above a header (each line's filled cells joined), for :func:`owner_from_titles`."""
    out = []
    for row in rows:
        cells = [str(v).strip() for v in row if v is not None and not (isinstance(v, float) and v != v) and str(v).strip()]
        if cells:
            out.append(" ".join(cells))
    return out


def owner_in(line: str) -> str | None:
    """The organisation a title line names ("Land held by Anytown District Council" -> "Anytown District Council")."""
    m = _ORG.search(line)
    if not m:
        return None
    name = m.group(1).strip()
    while _NOT_START.match(name):
        name = _NOT_START.sub("", name, count=1)
    return name if len(name.split()) >= 2 else None


def owner_from_titles(canon: pd.DataFrame, titles: list[str], report) -> None:
    """Set ``organisation`` of every row of ``canon`` from the first title line naming one (when none is given)."""
    if not titles or canon["organisation"].notna().any():
        return
    for line in titles:
        owner = owner_in(line)
        if owner:
            canon["organisation"] = owner
            if (canon["anchor_type"] == "other").all():
                canon["anchor_type"] = anchor_type_of(owner)
            report.add("fixed", f"no organisation column: the owner of every site is taken from the title line "
                       f"above the header ({owner!r})")
            return
