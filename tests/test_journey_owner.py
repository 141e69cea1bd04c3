"""Issue 17 item 5, "who owns this?", in the app: freehold parcels uploaded on Your data, each site given the
parcel it lies in, and a click on any parcel at street zoom saying who owns it (the open data names no owner:
the words give the HM Land Registry title search). Real City of London parcels (../shared/data/london), the City's
LSOAs cut from the national file, IoD 2025; Debian chromium with every non-local request blocked."""
from __future__ import annotations

import re

import geopandas as gpd
import pytest

from assets_map.io.uploads import Upload, check_uploads
from assets_map.maps.draw import map_data
from tests.helpers import app_in_browser


@pytest.fixture(scope="module")
def city(shared, tmp_path_factory):
    """The City of London's need areas and a small register whose sites lie in known parcels."""
    d = tmp_path_factory.mktemp("city")
    lsoa = gpd.read_file(shared("england", "lsoa21_boundaries_ew.gpkg"), engine="pyogrio")
    lsoa = lsoa[lsoa["lsoa21_name"].str.startswith("City of London")]
    bnd = d / "city_lsoa21.geojson"
    lsoa.to_crs(4326).to_file(bnd, engine="pyogrio")
    parcels = gpd.read_file(shared("london", "inspire_city_of_london.geojson"), engine="pyogrio").to_crs(27700)
    parcels = parcels[parcels.is_valid].copy()
    parcels["a"] = parcels.area
    pick = parcels.sort_values("a", ascending=False).iloc[[10, 20, 30]]
    pts = pick.geometry.representative_point().to_crs(4326)
    reg = d / "city_register.csv"
    reg.write_text("OrganisationLabel,AssetCode,PropertyName,GeoX,GeoY,TenureType,HoldingType,TenureDetail\n" + "".join(
        f"City of London Corporation,C{i},Site {i},{p.x:.6f},{p.y:.6f},Freehold,Land & Building,Vacant\n"
        for i, p in enumerate(pts, start=1)), encoding="utf-8")
    return {"register": reg, "boundaries": bnd, "deprivation": shared("england", "imd2025_lsoa21_scores_ranks_deciles.csv"),
            "parcels": shared("london", "inspire_city_of_london.geojson"), "picked": pick}


def test_each_site_gets_its_parcel_and_every_parcel_says_who_owns_it(city):
    up = {k: Upload(city[k].name, city[k].read_bytes()) for k in ("register", "boundaries", "deprivation")}
    checked = check_uploads(up, parcels=[Upload(city["parcels"].name, city["parcels"].read_bytes())])
    assets = checked.analysis.assets.set_index("asset_id")
    # independently: the parcel holding each site's point, by shapely
    parcels = gpd.read_file(city["parcels"], engine="pyogrio").to_crs(27700)
    for i in range(1, 4):
        p = assets.loc[f"C{i}", "geometry"]
        hits = parcels[parcels.make_valid().contains(p)]
        assert assets.loc[f"C{i}", "parcel_id"] in set(hits["area"].str.replace("landregistry-index:", "", regex=False))
    every = checked.analysis.places["parcels"]
    assert len(every) >= 3600 and any("freehold parcels" in n for n in checked.notes)
    data = map_data(checked.analysis.assets, checked.analysis.needs, parcels=every)
    feats = data.parcels["features"]
    # every parcel with an outline is drawn (one published parcel repairs to nothing drawable)
    assert len(feats) >= len(every) - 1 and len(feats) == len({f["properties"]["parcel_id"] for f in feats})
    words = {f["properties"]["parcel_id"]: f["properties"] for f in feats}
    held = words[assets.loc["C1", "parcel_id"]]
    assert held["owner_words"].startswith("Registered freehold parcel (INSPIRE ID ")
    assert "title search at HM Land Registry" in held["owner_words"]
    assert "Site 1 (City of London Corporation)" in held["sites_here"]
    # a click at a site's point finds its parcel, by the same words
    from assets_map.maps.draw import parcel_at

    pt = gpd.GeoSeries([assets.loc["C2", "geometry"]], crs=27700).to_crs(4326).iloc[0]
    found = parcel_at(every, checked.analysis.assets, lon=pt.x, lat=pt.y)
    assert found["parcel_id"] == assets.loc["C2", "parcel_id"] and "Site 2" in found["sites_here"]
    assert parcel_at(every, checked.analysis.assets, lon=-2.3, lat=53.45) is None  # Trafford: no parcel loaded there


@pytest.mark.browser
def test_who_owns_this_in_the_browser(city, tmp_path):
    with app_in_browser(tmp_path / "register.sqlite", last_shot="who-owns-last.png") as (url, page, blocked):
        page.goto(url + "/data")
        page.get_by_text("Asset register (CSV").first.wait_for(timeout=90_000)
        inputs = page.locator("input[type=file]")
        for i, key, shown in ((0, "register", "looks like an asset register"), (1, "boundaries", "looks like LSOA"),
                              (2, "deprivation", "looks like an English Indices"),
                              (9, "parcels", "looks like freehold parcels")):
            inputs.nth(i).set_input_files(str(city[key]))
            page.get_by_text(re.compile(re.escape(shown))).first.wait_for(timeout=90_000)
        page.get_by_role("button", name="Check these files").click()
        page.get_by_text(re.compile(r"freehold parcels; 3 of 3 sites lie in one")).wait_for(timeout=180_000)
        page.get_by_role("button", name="Use this data").click()
        page.get_by_text("3 of 3 sites shown").first.wait_for(timeout=60_000)
        page.get_by_role("link", name="Map").click()
        frame = page.frame_locator("iframe[title*='streamlit_folium']").first
        frame.locator(".leaflet-container").wait_for(timeout=90_000)
        for _ in range(3):
            frame.locator(".leaflet-control-zoom-in").click()
            page.wait_for_timeout(700)
        assert frame.locator(".leaflet-container.am-zoomed-in").count() == 1
        assert frame.locator("path.am-parcel").count() > 100
        # a point inside a parcel in view (the middle of the largest parcel drawn), clicked where it is drawn
        inner = next(f for f in page.frames if f.url and "streamlit_folium" in f.url)
        xy = inner.evaluate("""() => {
            const m = window.map, view = m.getBounds(); let best = null, size = 0;
            m.eachLayer(l => { if (l.feature && l.feature.properties && l.feature.properties.parcel_id && l.getBounds) {
                const b = l.getBounds(); if (!view.contains(b)) return;
                const s = (b.getEast() - b.getWest()) * (b.getNorth() - b.getSouth());
                if (s > size) { size = s; best = l; } } });
            const p = m.latLngToContainerPoint(best.getCenter()); return [p.x, p.y]; }""")
        frame.locator(".leaflet-container").click(position={"x": xy[0], "y": xy[1]})
        # the panel beside the map says who owns the parcel clicked (the click also sets "near here")
        page.get_by_text("Who owns this parcel?").wait_for(timeout=60_000)
        words = page.get_by_text(re.compile(r"Registered freehold parcel \(INSPIRE ID \d+\)"))
        words.wait_for(timeout=30_000)
        assert "title search at HM Land Registry" in words.inner_text()
        page.screenshot(path=str(tmp_path / "who-owns.png"))
        # nothing but basemap tiles was asked of the outside (tiles fail offline; the map says so and goes on)
        assert all("tile.openstreetmap.org" in u or "basemaps" in u for u in blocked), blocked
