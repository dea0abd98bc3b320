"""A scenario's log files inside the HTML report, so that the report stands alone.

Each file becomes a collapsible ``<details>`` section holding its last lines, escaped and capped
(``MAX_LINES`` lines, ``MAX_BYTES`` characters). A file longer than that is named by a relative link to
the whole file, which lies beside the report in the run folder; keep the run folder together to follow it.
Nothing is a ``data:`` URL: browsers refuse to open those from a page.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

MAX_LINES = 150
MAX_BYTES = 24_000
# A scrolling box that opens at its end (column-reverse), where the latest lines are.
BOX_STYLE = "max-height: 24em; overflow: auto; display: flex; flex-direction: column-reverse; background: #f4f4f4"
PRE_STYLE = "margin: 0; padding: 4px; white-space: pre-wrap"


class Tail(NamedTuple):
    lines: list[str]  # the last lines that fit the caps
    total: int  # lines in the file
    cut: bool  # something of the file is not in ``lines``


def tail(path: Path, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES) -> Tail:
    """The last lines of a text file within both caps; a last line longer than ``max_bytes`` is cut to
    its end."""
    lines = path.read_text(errors="replace").splitlines()
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        if len(kept) == max_lines or size + len(line) + 1 > max_bytes:
            break
        kept.append(line)
        size += len(line) + 1
    if not kept and lines:
        return Tail(["…" + lines[-1][-max_bytes:]], len(lines), True)
    return Tail(kept[::-1], len(lines), len(kept) < len(lines))


def anchor(workdir: Path, name: str) -> str:
    """The in-page id of a scenario's log section."""
    return "log-" + re.sub(r"[^A-Za-z0-9_-]+", "-", f"{workdir.name}-{name}").strip("-")


def _where(path: Path, report_dir: Path | None) -> str:
    """A link to the whole file, relative to the report, or its path as text when it lies elsewhere."""
    if report_dir is not None and path.resolve().is_relative_to(report_dir.resolve()):
        rel = Path(os.path.relpath(path.resolve(), report_dir.resolve())).as_posix()
        return f'<a href="{html.escape(quote(rel))}">{html.escape(rel)}</a>'
    return f"<code>{html.escape(str(path))}</code>"


def log_section(path: Path, report_dir: Path | None, opened: bool = False) -> str:
    """One log file as a ``<details>`` section: its name and size, then its last lines."""
    lines, total, cut = tail(path)
    size = f"{total} line{'s' if total != 1 else ''}" if total else "empty"
    shown = f"the last {len(lines)} of {total} lines" if len(lines) < total else "cut to its last characters"
    note = f"<p>{shown}; the whole file: {_where(path, report_dir)}</p>" if cut else ""
    text = html.escape("\n".join(lines))
    body = f'<div style="{BOX_STYLE}"><pre style="{PRE_STYLE}">{text}</pre></div>' if lines else ""
    return (f'<details id="{anchor(path.parent, path.name)}"{" open" if opened else ""}>'
            f"<summary><b>{html.escape(path.name)}</b> ({size})</summary>{note}{body}</details>")


def logs_html(workdir: Path, names: tuple[str, ...], report_dir: Path | None, failed: bool) -> str:
    """The sections of a scenario's logs that exist, in ``names`` order; the DUT log opened on a failure."""
    sections = [log_section(workdir / name, report_dir, opened=failed and name == "dut.log")
                for name in names if (workdir / name).is_file()]
    if not sections:
        return ""
    return f'<div class="rig-logs"><p>Logs of {html.escape(workdir.name)}:</p>{"".join(sections)}</div>'
