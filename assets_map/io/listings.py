"""Council lists of places that are not the owner's land: planning applications, licences, hygiene ratings.

Each names sites by address and often by coordinates, so read as a register it would give hundreds of
confident "assets" that no anchor owns. They are told by the fields only they carry, unless the file also
holds a register's tenure, holding type or floor area, and refused with one line saying what they look like.
"""
from __future__ import annotations

import re

#: kind -> (what it is, folded header patterns: the file needs one of each group)
LISTINGS: dict[str, tuple[str, tuple[re.Pattern, ...]]] = {
    "planning applications": (
        "a list of planning applications (application references with proposals or decisions)",
        (re.compile(r"^(planning)?(application|app|case)(reference|ref|number|no|id)$"),
         re.compile(r"^(proposal|developmentdescription|decision|decisiondate|decisiontype|applicationtype|"
                    r"datevalid|validdate|validateddate|datereceived|receiveddate|appealstatus)$"))),
    "premises licences": (
        "a register of premises licences (licence numbers and types)",
        (re.compile(r"^licen[cs]e(number|no|reference|ref|id)$"),
         re.compile(r"^(licen[cs]etype|licensableactivities|licensabletype|typeoflicen[cs]e|activities|"
                    r"designatedpremisessupervisor|dps|premisesname)$"))),
    "food hygiene ratings": (
        "food hygiene ratings (FHRS ids and rating values)",
        (re.compile(r"^fhrsid$"), re.compile(r"^(ratingvalue|rating|ratingdate|businessname)$"))),
}
#: Register fields that make a file a register whatever else it carries.
_REGISTER_ONLY = ("tenure", "holding_type", "floor_area_m2", "site_area_ha")


def listing_kind(folded_headers: list[str], found: dict) -> tuple[str, str] | None:
    """``(why, refusal)`` when the headers (folded) are those of a listing that is not a register, else None.

    ``found`` is the register column match (canonical -> header) of the same file.
    """
    if any(k in found for k in _REGISTER_ONLY):
        return None
    for kind, (words, groups) in LISTINGS.items():
        if all(any(p.match(h) for h in folded_headers) for p in groups):
            return (f"{kind} columns",
                    f"is not an asset register: this looks like {words}: places in the area, not land an anchor "
                    "holds; give the owner's land and building register (or its brownfield register)")
    return None
