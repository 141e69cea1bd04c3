"""Issue 17: the Download page offers the chosen anchor's Land ownership reconciliation (the Land ownership page's
report: titles with their placement tier in words, the matching rule, the decisions) beside the analysis layers,
in every export format, only when an ownership file is loaded; the file says the placements are approximate.
Each file is read back.
"""
from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import pandas as pd
import pyogrio
import pytest

from assets_map.community.ownership import TIERS, anchor_register, build_anchor, reconcile
from assets_map.io.downloads import FORMATS
from assets_map.io.landregistry import read_ownership
from assets_map.store import LOCAL_USER, SqliteStore
from assets_map.store.decisions import record_decision
from tests.helpers import RECONCILE_ANCHOR as ANCHOR
from tests.helpers import data_page


def _want(files, checked) -> pd.DataFrame:
    """The anchor's report by the engine alone, from the files (as `assets-map reconcile` makes it)."""
    a = checked.analysis
    anchor = build_anchor(ANCHOR)
    register, _ = anchor_register(a.assets, anchor)
    return reconcile(read_ownership(files["tmp"] / "CCOD_FULL.csv"), anchor, register=register,
                     postcodes=a.places.get("postcodes"), parcels=a.places.get("parcels")).rows


def _read_back(fmt: str, name: str, data: bytes, tmp_path) -> tuple[pd.DataFrame, str]:
    """The reconciliation layer of a download, and every text of the file (to find what it says)."""
    if fmt == "gpkg":
        path = tmp_path / name
        path.write_bytes(data)
        text = " ".join(pyogrio.read_dataframe(path, layer=n).astype(str).to_csv() for n, _ in
                        pyogrio.list_layers(path) if n != "reconciliation")
        return pyogrio.read_dataframe(path, layer="reconciliation"), text
    if fmt == "xlsx":
        sheets = pd.read_excel(io.BytesIO(data), sheet_name=None, dtype=str)
        return sheets["reconciliation"], " ".join(s.to_csv() for n, s in sheets.items() if n != "reconciliation")
    if fmt == "kml":
        text = data.decode("utf-8")
        folder = text[text.index("reconciliation"):]
        names = pd.Series(pd.Series(folder.split("<SimpleData name=\"title_number\">")[1:]).str.split("<").str[0])
        return pd.DataFrame({"title_number": names}), text
    if fmt == "geojson" and not data.startswith(b"PK"):
        raise AssertionError("several layers are zipped")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        z.extractall(tmp_path / fmt)
        text = " ".join(z.read(n).decode("utf-8", "replace") for n in names if not n.endswith((".shp", ".shx", ".dbf")))
    if fmt == "shp":
        shp = {n[:-4] for n in names if n.endswith(".shp")}  # a layer with no geometry is a .dbf alone
        parts = [pyogrio.read_dataframe(tmp_path / fmt / n) for n in names if "reconciliation" in n and
                 (n.endswith(".shp") or (n.endswith(".dbf") and n[:-4] not in shp))]
        got = pd.concat(parts, ignore_index=True)
        return got.rename(columns={c: "title_number" for c in got.columns if c.lower().startswith("title_numb")}), text
    if fmt == "geojson":
        fc = json.loads((tmp_path / fmt / next(n for n in names if "reconciliation" in n)).read_text())
        return pd.DataFrame([f["properties"] for f in fc["features"]]), text
    return pd.read_csv(tmp_path / fmt / next(n for n in names if "reconciliation" in n and n.endswith(".csv")),
                       dtype=str), text


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_download_page_offers_the_anchors_reconciliation_in_every_format(fmt, reconcile_files, reconcile_checked,
                                                                          ownership_store, local_visitor, tmp_path):
    want = _want(reconcile_files, reconcile_checked)
    decided = want[want["title_number"].notna()].iloc[0]
    record_decision(SqliteStore(ownership_store), anchor=ANCHOR, match_key=decided["match_key"], decision="rejected",
                    role=LOCAL_USER, note="sold in 2019")
    at = data_page("download_page", reconcile_checked)
    assert not at.exception, at.exception
    layers = at.multiselect(key="dl_layers")
    assert f"Land ownership: {ANCHOR} (reconciliation)" in layers.options and "reconciliation" in layers.value
    at.radio(key="dl_fmt").set_value(fmt).run()
    assert not at.exception, at.exception
    label = next(b.label for b in at.get("download_button"))
    assert "Land ownership reconciliation" in label, label
    name, data, mime, _ = at.session_state["_download_cache"][1]
    got, text = _read_back(fmt, name, data, tmp_path)
    titles = sorted(got["title_number"].dropna().astype(str).replace("", pd.NA).dropna())
    assert titles == sorted(want["title_number"].dropna()), (titles, fmt)
    assert "approximate" in text.lower() or "approximate" in got.astype(str).to_csv().lower()
    if fmt in ("gpkg", "xlsx", "csv", "geojson"):  # every column kept: tiers in words, the rule, the decision
        by_title = got.dropna(subset=["title_number"]).drop_duplicates("title_number").set_index("title_number")
        assert set(by_title["tier"]) <= set(TIERS) and by_title["anchor_rule"].notna().all()
        assert by_title["placement_note"].str.startswith("approximate").all()
        keyed = got.set_index("match_key")
        assert keyed.loc[decided["match_key"], "decision"] == "rejected"
        assert keyed.loc[decided["match_key"], "decision_note"] == "sold in 2019"
    if fmt in ("gpkg", "xlsx", "csv"):
        assert f"Land ownership reconciliation of {ANCHOR}: titles are placed approximate" in text


def test_the_reconciliation_is_offered_only_when_an_ownership_file_is_loaded(reconcile_checked, ownership_store,
                                                                             local_visitor):
    a = reconcile_checked.analysis
    bare = dataclasses.replace(reconcile_checked, analysis=dataclasses.replace(
        a, places={k: v for k, v in a.places.items() if not k.startswith("ownership")}))
    at = data_page("download_page", bare)
    assert not at.exception, at.exception
    assert not [o for o in at.multiselect(key="dl_layers").options if "reconciliation" in o]
    assert all("reconciliation" not in b.label for b in at.get("download_button"))
    at = data_page("download_page", reconcile_checked)
    assert [o for o in at.multiselect(key="dl_layers").options if "reconciliation" in o]
    assert any("placed approximately" in c.value for c in at.caption)
