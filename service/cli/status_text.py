"""The migration status as text for a terminal: what ``switchyard status`` prints.

A pure function of the JSON ``/migration/status`` serves (:func:`service.status.snapshot.
collect_status`), so the CLI, the service and the tests read one shape.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["render_status"]

_RATES = (
    ("success rate", "success_rate", "success"),
    ("PR acceptance", "pr_acceptance_rate", "pr_acceptance"),
    ("build success", "build_success_rate", "build_success"),
    ("shadow mismatch", "shadow_mismatch_rate", "shadow_mismatch"),
)
_COMPONENTS = ("typescript", "python", "unleash", "redis", "flags")


def _rate(rate: dict[str, Any]) -> str:
    if rate["estimate"] is None:
        return "- (n=0)"
    low, high = rate["ci95"]
    return f"{rate['estimate']:.0%} [{low:.0%}-{high:.0%}] n={rate['n']}"


def _difference(diff: dict[str, Any]) -> str:
    if diff["difference"] is None:
        return "-"
    low, high = diff["ci95"]
    return f"{diff['difference']:+.0%} [{low:+.0%}, {high:+.0%}]"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _ago(at: object, now: float) -> str:
    if not isinstance(at, int | float):
        return ""
    return f", checked {max(0.0, now - at):.0f}s ago"


def _problem_lines(status: dict[str, Any]) -> list[str]:
    problems = status.get("flag_problems") or []
    if not problems:
        return []
    return [
        "** FLAGS MISCONFIGURED: the migration holds (new issues to typescript, owners keep "
        "theirs, nothing handed back) **",
        *(f"  {p['flag']}: {p['problem']} ({p['value']})" for p in problems),
    ]


def _state_line(status: dict[str, Any]) -> str:
    if status.get("kill_switch_text"):  # the break-glass override, Unleash not yet told
        unleash = f" (Unleash: {status['error']})" if status.get("error") else ""
        return f"Migration: ** {status['kill_switch_text']} **{unleash}"
    if "mode" not in status:
        return f"Migration: unknown ({status.get('error', 'no Unleash admin token configured')})"
    mode = status["mode"]
    rollout = status["rollout_percentage"]
    line = f"Migration: {mode}, python rollout {'?' if rollout is None else rollout}%"
    if status["kill_switch"]:
        line += f"  ** KILL SWITCH ON ** (mode underneath: {status['mode_variant']})"
    return line


def _health_lines(status: dict[str, Any], now: float) -> list[str]:
    probed = " (probed now by this command, not recorded)" if status.get("health_probed") else ""
    lines = [f"Health{probed}:"]
    for name in _COMPONENTS:
        entry = status["health"].get(name)
        if entry is None:
            continue
        healthy = entry.get("healthy")
        word = "healthy" if healthy else "not configured" if healthy is None else "UNHEALTHY"
        detail = "" if healthy is None else entry.get("detail") or entry.get("status") or ""
        latency = f", {entry['latency_ms']:.0f} ms" if entry.get("latency_ms") is not None else ""
        lines.append(f"  {name:<11} {word:<15} {detail}{latency}{_ago(entry.get('at'), now)}")
    return lines


def _comparison_lines(comparison: dict[str, Any]) -> list[str]:
    python, typescript = comparison["python"], comparison["typescript"]
    width = 28
    lines = [
        f"Comparison (window {comparison['window']}):",
        f"  {'':<16}{'python':<{width}}{'typescript':<{width}}python - typescript",
    ]
    for label, metric, diff in _RATES:
        lines.append(
            f"  {label:<16}{_rate(python[metric]):<{width}}{_rate(typescript[metric]):<{width}}"
            f"{_difference(comparison['difference'][diff])}"
        )
    durations = [
        f"p50 {_seconds(block['duration_seconds']['p50'])} "
        f"p95 {_seconds(block['duration_seconds']['p95'])}"
        for block in (python, typescript)
    ]
    lines.append(f"  {'duration':<16}{durations[0]:<{width}}{durations[1]:<{width}}")
    for system, source in sorted(comparison.get("sources", {}).items()):
        lines.append(f"  {system} numbers from: {source}")
    return lines


def render_status(status: dict[str, Any], *, now: float | None = None) -> str:
    now = time.time() if now is None else now
    owners = status["owners"]
    queue = status["queue"]
    lines = [
        _state_line(status),
        *_problem_lines(status),
        f"Owners: typescript {owners.get('typescript', 0)}, python {owners.get('python', 0)}",
        *_health_lines(status, now),
        *_comparison_lines(status["comparison"]),
        f"Queue: {queue['stream']} events kept, {queue['pending']} being dispatched, "
        f"{queue['dead_letters']} dead letters",
    ]
    watchdog = status.get("watchdog") or {}
    if watchdog:
        lines.append(
            f"Watchdog: {watchdog.get('verdict', '?')}, leader {watchdog.get('leader', '?')}"
            f"{_ago(_number(watchdog.get('last_tick')), now)}"
            + (f"; {watchdog['action']}" if watchdog.get("action") else "")
        )
        if watchdog.get("reasons") and watchdog.get("current") != "false":
            lines.append(f"  {watchdog['reasons']}")
        if watchdog.get("fold") == "rebuilt":
            lines.append(
                "  folding from a rebuilt state (its stored fold was lost or unreadable"
                f"{_ago(_number(watchdog.get('fold_rebuilt_at')), now)})"
            )
    else:
        lines.append("Watchdog: no report yet")
    transitions = status.get("recent_transitions") or []
    if transitions:
        lines.append("Recent changes:")
        for entry in transitions[:5]:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry["at"]))
            lines.append(
                f"  {when}  {entry['change']:<14} {entry['before']} -> {entry['after']}  "
                f"by {entry['actor']} ({entry['source']}): {entry['reason']}"
            )
    return "\n".join(lines)


def _number(value: object) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None
