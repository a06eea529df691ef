"""The bench's results: one row per measure, printed as a Markdown table, saved as JSON and
drawn as a small SVG plot. Pure: no timing, no servers."""

from __future__ import annotations

import html
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Samples:
    """Repeated measurements of one quantity."""

    values: tuple[float, ...]
    unit: str

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def show(self) -> str:
        if len(self.values) == 1:
            return f"{_num(self.values[0])} {self.unit}"
        return f"{_num(self.min)} / {_num(self.median)} {self.unit}"


def _num(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 0.1:
        return f"{x:.2f}"
    return f"{x:.3g}"


@dataclass(frozen=True)
class Row:
    """One measure against its peer (or against a bound) and whether the target is met."""

    key: str
    measure: str
    pypapo: Samples
    peer_name: str = "—"
    peer: Samples | None = None
    ratio: float | None = None
    ratio_text: str = "—"
    target: str = ""
    met: bool | None = None
    note: str = ""
    score: float | None = None
    """How far past its target: above 1 met with room to spare, below 1 missed."""

    def cells(self) -> list[str]:
        verdict = {True: "met", False: "**missed**", None: "—"}[self.met]
        return [
            self.measure,
            self.pypapo.show(),
            self.peer_name,
            self.peer.show() if self.peer is not None else "—",
            self.ratio_text,
            self.target,
            verdict,
        ]


HEADER = ["measure", "pypapo (min / median)", "peer", "peer (min / median)", "ratio", "target",
          "result"]  # fmt: skip


def speedup(key: str, measure: str, ours: Samples, peer_name: str, theirs: Samples, *,
            need: float, note: str = "") -> Row:  # fmt: skip
    """A row where pypapo must be ``need`` times faster (or higher throughput for ``/s``)."""
    higher_is_better = ours.unit.endswith("/s")
    ratio = ours.median / theirs.median if higher_is_better else theirs.median / ours.median
    return Row(key, measure, ours, peer_name, theirs, ratio, f"{ratio:.1f}x", f">= {need:g}x",
               ratio >= need, note, ratio / need)  # fmt: skip


def fraction(key: str, measure: str, ours: Samples, peer_name: str, theirs: Samples, *,
             bound: float, note: str = "") -> Row:  # fmt: skip
    """A row where pypapo's time must be at most ``bound`` (a fraction) of the peer's."""
    ratio = ours.median / theirs.median
    return Row(key, measure, ours, peer_name, theirs, ratio, f"{ratio:.2%}", f"<= {bound:.0%}",
               ratio <= bound, note, bound / ratio if ratio > 0 else None)  # fmt: skip


def bounded(key: str, measure: str, ours: Samples, *, limit: float, target: str,
            use_max: bool = True, note: str = "") -> Row:  # fmt: skip
    """A row with an absolute bound on pypapo's own figure (its worst run, by default)."""
    worst = max(ours.values) if use_max else ours.median
    return Row(key, measure, ours, target=target, met=worst <= limit, note=note,
               score=limit / worst if worst > 0 else None)  # fmt: skip


def info(key: str, measure: str, ours: Samples, *, peer_name: str = "—",
         peer: Samples | None = None, note: str = "") -> Row:  # fmt: skip
    """A row reported for context, with no target of its own."""
    return Row(key, measure, ours, peer_name, peer, note=note)


@dataclass(frozen=True)
class HostileRow:
    """One hostile input: how long a refresh takes to accept or refuse it, and the refresh's
    peak memory, against the Cloud Function's means (120 s and 512 MiB for a whole event)."""

    key: str
    input: str
    outcome: str
    seconds: Samples
    rss: Samples
    max_seconds: float = 10.0
    max_rss: float = 150.0

    @property
    def met(self) -> bool:
        return max(self.seconds.values) <= self.max_seconds and max(self.rss.values) <= self.max_rss

    def cells(self) -> list[str]:
        target = f"<= {self.max_seconds:g} s, <= {self.max_rss:g} MB"
        verdict = "met" if self.met else "**missed**"
        return [self.input, self.outcome, self.seconds.show(), self.rss.show(), target, verdict]


HOSTILE_HEADER = ["hostile input", "outcome", "time to accept/refuse (min / median)",
                  "peak RSS of the refresh (min / median)", "target", "result"]  # fmt: skip


@dataclass
class Results:
    machine: dict[str, str]
    date: str
    command: str
    rows: list[Row] = field(default_factory=list)
    growth: list[tuple[int, float, float]] = field(default_factory=list)
    """(files, refresh median s, full build s) per repository size."""
    hostile: list[HostileRow] = field(default_factory=list)

    def hostile_table(self) -> str:
        """The hostile-input section: its own table, empty when not measured."""
        if not self.hostile:
            return ""
        lines = ["| " + " | ".join(HOSTILE_HEADER) + " |", "|" + "---|" * len(HOSTILE_HEADER)]
        lines += ["| " + " | ".join(row.cells()) + " |" for row in self.hostile]
        return "\n".join(lines) + "\n"

    def table(self) -> str:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(row.cells()) + " |" for row in self.rows]
        notes = [f"- {row.measure}: {row.note}" for row in self.rows if row.note]
        return "\n".join(lines + (["", *notes] if notes else [])) + "\n"

    def header(self) -> str:
        machine = ", ".join(f"{k}: {v}" for k, v in self.machine.items())
        return f"Date: {self.date}. Machine: {machine}.\nCommand: `{self.command}`\n"

    def to_json(self) -> str:
        body = asdict(self)
        return json.dumps(body, indent=1) + "\n"

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        data = directory / "latest.json"
        data.write_text(self.to_json())
        plot = directory / "latest.svg"
        plot.write_text(svg_plot(self.rows, self.growth))
        return data, plot


