"""The regression page (rig.regress.html): self-contained, verdict first, what changed, links that work."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from rig.regress import html
from rig.regress.compare import compare
from rig.regress.plots import latency_png
from tests.regress.records import record


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "a":
            self.links.append(a["href"])
        if tag == "img":
            self.images.append(a["src"])
        if tag in ("script", "link") or (tag == "img" and not a["src"].startswith("data:")):
            self.external.append(tag)


def test_the_page_shows_the_verdict_the_changes_the_plots_and_links_to_every_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    base = [record("base"), record("base")]
    head = [record("head", frames_lost=1, http__latency_p50=p50) for p50 in (40.0, 41.0)]
    for r in base + head:  # run folders that exist, as `rig regress` leaves them
        run_dir = runs / Path(r["links"]["run_dir"]).name
        (run_dir).mkdir(parents=True)
        (run_dir / "dut.log").write_text("+0.000 READY\n")
        r["links"] = {"run_dir": str(run_dir), "logs": {"dut.log": str(run_dir / "dut.log")}}
    regression = compare(base, head, base_label="main", head_label="feature")
    plots = {"http": latency_png("http", {"base": [3.0, 3.5], "head": [40.0, 41.0]})}
    out = tmp_path / "report"
    out.mkdir()
    page = html.write(regression, out / "report.html", plots, {"meters": "kaifa-ma304h4", "speed": "x10"})
    text = page.read_text()

    verdict = re.search(r'<div class="verdict bad">([^<]*)</div>', text)
    assert verdict and verdict.group(1) == "REGRESSION: 2 newly fails, 1 worse beyond noise"
    assert text.index("verdict bad") < text.index("<h2>Regressions (3)</h2>") < text.index("<h2>Improvements (0)")
    regressions = text[text.index("<h2>Regressions"):text.index("<h2>Improvements")]
    assert regressions.count('<tr class="newly_failing">') == 2 and regressions.count('<tr class="regressed">') == 1
    assert "<code>http.latency_p50</code>" in regressions and "+37.5" in regressions

    parser = Collect()
    parser.feed(text)
    assert parser.external == []  # nothing to fetch: the page stands alone
    assert len(parser.images) == 1 and parser.images[0].startswith("data:image/png;base64,iVBORw0KGgo")
    for href in parser.links:  # relative links that reach every run's folder and log
        assert not href.startswith("/")
    logs = [h for h in parser.links if h.endswith("dut.log")]
    assert len(logs) == 4 and all((out / h).is_file() for h in logs)
    assert {(out / h).resolve() for h in parser.links if (out / h).is_dir()} == {
        Path(r["links"]["run_dir"]).resolve() for r in base + head}
    assert "<th>meters</th><td>kaifa-ma304h4</td>" in text
    assert "frame 3 on mqtt: fail: no message" in text  # the head's failed checks


def test_no_regression_is_green_and_says_why_plots_are_missing(tmp_path: Path) -> None:
    text = html.render(compare([record()], [record()]), tmp_path)
    assert '<div class="verdict good">NO REGRESSION: 11 items compared</div>' in text
    assert "Nothing newly fails and nothing got worse beyond its noise." in text
    assert "No latencies to plot" in text


def test_names_from_the_records_are_escaped(tmp_path: Path) -> None:
    text = html.render(compare([record()], [record()], base_label="<b>x</b>", head_label="a&b"), tmp_path)
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text and "a&amp;b" in text
