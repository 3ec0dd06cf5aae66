"""Geometry for the small server-side SVG charts on Home (no JavaScript charting)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 440
LABEL_W = 100
VALUE_W = 150
ROW_H = 28
BAR_H = 18


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value_text: str
    y: int
    width: float
    muted: bool


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    bars: list[Bar]
    width: int = WIDTH
    label_w: int = LABEL_W

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * ROW_H + 4

    @property
    def bar_area(self) -> int:
        return self.width - self.label_w - VALUE_W


def bar_chart(title: str, rows: list[tuple[str, float, str, bool]]) -> BarChart:
    """``rows`` are (label, value, text shown beside the bar, muted?)."""
    top = max((v for _, v, _, _ in rows), default=0) or 1
    area = WIDTH - LABEL_W - VALUE_W
    bars = [
        Bar(label, text, i * ROW_H + 2, round(max(value, 0) / top * area, 1), muted)
        for i, (label, value, text, muted) in enumerate(rows)
    ]
    return BarChart(title, bars)
