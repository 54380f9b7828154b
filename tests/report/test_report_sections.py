"""The report's statements and navigation: the ownership statement covers every schema the
table lists (not only the day's), and the table's schema names link to their sections.
"""

from __future__ import annotations

import datetime
from html.parser import HTMLParser
from pathlib import Path

from el_monitor.report.model import owner_slice
from el_monitor.report.render import anchor, render_html, render_text

from .support import DAY, EVIL_SCHEMA, report_from


class Links(HTMLParser):
    """Every element id, every in-page link and the text of each link."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: dict[str, str] = {}
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        href = found.get("href") or ""
        if tag == "a" and href.startswith("#"):
            self._href = href[1:]
            self.links[self._href] = ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.links[self._href] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None


def test_unowned_schemas_of_the_table_are_counted_on_a_day_they_were_quiet(
    sqlite_url: str, catalog_file: Path
) -> None:
    """Two days after DAY nothing was recorded, yet the table lists every schema active in the
    week before, ownerless ones too: the report must not say that every schema has an owner."""
    report = report_from(sqlite_url, catalog_file, DAY + datetime.timedelta(days=2))
    assert not report.has_data
    listed = {s.name for s in report.schemas}
    assert {"Orphan", EVIL_SCHEMA} <= listed
    assert report.unowned == (EVIL_SCHEMA, "Orphan")
    # Listed: NavigationTiming, EditAttemptStep, Orphan, Shared, Evil; configured: Quiet too.
    assert report.schema_count == 6
    text = render_text(report)
    assert "every schema" not in text and "has an owner" not in text
    said = "2 of the 6 schemas listed in this report or configured in the catalog have no owner"
    assert said in text
    html = render_html(report, (), lambda chart: "")
    assert "<strong>2 of the 6 schemas</strong>" in html and "has an owner" not in html


def test_the_statement_when_every_schema_has_an_owner(sqlite_url: str, catalog_file: Path) -> None:
    catalog_file.write_text(
        catalog_file.read_text() + '\n[defaults]\nowners = ["everyone@example.org"]\n'
    )
    report = report_from(sqlite_url, catalog_file)
    assert report.unowned == ()
    assert (
        "None: each of the 6 schemas listed in this report or configured in the catalog has an "
        "owner." in render_text(report)
    )


def test_owner_part_makes_no_statement_about_owners(sqlite_url: str, catalog_file: Path) -> None:
    part = owner_slice(report_from(sqlite_url, catalog_file), "edit@example.org")
    assert "without an owner" not in render_html(part, (), lambda chart: "").lower()
    assert "WITHOUT AN OWNER" not in render_text(part)


def test_table_rows_link_to_each_schemas_section(sqlite_url: str, catalog_file: Path) -> None:
    report = report_from(sqlite_url, catalog_file)
    page = Links()
    page.feed(render_html(report, (), lambda chart: ""))
    assert len(page.ids) == len(set(page.ids)), "ids are unique"
    with_errors = [s for s in report.schemas if s.errors]
    assert {s.name for s in with_errors} == {"EditAttemptStep", "Orphan", "-"}
    for schema in with_errors:
        target = anchor(schema.name)
        assert page.links.get(target) == schema.label, (schema.name, page.links)
        assert target in page.ids, target
    # Schemas without errors have no section, so no link; every link has its target.
    assert anchor("Shared") not in page.links
    assert all(target in page.ids for target in page.links), page.links
    assert "per-schema" in page.links  # the way back from the sections


def test_anchor_is_plain_for_any_name() -> None:
    assert anchor("NavigationTiming") == "schema-NavigationTiming"
    odd = anchor(EVIL_SCHEMA)
    assert odd.startswith("schema-x") and odd[len("schema-") :].isalnum()
    assert anchor(EVIL_SCHEMA + "2") != odd


def test_charts_span_the_page_with_labels_of_at_least_11_px(
    sqlite_url: str, catalog_file: Path
) -> None:
    """At 1,280 px the page's content is 1,248 px wide (16 px margins): each chart is drawn
    1,240 px wide, shown at that size, so its smallest text is ``text_px`` CSS pixels."""
    from el_monitor.report.charts import make_charts

    report = report_from(sqlite_url, catalog_file)
    drawn = make_charts(report)
    assert [c.name for c in drawn] == ["volume", "trend"]
    for chart in drawn:
        assert chart.png is not None and chart.error is None
        assert chart.width == 1240 <= 1280 - 2 * 16
        assert chart.text_px >= 12, (chart.name, chart.text_px)