def svg_plot(rows: Sequence[Row], growth: Sequence[tuple[int, float, float]]) -> str:
    """Left: refresh time and full build time against repository size (log-log). Right: the
    ratio of each compared row to its target (1 = exactly on target; right of 1 is better)."""
    width, height, pad = 760, 300, 46
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    out += _growth_panel(growth, pad, pad, 320, height - 2 * pad)
    out += _ratio_panel(rows, 420, pad, 320, height - 2 * pad)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _log_scale(values: Sequence[float], lo_px: float, hi_px: float) -> tuple[float, float, float]:
    lo, hi = math.log10(min(values)), math.log10(max(values))
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    return lo, hi, (hi_px - lo_px) / (hi - lo)


def _growth_panel(growth: Sequence[tuple[int, float, float]], x0: float, y0: float, w: float,
                  h: float) -> list[str]:  # fmt: skip
    out = [
        f'<text x="{x0}" y="{y0 - 18}" font-weight="bold">Time vs repository size</text>',
        f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>',
    ]
    if not growth:
        return [*out, f'<text x="{x0 + 10}" y="{y0 + 20}">(growth not measured)</text>']
    files = [g[0] for g in growth]
    times = [t for g in growth for t in g[1:] if t > 0]
    fx_lo, _, fx = _log_scale(files, 0, w)
    ty_lo, _, ty = _log_scale(times, 0, h)

    def pt(n: float, t: float) -> str:
        x = x0 + (math.log10(n) - fx_lo) * fx
        return f"{x:.1f},{y0 + h - (math.log10(t) - ty_lo) * ty:.1f}"

    for idx, (color, label) in enumerate((("#1f77b4", "refresh (1 upload)"),
                                          ("#d62728", "full build")), start=1):  # fmt: skip
        pts = [pt(g[0], g[idx]) for g in growth if g[idx] > 0]
        out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{color}" '
                   'stroke-width="2"/>')  # fmt: skip
        out += [f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3" fill="{color}"/>'
                for p in pts]  # fmt: skip
        out.append(f'<text x="{x0 + 8}" y="{y0 + 14 * idx}" fill="{color}">{label}</text>')
    for g in growth:
        x = x0 + (math.log10(g[0]) - fx_lo) * fx
        out.append(f'<text x="{x:.1f}" y="{y0 + h + 14}" text-anchor="middle">{g[0]:,}</text>')
        for t in g[1:]:
            if t > 0:
                y = y0 + h - (math.log10(t) - ty_lo) * ty
                out.append(f'<text x="{x + 5:.1f}" y="{y - 4:.1f}" font-size="9">{_num(t)}s</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 28}" text-anchor="middle">files (log)</text>')
    return out


def _ratio_panel(rows: Sequence[Row], x0: float, y0: float, w: float, h: float) -> list[str]:
    out = [f'<text x="{x0}" y="{y0 - 18}" font-weight="bold">Result / target (1 = on target, '
           'longer is better)</text>']  # fmt: skip
    scored = [(r, _score(r)) for r in rows if r.met is not None and _score(r) is not None]
    if not scored:
        return out
    top = min(max(*(s for _, s in scored if s is not None), 1.0), 5.0) * 1.1
    bar_h = min(22.0, h / len(scored) - 4)
    one = x0 + 110 + (w - 110) / top
    for i, (row, score) in enumerate(scored):
        assert score is not None
        y = y0 + i * (bar_h + 4)
        color = "#2ca02c" if row.met else "#d62728"
        bar = (w - 110) * min(score, top) / top
        out.append(f'<text x="{x0 + 105}" y="{y + bar_h * 0.7:.1f}" text-anchor="end">'
                   f"{html.escape(row.key)}</text>")  # fmt: skip
        out.append(f'<rect x="{x0 + 110}" y="{y:.1f}" width="{bar:.1f}" height="{bar_h:.1f}" '
                   f'fill="{color}"/>')  # fmt: skip
        out.append(f'<text x="{x0 + 114 + bar:.1f}" y="{y + bar_h * 0.7:.1f}">{score:.2f}</text>')
    out.append(f'<line x1="{one:.1f}" y1="{y0}" x2="{one:.1f}" y2="{y0 + h}" stroke="#333" '
               'stroke-dasharray="4 3"/>')  # fmt: skip
    return out


def _score(row: Row) -> float | None:
    return row.score
