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
