"""The daily report in a browser: the standalone HTML opens in Debian's chromium with every
image loaded and a page that is not blank; its data: URIs are the charts themselves.
"""

from __future__ import annotations

import base64
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

from .support import DAY, report_from, run_cli, schemas_dir

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
