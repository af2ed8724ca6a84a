"""Rendering the dashboard: the Jinja2 environment, its filters, the view model, the headers.

Templates live in ``service/templates`` (autoescape on for everything), assets in
``service/static``. :func:`view_model` turns what ``collect_status`` and ``read_trends``
gathered into what the templates show (charts rendered here, as SVG); nothing in this module
does I/O. :data:`SECURITY_HEADERS` go on every dashboard answer: a Content-Security-Policy that
allows this origin only (no inline script or style), no framing, no caching.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader
from markupsafe import Markup

from flags.model import KILL_SWITCH_FLAG, MODE_FLAG, ROLLOUT_FLAG, Mode, System
from service.dashboard.charts import Series, line_chart
from service.dashboard.trends import Trends
from service.migration.brake import OVERRIDE_TEXT

__all__ = ["SECURITY_HEADERS", "STATIC_DIR", "TEMPLATES", "WINDOWS", "view_model"]

STATIC_DIR = Path(__file__).parent / "static"
WINDOWS = ("1h", "1d", "7d", "30d")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_SYSTEMS = (System.TYPESCRIPT, System.PYTHON)
_RATES = (
    ("success", "success_rate", "Success rate", True),
    ("pr_acceptance", "pr_acceptance_rate", "PR acceptance", True),
    ("build_success", "build_success_rate", "Build success", True),
    ("shadow_mismatch", "shadow_mismatch_rate", "Shadow mismatch", False),
)


_EMPTY = "\u2013"  # an en dash: no value


def _pct(value: float | None, digits: int = 1) -> str:
    return _EMPTY if value is None else f"{value * 100:.{digits}f} %"


def _utc(at: float | str | None) -> str:
    if not at:
        return _EMPTY
    return datetime.fromtimestamp(float(at), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(at: float | str | None) -> str:
    if not at:
        return "never"
    seconds = max(0, int(time.time() - float(at)))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"
    return f"{seconds // 86400} d ago"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") or "0"
    if isinstance(value, list):
        return "[" + ", ".join(_number(item) for item in value) + "]"
    return _EMPTY if value is None else str(value)


def _seconds(value: float | None) -> str:
    if value is None:
        return _EMPTY
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=ChainableUndefined,  # a missing part of the status renders empty, never a 500
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters.update(pct=_pct, utc=_utc, ago=_ago, number=_number, seconds=_seconds)


def _verdict(difference: dict[str, Any], higher_is_better: bool) -> str:
    """``better`` / ``worse`` when python's difference interval excludes 0, else ``even``."""
    interval = difference.get("ci95")
    if not interval:
        return "even"
    low, high = interval
    if high < 0:
        return "worse" if higher_is_better else "better"
    if low > 0:
        return "better" if higher_is_better else "worse"
    return "even"


def _comparison(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, field, label, higher_is_better in _RATES:
        difference = comparison.get("difference", {}).get(name, {})
        rows.append(
            {
                "label": label,
                "systems": {s.value: comparison.get(s.value, {}).get(field, {}) for s in _SYSTEMS},
                "difference": difference,
                "verdict": _verdict(difference, higher_is_better),
            }
        )
    return rows


def _labels(trends: Trends) -> list[str]:
    fmt = {"7d": "%a %H:%M", "30d": "%b %d"}.get(trends.window, "%H:%M")
    return [datetime.fromtimestamp(start, UTC).strftime(fmt) for start in trends.starts]


def _charts(trends: Trends) -> dict[str, Markup]:
    labels, empty = _labels(trends), trends.empty  # ``empty`` scans every bucket: once
    rates = [
        Series(
            system.value,
            system.value,
            [bucket.success_rate for bucket in trends.series[system]],
            [f"{_pct(bucket.success_rate)} of {bucket.trials}" for bucket in trends.series[system]],
        )
        for system in _SYSTEMS
    ]
    counts = [
        Series(
            system.value,
            system.value,
            [None if empty else float(b.trials) for b in trends.series[system]],
            [f"{bucket.trials} completions" for bucket in trends.series[system]],
        )
        for system in _SYSTEMS
    ]
    return {
        "success": line_chart(
            title="Success rate per bucket",
            labels=labels,
            series=rates,
            y_max=1.0,
            y_format=lambda value: f"{value * 100:.0f}%",
        ),
        "completions": line_chart(
            title="Completions per bucket",
            labels=labels,
            series=counts,
            y_format=lambda value: f"{value:g}",
        ),
    }


def _watchdog(raw: dict[str, str]) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        evidence = json.loads(raw.get("evidence") or "{}")
    except ValueError:
        evidence = {"unreadable": raw.get("evidence")}
    return {**raw, "evidence": evidence if isinstance(evidence, dict) else {"value": evidence}}


def _rollback_entry(transitions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest audit entry that turned the kill switch on."""
    for entry in transitions:
        after = str(entry.get("after", ""))
        if after.startswith(Mode.EMERGENCY_ROLLBACK.value) or after == OVERRIDE_TEXT:
            return entry
    return None


def view_model(
    status: dict[str, Any],
    trends: Trends,
    *,
    unleash_url: str,
    project: str,
    window: str,
) -> dict[str, Any]:
    """What the templates show, from a status snapshot and the trends of ``window``."""
    features = f"{unleash_url}/projects/{project}/features"
    kill_switch = bool(status.get("kill_switch"))
    transitions = status.get("recent_transitions", [])
    return {
        "status": status,
        "window": window,
        "windows": WINDOWS,
        "modes": [mode.value for mode in Mode.variants()],
        "kill_switch": kill_switch,
        "rollback_entry": _rollback_entry(transitions) if kill_switch else None,
        "flag_links": {
            "mode": f"{features}/{MODE_FLAG}",
            "rollout": f"{features}/{ROLLOUT_FLAG}",
            "kill_switch": f"{features}/{KILL_SWITCH_FLAG}",
        },
        "comparison": _comparison(status.get("comparison", {})),
        "durations": {
            s.value: status.get("comparison", {}).get(s.value, {}).get("duration_seconds", {})
            for s in _SYSTEMS
        },
        "sources": status.get("comparison", {}).get("sources", {}),
        "charts": _charts(trends),
        "trends_empty": trends.empty,
        "watchdog": _watchdog(status.get("watchdog", {})),
        "health_components": ("typescript", "python", "unleash", "redis"),
    }
