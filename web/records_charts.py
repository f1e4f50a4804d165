"""Server-rendered SVG charts for the reports: no JavaScript, no CDN, no inline CSS.

Colours are SVG presentation attributes (not `style`), so the site's CSP allows them;
every label is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#1f6f43", "#c2410c", "#1d4ed8", "#7c3aed")
BAR = 18
GAP = 8
LABEL_WIDTH = 200
PLOT_WIDTH = 360
VALUE_WIDTH = 70


@dataclass(frozen=True)
class Series:
    name: str
    color: str


def stacked_bars(title: str, rows: Sequence[tuple[str, Sequence[float]]], series: Sequence[Series],
                 value_label: str = "") -> Markup:
    """Horizontal stacked bars, one row per label, with a legend; an accessible <svg role=img>."""
    if not rows:
        return Markup("")
    top = max(sum(values) for _label, values in rows) or 1.0
    legend_height = 24
    height = legend_height + len(rows) * (BAR + GAP) + GAP
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    parts = [Markup('<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
                    'viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-labelledby="{id}">'
                    '<title id="{id}">{t}</title>').format(w=width, h=height, id=_slug(title), t=title)]
    x = LABEL_WIDTH
    for s in series:
        parts.append(Markup('<rect x="{}" y="6" width="12" height="12" fill="{}"/>'
                            '<text x="{}" y="16" font-size="12">{}</text>').format(x, s.color, x + 16, s.name))
        x += 24 + _text_width(s.name)
    for i, (label, values) in enumerate(rows):
        y = legend_height + GAP + i * (BAR + GAP)
        parts.append(Markup('<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>').format(
            LABEL_WIDTH - 8, y + BAR - 5, _clip(label)))
        offset = 0.0
        for value, s in zip(values, series, strict=False):
            w = PLOT_WIDTH * value / top
            if w > 0:
                parts.append(Markup('<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="{}">'
                                    '<title>{}: {}</title></rect>').format(
                    LABEL_WIDTH + offset, y, w, BAR, s.color, s.name, _number(value)))
            offset += w
        total = " / ".join(_number(v) for v in values)
        parts.append(Markup('<text x="{:.1f}" y="{}" font-size="12">{}{}</text>').format(
            LABEL_WIDTH + offset + 6, y + BAR - 5, total, value_label))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def rate_bars(title: str, rows: Sequence[tuple[str, float | None]], color: str = PALETTE[0]) -> Markup:
    """One bar per label for a rate between 0 and 1, labelled as a percentage."""
    if not rows:
        return Markup("")
    height = len(rows) * (BAR + GAP) + GAP
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    parts = [Markup('<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
                    'viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-labelledby="{id}">'
                    '<title id="{id}">{t}</title>').format(w=width, h=height, id=_slug(title), t=title)]
    for i, (label, rate) in enumerate(rows):
        y = GAP + i * (BAR + GAP)
        parts.append(Markup('<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>').format(
            LABEL_WIDTH - 8, y + BAR - 5, _clip(label)))
        parts.append(Markup('<rect x="{}" y="{}" width="{}" height="{}" fill="#e5e7eb"/>').format(
            LABEL_WIDTH, y, PLOT_WIDTH, BAR))
        w = PLOT_WIDTH * (rate or 0.0)
        parts.append(Markup('<rect x="{}" y="{}" width="{:.1f}" height="{}" fill="{}"/>').format(
            LABEL_WIDTH, y, w, BAR, color))
        text = "-" if rate is None else f"{rate:.0%}"
        parts.append(Markup('<text x="{}" y="{}" font-size="12">{}</text>').format(
            LABEL_WIDTH + PLOT_WIDTH + 6, y + BAR - 5, text))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _text_width(text: str) -> int:
    """About how wide a 12px label is: Chinese characters take twice the room of Latin ones."""
    return sum(13 if ord(ch) > 0x2E80 else 7 for ch in text)


def _clip(label: str, limit: int = 26) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _slug(title: str) -> str:
    return "chart-" + "".join(ch if ch.isalnum() else "-" for ch in str(escape(title)).lower())[:40]


TREND_WIDTH = 640
TREND_HEIGHT = 220
TREND_PAD = 40


def trend_lines(title: str, labels: Sequence[str], series: Sequence[tuple[Series, Sequence[float | None]]],
                band: tuple[float, float] | None = None) -> Markup:
    """Rates (0 to 1) over weeks or months as lines with points; a gap where a period has no value.

    `band` shades a target range (the KCS link-rate band of 60-80%).
    """
    if not labels or not series:
        return Markup("")
    width, height, pad = TREND_WIDTH, TREND_HEIGHT, TREND_PAD
    plot_w, plot_h = width - 2 * pad, height - 2 * pad - 16
    step = plot_w / max(1, len(labels) - 1)

    def x(i: int) -> float:
        return pad + (i * step if len(labels) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return pad + 16 + plot_h * (1 - max(0.0, min(1.0, v)))

    parts = [Markup('<svg xmlns="http://www.w3.org/2000/svg" class="chart trend" role="img" '
                    'viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-labelledby="{id}">'
                    '<title id="{id}">{t}</title>').format(w=width, h=height, id=_slug(title), t=title)]
    if band is not None:
        parts.append(Markup('<rect x="{}" y="{:.1f}" width="{}" height="{:.1f}" fill="#dcfce7">'
                            '<title>{:.0%}–{:.0%}</title></rect>').format(
            pad, y(band[1]), plot_w, y(band[0]) - y(band[1]), band[0], band[1]))
    for tick in (0.0, 0.5, 1.0):
        parts.append(Markup('<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#d1d5db"/>'
                            '<text x="{}" y="{:.1f}" font-size="11" text-anchor="end">{:.0%}</text>').format(
            pad, pad + plot_w, y(tick), y(tick), pad - 4, y(tick) + 4, tick))
    every = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(Markup('<text x="{:.1f}" y="{}" font-size="11" text-anchor="middle">{}</text>').format(
                x(i), height - 6, label))
    lx = pad
    for s, values in series:
        parts.append(Markup('<rect x="{}" y="4" width="12" height="12" fill="{}"/>'
                            '<text x="{}" y="14" font-size="12">{}</text>').format(lx, s.color, lx + 16, s.name))
        lx += 28 + _text_width(s.name)
        points: list[str] = []
        for i, value in enumerate(values):
            if value is None:
                if len(points) > 1:
                    parts.append(Markup('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>').format(
                        s.color, " ".join(points)))
                points = []
                continue
            points.append(f"{x(i):.1f},{y(value):.1f}")
            parts.append(Markup('<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"><title>{} {}: {:.0%}</title>'
                                '</circle>').format(x(i), y(value), s.color, labels[i], s.name, value))
        if len(points) > 1:
            parts.append(Markup('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>').format(
                s.color, " ".join(points)))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
