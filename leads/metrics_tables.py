"""Metric tables as data: what the pages render, the charts draw and the CSV exports hold."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from flask import Response

from leads.export import safe_cell
from leads.metrics import Tally


@dataclass(frozen=True)
class Cell:
    text: str
    value: float | None = None  # for charts and sorting; None for labels and "—"
    link: str | None = None  # the drill-down to the calls behind the figure

    @property
    def csv(self) -> str:
        if self.value is None:
            return self.text
        return f"{self.value:g}" if isinstance(self.value, float) else str(self.value)


@dataclass
class Table:
    key: str  # names the table in ?export=<key>
    title: str
    columns: Sequence[str]
    rows: list[list[Cell]] = field(default_factory=list)
    empty: str = "No calls in this period."
    chart_column: int | None = None  # which column the bar chart beside the table draws

    @property
    def chart_max(self) -> float:
        if self.chart_column is None:
            return 0
        return max((row[self.chart_column].value or 0 for row in self.rows), default=0)


def number(value: float | None, link: str | None = None) -> Cell:
    if value is None:
        return Cell("—")
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    return Cell(text, value, link)


def percent(value: float | None) -> Cell:
    return Cell("—") if value is None else Cell(f"{value:.1%}", round(value * 100, 1))


def duration(seconds: float | None) -> Cell:
    if seconds is None:
        return Cell("—")
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {rest:02d}s"
    return Cell(text, int(seconds))


TALLY_COLUMNS = (
    "Dials", "Connects", "Connect rate", "Conversations", "Conversation rate",
    "Meetings /100", "Qualified /100", "Callbacks set", "Dials /hour",
    "Attempts to 1st connect", "Talk time",
)  # fmt: skip


def tally_cells(tally: Tally, link: callable | None = None) -> list[Cell]:
    """A tally as the standard figure columns; ``link(group)`` names each count's drill-down."""
    to = link or (lambda _group: None)
    return [
        number(tally.dials, to("dials")), number(tally.connects, to("connects")),
        percent(tally.connect_rate), number(tally.conversations, to("conversations")),
        percent(tally.conversation_rate), number(tally.meetings_per_100),
        number(tally.qualified_per_100), number(tally.callbacks_set, to("callbacks")),
        number(tally.dials_per_hour), number(tally.attempts_to_first_connect),
        duration(tally.talk_seconds),
    ]  # fmt: skip


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """RFC 4180 CSV with a BOM, every cell made formula-safe as the lead export does."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in columns])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return out.getvalue()


def csv_response(table: Table, today: date) -> Response:
    body = csv_text(table.columns, ([cell.csv for cell in row] for row in table.rows))
    response = Response(body, mimetype="text/csv")
    name = f"leadline-{table.key}-{today.isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
