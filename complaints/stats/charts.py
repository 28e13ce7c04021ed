"""Charts of protected tables, drawn on the server as SVG (pygal) and put inline in the page.

The page's Content-Security-Policy allows no inline styles, so pygal's <style> element (and its
tooltip, which needs script) is taken out and the few rules a static chart needs are written as
presentation attributes, which CSP does not govern. A suppressed number is no bar or point: the
table beside each chart is the accessible version and says why.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

import pygal
from markupsafe import Markup
from pygal.style import Style

SVG = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")

# Colours that keep 3:1 contrast against white (WCAG 1.4.11), distinct for colour blindness.
PALETTE = ("#01689b", "#ca005d", "#39870c", "#e17000", "#42145f", "#007bc7", "#673327", "#275937")
TEXT = "#0b0c0c"
FONT = "system-ui, sans-serif"
_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground=TEXT,
    foreground_strong=TEXT,
    foreground_subtle="#505a5f",
    colors=PALETTE,
    font_family=FONT,
)
_SIZES = {"title": "16", "legend": "13", "axis": "12", "value": "12"}

Series = Sequence[tuple[str, Sequence[int | float | None]]]


def bar_chart(
    title: str, x_labels: Sequence[str], series: Series, *, top: int | None = None
) -> Markup:
    """Bars per x label, one colour per series; ``None`` (suppressed) draws no bar. ``top``
    fixes the scale (100 for percentages); else it runs in whole numbers to the largest."""
    chart = pygal.Bar(**_config(title, len(series) > 1), y_labels=_scale(series, top))
    chart.x_labels = list(x_labels)
    for name, values in series:
        chart.add(name, list(values))
    return _inline(chart)


def line_chart(title: str, x_labels: Sequence[str], series: Series) -> Markup:
    """A line per series over the x labels; ``None`` (suppressed) breaks the line."""
    chart = pygal.Line(
        **_config(title, len(series) > 1), allow_interruptions=True, y_labels=_scale(series, None)
    )
    chart.x_labels = list(x_labels)
    for name, values in series:
        chart.add(name, list(values))
    return _inline(chart)


def _scale(series: Series, top: int | None) -> list[int]:
    """Whole-number steps from 0: counts are never fractions."""
    largest = top
    if largest is None:
        values = [v for _, line in series for v in line if v is not None]
        largest = math.ceil(max(values, default=0))
    step = max(1, math.ceil(largest / 5))
    return list(range(0, largest + step, step))


def _config(title: str, legend: bool) -> dict[str, object]:
    return {
        "js": [],
        "disable_xml_declaration": True,
        "style": _STYLE,
        "title": title,
        "show_legend": legend,
        "legend_at_bottom": True,
        "width": 760,
        "height": 360,
        "x_label_rotation": 20,
        "truncate_label": 30,
        "show_x_guides": False,
        "print_values": False,
        "no_data_text": "",
        "min_scale": 1,
    }


def _inline(chart: Any) -> Markup:
    root = chart.render_tree()
    _restyle(root, ())
    root.set("aria-hidden", "true")
    root.set("focusable", "false")
    root.set("class", "chart__svg")
    root.attrib.pop("id", None)
    text = ET.tostring(root, encoding="unicode", short_empty_elements=True)
    return Markup(text)  # noqa: S704 - built by pygal from our own labels, escaped by ElementTree


def _restyle(element: ET.Element, outer: tuple[str, ...]) -> None:
    """Drop style and script, and give each element the look pygal's stylesheet gave it."""
    for child in list(element):
        if not isinstance(child.tag, str):  # pygal's comments
            element.remove(child)
            continue
        tag = child.tag.rsplit("}", 1)[-1]
        classes = tuple((child.get("class") or "").split())
        if tag in ("style", "script", "title", "desc") or "tooltip" in classes:
            element.remove(child)
            continue
        child.attrib.pop("style", None)
        _presentation(child, tag, classes, outer)
        _restyle(child, outer + classes)


def _presentation(
    element: ET.Element, tag: str, classes: tuple[str, ...], outer: tuple[str, ...]
) -> None:
    everything = classes + outer
    colour = next((c for c in classes if c.startswith("color-")), None)
    if colour is not None:
        fill = PALETTE[int(colour[6:]) % len(PALETTE)]
        element.set("fill", fill)
        element.set("stroke", fill)
    if "background" in classes:
        element.set("fill", "#ffffff")
    if tag in ("path", "line") and "line" in classes:
        if "guide" in classes:
            element.set("fill", "none")
            element.set("stroke", "#b1b4b6")
            element.set("stroke-dasharray", "4,4")
        elif "nofill" not in classes:
            element.set("stroke", TEXT)
    if "nofill" in classes:
        element.set("fill", "none")
        element.set("stroke-width", "3")
    if tag == "text":
        # Text is laid out inside the drawing, which scales to the page: not a box of its own.
        element.set("display", "inline")
        element.set("fill", TEXT)
        element.set("stroke", "none")
        element.set("font-family", FONT)
        size = "title" if "title" in everything else "legend" if "legend" in everything else "axis"
        element.set("font-size", _SIZES[size])
        if "y" in everything and "axis" in everything:
            element.set("text-anchor", "end")
        elif (
            "centered" in everything
            or "title" in everything
            or ("x" in everything and "axis" in everything and element.get("transform") is None)
        ):
            element.set("text-anchor", "middle")
