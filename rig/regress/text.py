"""The short text summary of a regression report (what `rig regress` prints at the end)."""

from __future__ import annotations

from rig.regress.compare import STATUS_TEXT, Item, Regression

SHOWN = ("newly_failing", "regressed", "unstable", "newly_passing", "improved")


def _values(values: list) -> str:
    return ", ".join("-" if v is None else f"{v:g}" if isinstance(v, int | float) else str(v) for v in values)


def describe_item(item: Item) -> str:
    """One line: the item, what happened to it, and the figures that say so."""
    unit = f" {item.unit}" if item.unit and item.kind != "verdict" else ""
    if item.delta is not None and item.status in ("regressed", "improved"):
        how = (f"median {item.base_median:g} -> {item.head_median:g}{unit} ({item.delta:+g}; moves within "
               f"{item.threshold:g} are noise)")
    elif item.base_outcome or item.head_outcome:
        how = f"{item.base_outcome} -> {item.head_outcome} (base [{_values(item.base)}], head [{_values(item.head)}])"
    else:
        how = f"base [{_values(item.base)}], head [{_values(item.head)}]"
    return f"{STATUS_TEXT[item.status]:<20} {item.name}: {how}"


def _build(side) -> str:
    build = side.build or {}
    where = build.get("commit") or build.get("path") or "?"
    return f"{side.label} ({str(where)[:40]}, tree {str(build.get('tree_hash') or '?')[:12]}), {len(side.runs)} run(s)"


def format_regression(regression: Regression, page: str | None = None) -> str:
    """The summary: both builds, each item that changed, the verdict (and where the page is)."""
    lines = [f"base {_build(regression.base)}", f"head {_build(regression.head)}"]
    if regression.job_note:
        lines.append(f"warning: {regression.job_note}")
    changed = [i for i in regression.items if i.status in SHOWN]
    lines.append(f"{len(regression.items)} items compared (noise rule: |median(head) - median(base)| > "
                 f"max({regression.k:g} x run-to-run spread, floor)); {len(changed)} changed")
    lines += ["  " + describe_item(i) for i in changed]
    lines.append("")
    lines.append(regression.verdict() + (f"   (report: {page})" if page else ""))
    return "\n".join(lines)
