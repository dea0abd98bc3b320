from html.parser import HTMLParser
from pathlib import Path

from rig.report.logs import MAX_LINES, log_section, logs_html, tail


class _Page(HTMLParser):
    """The text, the links and the elements of an HTML fragment."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.text: list[str] = []
        self.hrefs: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))
        self.hrefs += [value for name, value in attrs if name == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_a_short_log_is_shown_whole_and_escaped(tmp_path: Path) -> None:
    log = tmp_path / "dut.log"
    log.write_text("+0.1 INFO starting\n+0.2 ERROR <script>alert(1)</script> & more\n")
    page = _Page(log_section(log, tmp_path, opened=True))
    text = "".join(page.text)
    assert "+0.2 ERROR <script>alert(1)</script> & more" in text
    assert "script" not in [tag for tag, _ in page.tags]
    assert "dut.log (2 lines)" in text
    assert ("details", {"id": "log-" + tmp_path.name + "-dut-log", "open": None}) in page.tags
    assert page.hrefs == []  # nothing left out, so nothing to link to


def test_a_long_log_shows_its_end_and_links_the_whole_file_beside_the_report(tmp_path: Path) -> None:
    workdir = tmp_path / "test_x"
    workdir.mkdir()
    log = workdir / "line.jsonl"
    log.write_text("".join(f"line {n}\n" for n in range(MAX_LINES + 50)))
    page = _Page(log_section(log, tmp_path))
    text = "".join(page.text)
    assert f"line {MAX_LINES + 49}" in text and "line 49\n" not in text and "line 50\n" in text
    assert f"the last {MAX_LINES} of {MAX_LINES + 50} lines" in text
    assert page.hrefs == ["test_x/line.jsonl"]
    assert ("details", {"id": "log-test_x-line-jsonl"}) in page.tags  # closed unless asked


def test_a_log_outside_the_report_folder_is_named_not_linked(tmp_path: Path) -> None:
    log = tmp_path / "runs" / "dut.log"
    log.parent.mkdir()
    log.write_text("x" * 100_000)  # one line over the size cap: its end is shown
    page = _Page(log_section(log, tmp_path / "report"))
    text = "".join(page.text)
    assert page.hrefs == [] and str(log) in text and "cut to its last characters" in text
    assert len(text) < 30_000


def test_tail_keeps_the_last_lines_within_both_caps(tmp_path: Path) -> None:
    log = tmp_path / "frames.jsonl"
    log.write_text("".join(f"{n:04d}" + "." * 95 + "\n" for n in range(100)))  # 100 lines of 100 bytes
    lines, total, cut = tail(log, max_lines=50, max_bytes=1000)
    assert total == 100 and cut and len(lines) == 10 and lines[0].startswith("0090")
    lines, total, cut = tail(log, max_lines=5, max_bytes=100_000)
    assert len(lines) == 5 and lines[-1].startswith("0099") and cut
    assert tail(log, max_lines=100, max_bytes=100_000) == (log.read_text().splitlines(), 100, False)


def test_logs_of_a_scenario_in_order_and_only_those_that_exist(tmp_path: Path) -> None:
    (tmp_path / "frames.jsonl").write_text("")
    (tmp_path / "dut.log").write_text("ready\n")
    page = _Page(logs_html(tmp_path, ("dut.log", "line.jsonl", "frames.jsonl"), tmp_path, failed=True))
    sections = [attrs for tag, attrs in page.tags if tag == "details"]
    assert [s["id"].rsplit("-", 2)[-2:] for s in sections] == [["dut", "log"], ["frames", "jsonl"]]
    assert "open" in sections[0] and "open" not in sections[1]
    assert "frames.jsonl (empty)" in "".join(page.text)
    assert logs_html(tmp_path / "nothing", ("dut.log",), tmp_path, failed=True) == ""
