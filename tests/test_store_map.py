"""The register on the map: the public view is filtered where it is read, and every page can use it."""
import pytest
from streamlit.testing.v1 import AppTest

from assets_map.engine.demo import DEMO_PATH
from assets_map.engine.filters import Filters, apply_filters
from assets_map.io.provenance import sha256_of
from assets_map.store import LOCAL_USER, PUBLIC, open_store


@pytest.fixture()
def register(tmp_path, demo_result):
    store = open_store(tmp_path / "register.sqlite")
    store.import_analysis(demo_result, organisation="Ashbridge (fictional)", role=LOCAL_USER,
                          source_name=DEMO_PATH.name, file_sha256=sha256_of(DEMO_PATH),
                          exclude=demo_result.exclude)
    return store


def test_public_analysis_hides_internal_assets_and_fields(register, demo_result):
    hidden = demo_result.assets["asset_id"].iloc[0]
    version = int(register.assets(LOCAL_USER).set_index("asset_id").loc[hidden, "version"])
    register.save(hidden, {"visibility": "internal", "notes": "survey booked"}, expected_version=version,
                  role=LOCAL_USER)
    inside = register.register_analysis(LOCAL_USER)
    public = register.register_analysis(PUBLIC)
    assert hidden in set(inside.assets["asset_id"]) and hidden not in set(public.assets["asset_id"])
    assert len(public.assets) == len(demo_result.assets) - 1
    assert not [c for c in public.assets.columns if c.startswith("src_")]
    assert "notes" not in public.assets.columns or public.assets["notes"].isna().all()
    # need areas and the greenspace exclusions travel with the register
    assert len(public.needs) == len(demo_result.needs) and len(public.exclude) == len(demo_result.exclude)
    # the engine's filters work on it as on any analysis
    shown = apply_filters(public.assets, Filters(priorities=("High",)))
    assert len(shown) == int((public.assets["priority"] == "High").sum()) > 0


def _page():
    from assets_map.ui import register_page

    register_page.render()


def test_register_page_puts_the_register_in_use(register, tmp_path, monkeypatch, local_visitor):
    from assets_map.ui import register_page

    monkeypatch.delenv("ASSETS_MAP_DATABASE_URL", raising=False)
    monkeypatch.setenv("ASSETS_MAP_STORE", str(tmp_path / "register.sqlite"))
    register_page._store.clear()
    try:
        at = AppTest.from_function(_page, default_timeout=120).run()
        button = next(b for b in at.button if b.label == "Show the register on the map")
        button.click().run()
        assert not at.exception
        assert at.session_state["analysis_label"].startswith("The register")
        assert len(at.session_state["analysis"].assets) == 300
        assert at.session_state["analysis_is_demo"] is True  # imported from the fictional demo: still labelled so
    finally:
        register_page._store.clear()
