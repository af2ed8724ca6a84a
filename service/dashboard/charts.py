"""Server-rendered SVG line charts: no chart library, no script, nothing fetched.

:func:`line_chart` turns a few series of values (``None`` where a bucket has no data) into an
inline ``<svg>``: a horizontal grid with y labels, x labels under the buckets, one polyline per
run of consecutive values (a gap where a bucket is empty, never a line drawn through it), and a
dot with a tooltip (``<title>``) for every value. Colours come from the series' CSS class in the
stylesheet; the SVG carries no ``style`` attribute, so a strict Content-Security-Policy holds.
Every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Series", "line_chart", "nice_ceiling"]

_LEFT, _RIGHT, _TOP, _BOTTOM = 46.0, 10.0, 24.0, 22.0
_GRID_LINES = 4
_X_LABELS = 6


@dataclass(frozen=True, slots=True)
class Series:
    name: str  # shown in the legend
    css_class: str  # the stylesheet colours ``.series-<css_class>``
    values: Sequence[float | None]
    notes: Sequence[str] = ()  # one tooltip per value (optional)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def _runs(values: Sequence[float | None]) -> list[list[int]]:
    """Indices of consecutive non-None values."""
    runs: list[list[int]] = []
    current: list[int] = []
    for index, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(index)
    if current:
        runs.append(current)
    return runs


def line_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    y_max: float | None = None,
    y_format: Callable[[float], str] = _fmt,
    width: int = 560,
    height: int = 190,
) -> Markup:
    """An inline SVG line chart of ``series`` over the buckets named by ``labels``."""
    count = len(labels)
    if any(len(line.values) != count for line in series):
        raise ValueError("every series needs one value per label")
    present = [value for line in series for value in line.values if value is not None]
    top = y_max if y_max is not None else nice_ceiling(max(present, default=0.0))
    plot_w, plot_h = width - _LEFT - _RIGHT, height - _TOP - _BOTTOM

    def y(value: float) -> float:
        return _TOP + plot_h * (1 - min(max(value / top, 0.0), 1.0))

    # Each bucket's x, each label's escaped text: computed once, used by every series.
    xs = [_fmt(_LEFT + (index + 0.5) * plot_w / max(count, 1)) for index in range(count)]
    safe_labels = [escape(label) for label in labels]
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(_GRID_LINES + 1):
        tick = top * step / _GRID_LINES
        level = _fmt(y(tick))
        parts.append(
            f'<line class="grid" x1="{_fmt(_LEFT)}" x2="{_fmt(width - _RIGHT)}" '
            f'y1="{level}" y2="{level}"/>'
        )
        parts.append(
            f'<text class="axis-label" x="{_fmt(_LEFT - 6)}" y="{_fmt(y(tick) + 4)}" '
            f'text-anchor="end">{escape(y_format(tick))}</text>'
        )
    every = max(1, math.ceil(count / _X_LABELS))
    label_y = _fmt(height - 6)
    for index in range(0, count, every):
        parts.append(
            f'<text class="axis-label" x="{xs[index]}" y="{label_y}" '
            f'text-anchor="middle">{safe_labels[index]}</text>'
        )
    legend_x = _LEFT
    for line in series:
        css = f"series series-{escape(line.css_class)}"
        parts.append(
            f'<line class="{css}" x1="{_fmt(legend_x)}" x2="{_fmt(legend_x + 16)}" '
            f'y1="10" y2="10"/>'
            f'<text class="legend" x="{_fmt(legend_x + 20)}" y="14">{escape(line.name)}</text>'
        )
        legend_x += 28 + 8 * len(line.name)
    if not present:
        parts.append(
            f'<text class="empty" x="{_fmt(_LEFT + plot_w / 2)}" y="{_fmt(_TOP + plot_h / 2)}" '
            'text-anchor="middle">no data in this window</text>'
        )
    for line in series:
        css_class, name = escape(line.css_class), escape(line.name)
        ys = [None if value is None else _fmt(y(value)) for value in line.values]
        for run in _runs(line.values):
            if len(run) > 1:
                points = " ".join(f"{xs[i]},{ys[i]}" for i in run)
                parts.append(
                    f'<polyline class="series series-{css_class}" fill="none" points="{points}"/>'
                )
        for index, value in enumerate(line.values):
            if value is None:
                continue
            note = line.notes[index] if index < len(line.notes) else y_format(value)
            parts.append(
                f'<circle class="point point-{css_class}" cx="{xs[index]}" '
                f'cy="{ys[index]}" r="2.5"><title>{name} '
                f"{safe_labels[index]}: {escape(note)}</title></circle>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
