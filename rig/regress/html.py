"""The regression report as one self-contained HTML page: verdict first, then what changed, the latency
plots (PNG, embedded), both builds with links to every run's folder, logs and record, and every item.

Links are relative to the page, so the report folder can be moved or archived whole.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from rig.regress.compare import RULES, STATUS_TEXT, Item, Regression, Side

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
.verdict{padding:.8em 1em;border-radius:6px;font-size:1.2em;font-weight:600;margin:1em 0}
.bad{background:#fde2e1;color:#8b1a1a;border:1px solid #f3a6a3}
.good{background:#e3f6e5;color:#1d5e27;border:1px solid #a6dcae}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;
vertical-align:top}th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.newly_failing td,tr.regressed td{background:#fff3f2}tr.newly_passing td,tr.improved td{background:#f2fbf3}
tr.unstable td{background:#fffbe6}code{font-size:12px}.muted{color:#777}img{max-width:100%}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots figure{margin:0}
"""


RUN_FILES = ("summary.txt", "dut.log", "record.json", "checks.jsonl", "frames.jsonl", "line.jsonl", "junit.xml")


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return _e("-" if value is None else value)


def _link(target: str | None, page_dir: Path, text: str | None = None) -> str:
    if not target:
        return '<span class="muted">-</span>'
    try:
        href = os.path.relpath(Path(target).resolve(), page_dir.resolve())
    except ValueError:  # another drive
        href = str(target)
    return f'<a href="{_e(href)}">{_e(text or target)}</a>'


def _item_rows(items: Sequence[Item]) -> str:
    rows = []
    for i in items:
        values = lambda vs: ", ".join(_num(v) for v in vs)  # noqa: E731
        outcome = f"{_e(i.base_outcome)} &rarr; {_e(i.head_outcome)}" if (i.base_outcome or i.head_outcome) else ""
        rows.append(
            f'<tr class="{i.status}"><td><code>{_e(i.name)}</code></td><td>{_e(STATUS_TEXT[i.status])}</td>'
            f"<td>{outcome}</td><td class=num>{values(i.base)}</td><td class=num>{values(i.head)}</td>"
            f"<td class=num>{_num(i.base_median)}</td><td class=num>{_num(i.head_median)}</td>"
            f"<td class=num>{'' if i.delta is None else f'{i.delta:+g}'}</td><td class=num>{_num(i.threshold)}</td>"
            f"<td>{_e(i.unit)}</td><td>{_e(i.worse and f'{i.worse} is worse')}{_e(i.note)}</td></tr>")
    head = ("<tr><th>item</th><th>status</th><th>outcome base &rarr; head</th><th>base runs</th><th>head runs</th>"
            "<th>median base</th><th>median head</th><th>change</th><th>noise threshold</th><th>unit</th>"
            "<th>note</th></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _section(title: str, items: Sequence[Item], empty: str) -> str:
    body = _item_rows(items) if items else f'<p class="muted">{_e(empty)}</p>'
    return f"<h2>{_e(title)} ({len(items)})</h2>{body}"


def _build_rows(regression: Regression, page_dir: Path) -> str:
    rows = []
    for name, side in (("base", regression.base), ("head", regression.head)):
        rows.append(_side_row(name, side, page_dir))
    return ("<table><tr><th>build</th><th>asked for</th><th>commit or folder</th><th>tree hash</th><th>runs</th></tr>"
            + "".join(rows) + "</table>")


def _side_row(name: str, side: Side, page_dir: Path) -> str:
    build = side.build or {}
    where = build.get("commit") or build.get("path")
    runs = []
    for r in side.runs:
        logs = dict(r.get("logs") or {})
        if r.get("run_dir"):  # written after the record was made, so not among its logs
            logs.update({f: str(Path(r["run_dir"]) / f) for f in ("record.json", "junit.xml", "summary.txt")})
        files = " ".join(_link(logs[f], page_dir, f) for f in RUN_FILES if f in logs)
        runs.append(f"<li>{_link(r.get('run_dir'), page_dir, Path(r['run_dir']).name if r.get('run_dir') else None)}"
                    f" <b>{_e(r.get('verdict'))}</b> <span class=muted>record {_e(str(r.get('id'))[:12])}</span>"
                    f" {files}</li>")
    return (f"<tr><td><b>{name}</b></td><td><code>{_e(side.label)}</code></td><td><code>{_e(where)}</code></td>"
            f"<td><code>{_e(build.get('tree_hash'))}</code></td><td><ul>{''.join(runs)}</ul></td></tr>")


def render(regression: Regression, page_dir: Path, plots: Mapping[str, bytes] | None = None,
           job: Mapping[str, object] | None = None) -> str:
    """The page; ``plots``: PNG per interface; ``job``: what both builds ran (shown as given)."""
    bad = regression.regressed
    verdict = f'<div class="verdict {"bad" if bad else "good"}">{_e(regression.verdict())}</div>'
    job_rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in (job or {}).items())
    warn = f'<p class="verdict bad">{_e(regression.job_note)}</p>' if regression.job_note else ""
    plot_html = "".join(
        f'<figure><img alt="{_e(name)} latency, base and head" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}"></figure>' for name, png in (plots or {}).items())
    failures = "".join(
        f"<h3>failed checks in {side} (first {len(texts)})</h3><ul>"
        + "".join(f"<li><code>{_e(t)}</code></li>" for t in texts) + "</ul>"
        for side, texts in regression.failures.items())
    rules = "".join(f"<li><code>{_e(r.pattern)}</code>: {r.worse} is worse; floor {r.floor:g}"
                    + (f", or {r.rel:.0%} of the base median" if r.rel else "") + "</li>" for r in RULES)
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>Firmware regression: {_e(regression.head.label)} against {_e(regression.base.label)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Firmware regression: <code>{_e(regression.head.label)}</code> against "
        f"<code>{_e(regression.base.label)}</code></h1>",
        verdict, warn,
        _section("Regressions", regression.regressions, "Nothing newly fails and nothing got worse beyond its noise."),
        _section("Improvements", regression.improvements, "Nothing newly passes or got better beyond its noise."),
        _section("Unstable in head", regression.by_status("unstable"), "No check passes in some head runs only."),
        "<h2>Latency, base against head</h2>",
        f'<div class="plots">{plot_html}</div>' if plot_html else '<p class="muted">No latencies to plot (the runs\' '
        "checks.jsonl files are not at hand).</p>",
        "<h2>Builds and runs</h2>", _build_rows(regression, page_dir),
        f"<h2>Job</h2><table>{job_rows}</table>" if job_rows else "",
        failures,
        "<h2>How a move is told from noise</h2>",
        f"<p>A measurement moved when |median(head) &minus; median(base)| &gt; max({regression.k:g} &times; spread, "
        "floor, share of the base), the spread being the larger of the two builds' run-to-run ranges; a move the way "
        "the rule calls worse is a regression. A check newly fails when it passed in every base run and fails in "
        f"every head run.</p><ul>{rules}</ul>",
        "<details><summary>Every item compared</summary>", _item_rows(regression.items), "</details>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def write(regression: Regression, path: Path, plots: Mapping[str, bytes] | None = None,
          job: Mapping[str, object] | None = None) -> Path:
    path.write_text(render(regression, path.parent, plots, job), encoding="utf-8")
    return path
