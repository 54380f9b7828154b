"""The daily report in a browser: the standalone HTML opens in Debian's chromium with every
image loaded and a page that is not blank; its data: URIs are the charts themselves.
"""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest

from el_monitor.report.charts import make_charts
from el_monitor.report.render import standalone_html

from .support import DAY, USER_AGENT, report_from, run_cli, schemas_dir

CHROMIUM = "/usr/bin/chromium"
PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.dataset.images = loaded.length + "/" + images.length;
  document.body.dataset.sizes = images.map(function (i) {
    return i.naturalWidth + "x" + i.naturalHeight; }).join(" ");
});
</script>"""


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", *args,
        ],
        capture_output=True,
        timeout=90,
        env={**os.environ, "HOME": str(profile)},
    )  # fmt: skip


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _distinct_colours(data: bytes) -> int:
    """How many colours the screenshot has: a blank page has one or two."""
    width, height = _png_size(data)
    bit_depth, colour_type = data[24], data[25]
    assert bit_depth == 8 and colour_type in (2, 6)
    raw, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            raw += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(raw)
    channels = 3 if colour_type == 2 else 4
    stride = 1 + width * channels
    seen = set()
    for row in range(0, height, 7):  # sample rows; filters do not matter for "how many"
        line = pixels[row * stride + 1 : (row + 1) * stride]
        seen.update(line[i : i + 3] for i in range(0, len(line), channels * 5))
    return len(seen)


@pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason="Debian's chromium is not installed (scripts/ensure-monitoring installs it when run "
    "as root: apt-get install --no-install-recommends chromium)",
)
def test_report_opens_in_chromium_with_every_image(
    sqlite_url, catalog_file, tmp_path, monkeypatch, capsys
) -> None:
    output = tmp_path / "report.html"
    code = run_cli(
        monkeypatch, "report", "daily", "--date", str(DAY), "--db", sqlite_url,
        "--config", str(catalog_file),
        "--schemas", str(schemas_dir(catalog_file)), "--output", str(output),
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    html = output.read_text()
    assert "<script" not in html.lower()  # the report itself carries no script
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "\n</body>"))
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = chromium(Path(profile), "--dump-dom", probed.as_uri())
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        dom = done.stdout.decode()
        found = re.search(r'data-images="(\d+)/(\d+)"', dom)
        assert found, dom[:2000]
        assert found[1] == found[2] == "2", f"images loaded/total: {found[1]}/{found[2]}"
        sizes = re.search(r'data-sizes="([^"]*)"', dom)[1].split()
        assert all(int(w) > 100 and int(h) > 100 for w, h in (s.split("x") for s in sizes))
        assert "Evil&lt;script&gt;x&lt;/script&gt;" in dom  # still text once parsed

        shot = tmp_path / "shot.png"
        done = chromium(
            Path(profile), f"--screenshot={shot}", "--window-size=1200,1600", output.as_uri()
        )
        assert done.returncode == 0 and shot.exists(), done.stderr.decode()[-2000:]
    data = shot.read_bytes()
    assert _png_size(data) == (1200, 1600)
    assert len(data) > 20_000 and _distinct_colours(data) > 20


def test_data_uris_are_the_charts(sqlite_url, catalog_file) -> None:
    report = report_from(sqlite_url, catalog_file)
    drawn = make_charts(report)
    html = standalone_html(report, drawn)
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert [base64.b64decode(u) for u in uris] == [c.png for c in drawn]


# What the page reports of itself once laid out at 1,280 px: per chart image its displayed
# (CSS) width, its intrinsic width and the smallest text drawn on it (data-text-px, in the
# PNG's own pixels); the in-page links without a target; the error rows at "$" without a
# message; the device pixel ratio.
MEASURE = """<script>
window.addEventListener("load", function () {
  var out = {dpr: window.devicePixelRatio, page: document.documentElement.clientWidth};
  out.charts = Array.prototype.map.call(document.querySelectorAll("img.chart"), function (i) {
    return {shown: i.getBoundingClientRect().width, natural: i.naturalWidth,
            text: parseFloat(i.dataset.textPx)};
  });
  var links = document.querySelectorAll('a[href^="#"]');
  out.links = links.length;
  out.dangling = Array.prototype.filter.call(links, function (a) {
    return !document.getElementById(a.getAttribute("href").slice(1)); }).length;
  var top = Array.prototype.filter.call(document.querySelectorAll("tr"), function (r) {
    return r.cells.length == 4 && r.cells[2].textContent.trim() == "$"; });
  out.top = top.length;
  out.top_without_message = top.filter(function (r) {
    return !r.cells[3].textContent.trim(); }).length;
  document.body.dataset.measured = JSON.stringify(out);
});
</script>"""
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TRAFFIC_DAY = "2026-11-28"  # the day examples/traffic/events.jsonl was generated for
QUERY = "where does jane doe live"
SESSION = "5afb59baf3eca58c3448"
USER_ID = 18014398509481985  # also past user_id's maximum: the message would quote it
PLANTED_SECRETS = (QUERY, SESSION, str(USER_ID), "Firefox/126.0", "203.0.113.77", "cp3001")


def planted_events() -> list[dict]:
    """Events put first in the traffic, so theirs are the examples the report shows."""
    base = {"wiki": "enwiki", "webHost": "en.wikipedia.org", "timestamp": 1795842000}
    search = {
        "action": "hover-x",  # not one of the enum: the value owners need to see
        "articleId": 7,
        "mwSessionId": SESSION,  # the example catalog's user field
        "pageViewId": "2b71198626fbc76a6d8f8141b1ff",
        "position": 9,
        "query": QUERY + " 203.0.113.77",  # free text
        "sampleMultiplier": 5.786,
        "scroll": False,
        # Kept by the catalog's 1-in-2 sampling on this key (a stored event of the traffic has it).
        "searchSessionId": "523cfea2b67f8f66b4ba6d412211",
        "searchToken": "4accf87dc9641c1b8fcf28948",
        "source": "fulltext",
        "uniqueId": "c51b585b91e68fabbb3e98ebfb7a",
    }
    edit = json.loads((EXAMPLES / "samples" / "EditAttemptStep.jsonl").read_text())["event"]
    return [
        {**base, "schema": "SearchSatisfaction", "revision": "1.5.0", "userAgent": USER_AGENT,
         "recvFrom": "cp3001", "seqId": 7, "event": search},
        {**base, "schema": "SearchSatisfaction", "revision": "1.5.0",
         "event": {**search, "action": "click", "position": 2**54}},
        {**base, "schema": "EditAttemptStep", "revision": "2.1.0",
         "event": {**edit, "user_id": USER_ID}},
    ]  # fmt: skip


@pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason="Debian's chromium is not installed (scripts/ensure-monitoring installs it when run "
    "as root: apt-get install --no-install-recommends chromium)",
)
def test_real_run_report_at_1280_px(tmp_path, monkeypatch, capsys) -> None:
    """A forwarder run on the bundled traffic writes its counts to SQLite; the report of that
    day, opened in headless Chromium at 1,280 px, is measured and screenshotted.

    How the label size is measured, deterministically: matplotlib draws each chart at a known
    dpi, and ``report.charts`` records the smallest font it drew, converted to the PNG's own
    pixels (points × dpi / 72), as the image's ``data-text-px``.  Chromium lays the page out at
    1,280 px (device pixel ratio 1) and the page's script reads each chart's displayed width
    (``getBoundingClientRect``, CSS px) and intrinsic width (``naturalWidth``, the PNG's); the
    smallest label as seen is ``text_px × displayed / intrinsic`` CSS px, which must be at
    least 11.  No pixels of the screenshot are guessed at: the numbers come from the layout
    engine that drew it.  The screenshot is saved beside (``report-1280.png``) to look at.
    """
    traffic = tmp_path / "events.jsonl"
    lines = [json.dumps(e) for e in planted_events()]
    traffic.write_text("\n".join(lines) + "\n" + (EXAMPLES / "traffic/events.jsonl").read_text())
    db = f"sqlite:///{tmp_path / 'el.db'}"
    catalog = str(EXAMPLES / "el-monitor.toml")
    schemas = str(EXAMPLES / "schemas")
    code = run_cli(
        monkeypatch, "--config", catalog, "forward", "--schemas", schemas,
        "--input", traffic.as_uri(), "--db", db,
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    output = tmp_path / "report.html"
    code = run_cli(
        monkeypatch, "--config", catalog, "report", "daily", "--date", TRAFFIC_DAY,
        "--db", db, "--schemas", schemas, "--output", str(output),
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    html = output.read_text()
    for secret in PLANTED_SECRETS:
        assert secret not in html, secret
    # The validator's words and the numbers owners need; the user id struck from its message.
    assert "&#39;hover-x&#39; is not one of" in html
    assert f"{2**54} is greater than the maximum of 9007199254740991" in html
    assert "[redacted] is greater than the maximum of 9007199254740991" in html
    assert "unexpected property &#39;unexpectedField&#39;" in html
    assert "44 of the 55 schemas</strong>" in html and "has an owner" not in html

    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", MEASURE + "\n</body>"))
    shot = tmp_path / "report-1280.png"
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        done = chromium(Path(profile), "--window-size=1280,900", "--dump-dom", probed.as_uri())
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        found = re.search(r'data-measured="([^"]*)"', done.stdout.decode())
        assert found, done.stdout.decode()[:2000]
        measured = json.loads(found[1].replace("&quot;", '"'))
        done = chromium(
            Path(profile), f"--screenshot={shot}", "--window-size=1280,2400", output.as_uri()
        )
        assert done.returncode == 0 and shot.exists(), done.stderr.decode()[-2000:]
    assert measured["dpr"] == 1 and measured["page"] >= 1264, measured
    assert len(measured["charts"]) == 2, measured
    for chart in measured["charts"]:
        assert chart["natural"] == 1240 and chart["shown"] >= 1200, chart  # the page's width
        label_px = chart["text"] * chart["shown"] / chart["natural"]
        assert label_px >= 11, (label_px, chart)
    assert measured["links"] > 10 and measured["dangling"] == 0, measured
    assert measured["top"] >= 3 and measured["top_without_message"] == 0, measured
    data = shot.read_bytes()
    assert _png_size(data) == (1280, 2400) and _distinct_colours(data) > 20
