"""A planning.data.gov.uk brownfield-land extract is brownfield land of unknown ownership, not an anchor's register.

The national extract in ../shared/data (``organisation, latitude, longitude, hectares, end-date``)
and a fixture in the layout with a ``dataset`` column and WKT points: read as brownfield sites, no
organisation given as their owner, none flagged for transfer.
"""
from __future__ import annotations

from assets_map.engine.pipeline import analyse
from assets_map.io.importer import import_file


def test_national_extract_is_brownfield_of_unknown_ownership(shared):
    gdf, report = import_file(shared("england", "brownfield_points_2020.csv"))
    assert "planning.data.gov.uk extract" in report.adapter
    assert len(gdf) == 25080 and (gdf["ownership"] == "unknown").all()
    assert gdf["organisation"].isna().all() and (gdf["anchor_type"] == "other").all()
    assert gdf["brownfield_ref"].isna().all()  # no public land: no underuse evidence
    assert any("no ownership column" in i.message for i in report.issues)


def test_dataset_column_layout_is_never_flagged(tmp_path, trafford):
    p = tmp_path / "brownfield-land.csv"
    p.write_text("dataset,entity,organisation,point,hectares,end-date\n"
                 "brownfield-land,1001,local-authority-eng:TRF,POINT(-2.3551 53.4512),0.5,\n"
                 "brownfield-land,1002,local-authority-eng:TRF,POINT(-2.3301 53.4412),1.2,\n", encoding="utf-8")
    gdf, report = import_file(p)
    assert "planning.data.gov.uk extract" in report.adapter
    assert gdf["organisation"].isna().all() and gdf.geometry.notna().all() and not gdf.geometry.is_empty.any()
    result = analyse(p, trafford["lsoa11"], trafford["iod_long"])
    assert not result.assets["priority"].isin(["High", "Medium"]).any()
