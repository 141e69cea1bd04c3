"""Hold-out files of the wrong kind: council lists of places that are not an anchor's land are refused.

A planning applications list, a premises licence register or food hygiene ratings name sites by address
and coordinates; read as a register they would give confident "assets" no anchor owns. Each is refused at
every register door (CLI import and analyse with exit 2 and one line; the app's register slot in one line),
unless it carries a register's own fields (tenure, holding type, floor area).
"""
from __future__ import annotations

import pandas as pd
import pytest

from assets_map.cli import main
from assets_map.io.importer import Upload, import_file
from assets_map.io.report import InputError
from assets_map.io.uploads import slot_problem

PLACES = {"Site Address": ["1 High Street, Sale"] * 3, "Easting": [378000, 378100, 378200],
          "Northing": [392000] * 3}
LISTINGS = {
    "planning applications": {"Application Reference": ["123/24", "124/24", "125/24"],
                              "Proposal": ["Single storey rear extension"] * 3, "Decision": ["Approved"] * 3},
    "premises licences": {"Licence Number": ["PL1", "PL2", "PL3"], "Premises Name": ["The Bull", "Cafe", "Shop"],
                          "Licensable Activities": ["Sale of alcohol"] * 3},
    "food hygiene ratings": {"FHRSID": [1, 2, 3], "BusinessName": ["A", "B", "C"], "RatingValue": [5, 4, 3]},
}


@pytest.mark.parametrize("kind", sorted(LISTINGS))
def test_a_listing_is_refused_at_every_register_door(tmp_path, kind):
    path = tmp_path / "listing.csv"
    pd.DataFrame({**LISTINGS[kind], **PLACES}).to_csv(path, index=False)
    with pytest.raises(InputError, match="this looks like") as err:
        import_file(path)
    assert "\n" not in str(err.value) and kind.split()[0] in str(err.value).lower()
    assert main(["import", str(path)]) == 2
    problem = slot_problem("register", Upload("listing.csv", path.read_bytes()))
    assert problem and problem.startswith("listing.csv") and "\n" not in problem


def test_a_register_carrying_application_references_is_still_a_register(tmp_path):
    path = tmp_path / "register.csv"
    pd.DataFrame({**LISTINGS["planning applications"], **PLACES, "Asset Name": ["A", "B", "C"],
                  "Tenure": ["Freehold"] * 3}).to_csv(path, index=False)
    out, _ = import_file(path)
    assert len(out) == 3
