"""Words, not code, on the pages (issue 14 items 10 and 11): what a user reads, and what a missing library does."""
from __future__ import annotations

import sys

from tests.helpers import app_page, plain


def test_without_pango_the_site_pack_page_says_what_to_install_and_still_gives_the_pack(monkeypatch, demo_result):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # "import weasyprint" fails, as without Pango
    at = app_page("sitepack_page")
    at.session_state["sp_sites"] = [demo_result.assets["asset_id"].iloc[0]]
    at.run()
    assert not at.exception, at.exception
    warn = " ".join(plain(w.value) for w in at.warning)
    assert "libpango-1.0-0 libpangoft2-1.0-0" in warn and "print it to PDF" in warn
    at.button(key="sp_go").click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    labels = [b.label for b in at.get("download_button")]
    assert "Download HTML" in labels and "Download PDF" not in labels


_CODE_WORDS = __import__("re").compile(r"\bNone\b|\bNaN\b|\bnan\b|<NA>|\bNaT\b|\bm2\b")


def _shown(at) -> list[tuple[str, str]]:
    """Every text a page shows, and every cell and header of its tables, as (where, text)."""
    out = [(kind, plain(str(e.value))) for kind in ("markdown", "caption", "warning", "info", "error", "success",
                                                     "title", "subheader", "header", "text") for e in getattr(at, kind)]
    for df in at.dataframe:
        out.append(("table header", " | ".join(map(str, df.value.columns))))
        for col in df.value.columns:
            out += [(f"table column {col}", str(v)) for v in df.value[col].astype(object).unique()[:500]]
    return out


def test_pages_on_trafford_show_words_not_code(shared, register, local_visitor):
    """Your data (with its check report), Summary, How it works, Site pack and Register: no None/NaN/<NA>, no m2,
    no internal column names as table headers (the data dictionary on How it works names them on purpose)."""
    from assets_map.io.uploads import Upload, check_uploads

    def up(*parts):
        p = shared(*parts)
        return Upload(p.name, p.read_bytes())

    files = {"register": up("trafford", "land_and_building_assets.csv"),
             "boundaries": up("trafford", "lsoa21_boundaries.geojson"),
             "deprivation": up("england", "imd2025_lsoa21_scores_ranks_deciles.csv"),
             "postcodes": up("trafford", "postcodes_onspd_feb2025.csv"),
             "wards": up("trafford", "wards23_boundaries.geojson")}
    checked = check_uploads(files)
    from assets_map.store import LOCAL_USER, SqliteStore

    SqliteStore(register).import_analysis(checked.analysis, organisation="Trafford Council", role=LOCAL_USER,
                                          source_name="land_and_building_assets.csv", file_sha256="ab" * 32)
    bad = []
    for page in ("data_page", "summary_page", "about_page", "sitepack_page", "register_page"):
        at = app_page(page)
        at.session_state["analysis"] = checked.analysis
        at.session_state["analysis_label"] = checked.label
        if page == "data_page":
            at.session_state["staged_uploads"] = files
            at.run()
            at.button(key="check_upload").click().run()
        else:
            at.run()
        assert not at.exception, (page, at.exception)
        for where, text in _shown(at):
            if _CODE_WORDS.search(text) or (where == "table header" and "_" in text and page != "about_page"):
                bad.append((page, where, text[:160]))
    assert not bad, bad


def test_sites_not_placed_are_counted_beside_the_charts_not_drawn_as_a_bar(demo_result):
    at = app_page("summary_page").run()
    assert not at.exception
    unplaced = int(demo_result.assets["need_decile"].isna().sum())
    assert unplaced and any(m.label == "with no need data" and m.value == f"{unplaced:,}" for m in at.metric)


def test_the_sidebar_filters_show_statuses_and_owner_types_in_words(demo_result):
    at = app_page("summary_page")
    at.run()
    assert not at.exception, at.exception
    status = at.multiselect(key="f_status")
    shown = [status.format_func(o) for o in status.options] if hasattr(status, "format_func") else status.options
    assert shown and not any(o in ("leased-out", "part-vacant", "not-available") for o in shown), shown
    assert "let to someone else" in shown or "in use" in shown, shown
    owners = at.multiselect(key="f_type")
    shown = [owners.format_func(o) for o in owners.options] if hasattr(owners, "format_func") else owners.options
    assert not any("_" in o for o in shown), shown
