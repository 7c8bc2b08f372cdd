"""Bar charts drawn on the server as SVG, so a phone shows them with no chart
script: the geometry is worked out here, the markup is in
templates/numbers/_chart.html.

Each row of a chart is a label over two bars, this period's (thick) and the
previous period's (thin), each followed by its value. The drawing is 420 units
wide and scales to the width of the screen; its text is sized for a 360 px
phone, and its colours come from the stylesheet, so dark mode just works.
"""
from dataclasses import dataclass, field

WIDTH = 420
# The longest bar; the rest of the width holds the value written after it.
BAR_SPACE = 280
LABEL_CHARS = 34
LEGEND_HEIGHT = 40
ROW_HEIGHT = 86


@dataclass
class Bar:
    """One bar: "now" (this period) or "was" (the previous one)."""
    kind: str
    y: int
    height: int
    width: float
    text: str
    text_y: int


@dataclass
class Row:
    label: str
    y: int
    bars: list = field(default_factory=list)


@dataclass
class Chart:
    """A drawn chart: what it shows (title, description) and where each part goes."""
    id: str
    title: str
    description: str
    legend: tuple
    rows: list
    width: int = WIDTH

    @property
    def height(self):
        return LEGEND_HEIGHT + ROW_HEIGHT * len(self.rows)


def bar_chart(id, title, rows, legend, full=None, description=""):
    """A chart of rows (label, (now value, now text), (was value, was text)).

    `full` is the value of a full-length bar: a number shared by every row
    (1 for shares), None for the largest value in the chart, or a list with
    one entry a row (rows measuring different things): a number, or None for
    the row's larger value. Such a row with a value missing (no time to
    acknowledge when nothing was picked up) has no bars: one bar alone,
    drawn to its own scale, is always full and says nothing.
    """
    values = [v for _, now, was in rows for v, _ in (now, was) if v is not None]
    largest = max(values, default=0)
    drawn = []
    for index, (label, now, was) in enumerate(rows):
        top = LEGEND_HEIGHT + index * ROW_HEIGHT
        scale = full or largest
        if isinstance(full, list):
            measured = now[0] is not None and was[0] is not None
            scale = full[index] or (max(now[0], was[0]) if measured else 0)
        drawn.append(Row(_shorten(label), top + 22, [
            _bar("now", top + 30, 22, now, scale),
            _bar("was", top + 58, 16, was, scale)]))
    return Chart(id, title, description, legend, drawn)


def _bar(kind, y, height, value_text, scale):
    value, text = value_text
    width = BAR_SPACE * value / scale if value and scale else 0
    return Bar(kind, y, height, round(width, 1), text, y + height - 2)


def _shorten(label):
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"
