"""The HTML report as a reader sees it: a pytest session of its own writes it, headless Chromium renders it.

A passing and a failing scenario, each with a DUT log: the failure reads once, without object dumps, the
logs are inline and escaped, and every link works from the run folder (no data: URL, which browsers
refuse to open).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from rig.fixtures.plugin import run_report_args

CHROMIUM_INSTALL = "make test-tools (Debian: sudo apt-get install -y chromium)"
# The one link that leaves the report: pytest-html's own credit line in its template.
CREDIT = "https://pypi.python.org/pypi/pytest-html"
FAILURE = "frame 1 on mqtt: fail: no message received"

SCENARIOS = '''
import pytest

from rig.checks import Check, Outcome
from rig.fixtures.harness import assert_passed
from rig.stream_result import StreamResult


@pytest.fixture
def dut_log(rig_workdir):
    """The DUT's console, with a last line written when the scenario's DUT stops (at teardown)."""
    log = rig_workdir / "dut.log"
    yield log
    with log.open("a") as out:
        out.write("+401.000 [rig] DUT stopped by the rig\\n")


def _stream(log):
    """What a DUT that lost an MQTT message leaves: its log, the frames sent, the checks."""
    lines = [f"+{n}.000 INFO line {n}" for n in range(400)] + ["+400.000 ERROR <b>mqtt</b> & queue full"]
    log.write_text("\\n".join(lines) + "\\n")
    (log.parent / "frames.jsonl").write_text('{"index": 1, "list": 1}\\n')
    checks = [Check("mqtt", 0, Outcome.PASS, 0.01), Check("mqtt", 1, Outcome.FAIL, detail="no message received")]
    return StreamResult(sent=[], checks=checks, dut_counters={})


def test_the_reading_is_shown(dut_log):
    dut_log.write_text("+0.001 INFO PASSING-SCENARIO-LOG\\n")


def test_every_frame_is_published(dut_log):
    result = _stream(dut_log)
    assert_passed(result)
'''


class Dom(HTMLParser):
    """What a reader of the rendered page gets: its text (no scripts, styles or templates), its links,
    its element ids, and the ``<details>`` sections with their text."""

    SKIP = {"script", "style", "template"}

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.text: list[str] = []
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.details: list[dict] = []  # {"open": bool, "text": [...]} in document order
        self._skip = 0
        self._open_details: list[dict] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        found = dict(attrs)
        if tag in self.SKIP:
            self._skip += 1
        if "id" in found:
            self.ids.add(found["id"])
        if "href" in found:
            self.hrefs.append(found["href"])
        if tag == "details":
            section = {"open": "open" in found, "text": []}
            self.details.append(section)
            self._open_details.append(section)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip -= 1
        if tag == "details" and self._open_details:
            self._open_details.pop()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        for section in self._open_details:
            section["text"].append(data)


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail(f"chromium is needed to render the report; install it: {CHROMIUM_INSTALL}")
    return path


def _render(chromium: str, page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               f"--user-data-dir={tmp_path / 'chromium-profile'}", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dom, Path]:
    """(run folder, the rendered report's DOM, a screenshot of it) of a session of two scenarios."""
    chromium = _chromium()
    tmp_path = tmp_path_factory.mktemp("report")
    (tmp_path / "test_scenarios.py").write_text(SCENARIOS)
    run_dir = tmp_path / "run"
    session = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                              *run_report_args(run_dir), "test_scenarios.py"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert session.returncode == pytest.ExitCode.TESTS_FAILED, session.stdout + session.stderr
    assert "1 failed, 1 passed" in session.stdout
    report = run_dir / "report.html"

    dom = _render(chromium, report, tmp_path, "--dump-dom")
    assert dom.returncode == 0 and "</html>" in dom.stdout, dom.stderr[-2000:]
    png = tmp_path / "report.png"
    shot = _render(chromium, report, tmp_path, f"--screenshot={png}", "--window-size=1280,2000")
    assert shot.returncode == 0 and png.is_file(), shot.stderr[-2000:]
    return run_dir, Dom(dom.stdout), png


def test_the_failure_reads_once_without_object_dumps(rendered) -> None:
    _, dom, _ = rendered
    text = "".join(dom.text)
    assert text.count(FAILURE) == 1, text
    assert "1 problem in a stream of 0 frames" in text
    assert "StreamResult(" not in text and "Check(" not in text
    assert "DUT log (last 30 lines)" not in text  # the terminal's tail: the report holds the whole log


def test_the_logs_are_inline_escaped_and_the_failing_scenarios_dut_log_is_open(rendered) -> None:
    _, dom, _ = rendered
    opened = ["".join(d["text"]) for d in dom.details if d["open"]]
    assert len(opened) == 1, opened  # the DUT log of the failing scenario, nothing else
    assert "+400.000 ERROR <b>mqtt</b> & queue full" in opened[0]  # as text: escaped, not markup
    assert opened[0].endswith("+401.000 [rig] DUT stopped by the rig")  # the log as it was after teardown
    assert "line 399" in opened[0] and "line 0\n" not in opened[0]  # its end, capped
    closed = ["".join(d["text"]) for d in dom.details if not d["open"]]
    assert any('{"index": 1, "list": 1}' in t for t in closed)
    assert any("PASSING-SCENARIO-LOG" in t for t in closed)


def test_every_link_works_from_the_run_folder(rendered) -> None:
    run_dir, dom, _ = rendered
    assert dom.hrefs, "the capped DUT log links its whole file"
    for href in dom.hrefs:
        if href.startswith("#"):
            assert href[1:] in dom.ids, f"in-page link to nothing: {href}"
        elif href != CREDIT:
            url = urlparse(href)
            assert not url.scheme and not url.netloc, f"a link that leaves the run folder: {href[:80]}"
            target = (run_dir / unquote(url.path)).resolve()
            assert target.is_file() and target.is_relative_to(run_dir.resolve()), f"broken link: {href}"


def test_the_screenshot_is_the_page_rendered(rendered) -> None:
    _, _, png = rendered
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1280, 2000)
    assert len(data) > 40_000, "a near-empty image: the report did not render"
