"""Possible disposals seen in HM Land Registry's change-only files, told to the followers of the sites they are.

:func:`assets_map.community.ownership.disposals` lists an anchor's titles deleted from a
change-only file or moved to another proprietor; each is matched to a register site by its
address and postcode (:func:`assets_map.community.acv.match_listings`, the same evidence as an ACV
listing's) and, when the match is medium or surer, the site's followers are told. CCOD and OCOD
are published open data, so the title number and the new proprietor may be told to anyone who
may see the site.
"""
from __future__ import annotations

import geopandas as gpd
import pandas as pd

from assets_map.community.acv import match_listings
from assets_map.schema import MEASURE_CRS
from assets_map.store import notify
from assets_map.store.base import Store
from assets_map.store.listings import LINKED
from assets_map.store.roles import NotAllowed, Role


def tell_disposals(store: Store, found: pd.DataFrame, *, role: Role) -> pd.DataFrame:
    """Match possible disposals to the sites ``role`` may see and tell those sites' followers.

    Parameters
    ----------
    found : rows of :func:`assets_map.community.ownership.disposals` (``title_number``,
        ``property_address``, ``postcode``, ``change_date``, ``what``, ``new_proprietor``)
    role : an editor or admin (who runs the reconciliation)

    Returns
    -------
    DataFrame
        One row per title: ``title_number``, ``asset_id`` (None: no site), ``confidence_words``,
        ``evidence`` and ``told`` (inbox items made).
    """
    if role.kind not in ("editor", "admin"):
        raise NotAllowed(f"{role.user} may not record disposals (editors and admins may)")
    if found is None or not len(found):
        return pd.DataFrame(columns=["title_number", "asset_id", "confidence_words", "evidence", "told"])
    as_listings = gpd.GeoDataFrame(
        {"reference": found["title_number"].astype(str).tolist(),
         "address-text": found["property_address"].tolist(), "postcode": found["postcode"].tolist()},
        geometry=[None] * len(found), crs=MEASURE_CRS)
    matches = match_listings(as_listings, store.assets(role))
    told = []
    for rec, m in zip(found.to_dict("records"), matches.to_dict("records"), strict=True):
        if m["asset_id"] is None or m["confidence_words"] not in LINKED:
            told.append(0)
            continue
        told.append(_tell(store, m["asset_id"], rec))
    out = matches.rename(columns={"reference": "title_number"})[["title_number", "asset_id", "confidence_words",
                                                                 "evidence"]]
    out["told"] = told
    return out


def _tell(store: Store, asset_id: str, rec: dict) -> int:
    when = rec.get("change_date")
    when = when.isoformat() if hasattr(when, "isoformat") else (str(when) if when else "")
    new_owner = rec.get("new_proprietor")

    def message(role: Role):
        site = store.get(asset_id, role) or {}
        name = site.get("name") or f"site {asset_id}"
        to = f" to {new_owner}" if isinstance(new_owner, str) and new_owner else ""
        return (f"{name}: a possible disposal in HM Land Registry's records",
                f"HM Land Registry's change file shows {rec['what']}{to} for title {rec['title_number']}"
                + (f" ({when})" if when else "") + f", which matches {name}. Check with the owner.")

    return notify.post(store, asset_id, kind="disposal", source_key=f"disposal:{rec['title_number']}:{when}",
                       message=message)
