"""The Numenta Anomaly Benchmark: run the product's detector over NAB's corpus, write NAB's
result files and score them the way NAB publishes its scoreboard.

NAB's scoring, as its documentation and scorer define it (written here from that description):

- Each labelled anomaly has a window around it (``labels/combined_windows.json``).
- The first ``min(floor(15% of the rows), 750)`` rows of a file are a probation period: they
  count for nothing, and a window lying wholly inside it is not scored.
- A detection is a row whose anomaly score reaches the threshold. In a window only the best
  (earliest) detection counts: ``tp_weight * sigmoid(y) / sigmoid(-1)`` where ``y`` is the row's
  relative position (-1 at the window's left edge, 0 just past its right edge) and
  ``sigmoid(y) = 2 / (1 + exp(5y)) - 1``. A window with no detection costs ``fn_weight``.
- A detection outside every window costs ``fp_weight * sigmoid(d)``, where ``d`` is the distance
  past the previous window's right edge in that window's widths; before any window, or three
  widths or more past one, it costs the full ``fp_weight``.
- One threshold per profile is chosen to maximise the total over the whole corpus, and the
  total is normalised as ``100 * (S - S_null) / (S_perfect - S_null)``: the null detector never
  fires (every window missed), the perfect one fires at every window's left edge.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tideover.detect.detector import Detector, Direction

DETECTOR_NAME = "tideover"
# NAB's series are machine and traffic metrics whose broken rhythm is the anomaly: the
# evaluation runs every file at the sensitivity a signal of that kind would be set to.
SENSITIVITY = "high"
PROFILES = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0},
}
PROBATION_SHARE = 0.15


def sigmoid(position: float) -> float:
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = sigmoid(-1.0)


@dataclass
class DataFile:
    name: str  # "<category>/<file>.csv", as NAB's labels name it
    timestamps: list[str]
    values: list[float]
    windows: list[tuple[str, str]]
    scores: list[float] = field(default_factory=list)


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.strip().replace(" ", "T").split(".")[0])


def read_corpus(root: Path, only: Iterable[str] | None = None) -> list[DataFile]:
    """Every CSV under ``root/data`` with its label windows (an unknown file has none)."""
    root = Path(root)
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    wanted = set(only) if only is not None else None
    files = []
    for path in sorted((root / "data").glob("*/*.csv")):
        name = f"{path.parent.name}/{path.name}"
        if wanted is not None and name not in wanted:
            continue
        timestamps, values = [], []
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                timestamps.append(row["timestamp"])
                values.append(float(row["value"]))
        limits = [
            (_parse(a).isoformat(sep=" "), _parse(b).isoformat(sep=" "))
            for a, b in windows.get(name, [])
        ]
        files.append(DataFile(name, timestamps, values, limits))
    return files


def run_detector(data: DataFile, make: Callable[[], Detector] | None = None) -> list[float]:
    """The product's detector over one file, one point at a time, as it runs on a signal."""
    detector = make() if make else Detector(direction=Direction.BOTH, sensitivity=SENSITIVITY)
    scores = []
    for ts, value in zip(data.timestamps, data.values, strict=True):
        scores.append(detector.step(_parse(ts), value).onset)
    data.scores = scores
    return scores


def write_results(out: Path, data: DataFile, detector: str = DETECTOR_NAME) -> Path:
    """``results/<detector>/<category>/<detector>_<file>.csv`` in NAB's columns."""
    category, filename = data.name.split("/", 1)
    path = Path(out) / detector / category / f"{detector}_{filename}"
    path.parent.mkdir(parents=True, exist_ok=True)
    inside = _window_index(data)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", "anomaly_score", "label"])
        for i, (ts, value, score) in enumerate(
            zip(data.timestamps, data.values, data.scores, strict=True)
        ):
            writer.writerow([ts, value, f"{score:.6f}", 0 if inside[i] is None else 1])
    return path


def _window_index(data: DataFile) -> list[int | None]:
    """For each row, the number of the window it lies in (or None)."""
    normal = [_parse(ts).isoformat(sep=" ") for ts in data.timestamps]
    position = {ts: i for i, ts in enumerate(normal)}
    inside: list[int | None] = [None] * len(normal)
    for number, (left, right) in enumerate(data.windows):
        if left not in position or right not in position:
            continue
        for i in range(position[left], position[right] + 1):
            inside[i] = number
    return inside


@dataclass(frozen=True)
class Row:
    score: float
    weight: float  # the unweighted sigmoid value of detecting at this row
    window: str | None  # "<file>|<window number>" for rows inside a window


def scorable_rows(data: DataFile) -> list[Row]:
    """The rows after probation, each with what detecting it would be worth."""
    inside = _window_index(data)
    probation = min(math.floor(PROBATION_SHARE * len(data.values)), PROBATION_SHARE * 5000)
    bounds = {}
    for i, number in enumerate(inside):
        if number is not None:
            left, _ = bounds.get(number, (i, i))
            bounds[number] = (left, i)
    rows = []
    prev_right = prev_width = None
    for i, number in enumerate(inside):
        if number is not None:
            left, right = bounds[number]
            width = right - left + 1
            weight = sigmoid(-(right - i + 1) / width)
            if i == right:
                prev_right, prev_width = right, width
        elif prev_right is None or prev_width <= 1:
            weight = -1.0
        else:
            weight = sigmoid(abs(prev_right - i) / (prev_width - 1))
        if i >= probation:
            window = None if number is None else f"{data.name}|{number}"
            rows.append(Row(data.scores[i], weight, window))
    return rows


@dataclass(frozen=True)
class ProfileScore:
    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float

    @property
    def normalised(self) -> float:
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)


def score_corpus(rows: list[Row], profile: str, labelled: int | None = None) -> ProfileScore:
    """Sweep every threshold over the whole corpus; keep the best total. The null detector
    misses every window it is scored on; the perfect one, as NAB normalises, is worth every
    labelled window (``labelled``, by default the scored ones: they differ only when a window
    lies wholly inside a probation period)."""
    weights = PROFILES[profile]
    windows = {row.window for row in rows if row.window is not None}
    parts = dict.fromkeys(windows, -weights["fn"])
    null = -weights["fn"] * len(windows)
    perfect = weights["tp"] * (len(windows) if labelled is None else labelled)
    total = null
    best_total, best_threshold = null, 1.1
    ordered = sorted(rows, key=lambda row: row.score, reverse=True)
    i = 0
    while i < len(ordered):
        threshold = ordered[i].score
        while i < len(ordered) and ordered[i].score == threshold:
            row = ordered[i]
            if row.window is None:
                total += weights["fp"] * row.weight
            else:
                gain = weights["tp"] * row.weight / MAX_TP
                if gain > parts[row.window]:
                    total += gain - parts[row.window]
                    parts[row.window] = gain
            i += 1
        if total > best_total:
            best_total, best_threshold = total, threshold
    return ProfileScore(profile, best_threshold, best_total, null, perfect)


def evaluate(
    root: Path,
    out: Path | None = None,
    only: Iterable[str] | None = None,
    make: Callable[[], Detector] | None = None,
    progress: Callable[[DataFile], None] | None = None,
) -> dict[str, ProfileScore]:
    """Run, write (when ``out`` is given) and score; the three profiles' results."""
    rows: list[Row] = []
    labelled = 0
    for data in read_corpus(root, only):
        labelled += len(data.windows)
        run_detector(data, make)
        if out is not None:
            write_results(out, data)
        rows.extend(scorable_rows(data))
        if progress:
            progress(data)
    return {profile: score_corpus(rows, profile, labelled) for profile in PROFILES}
