"""The streaming detector every signal runs: a point in, a score and a decision out.

Why our own and not ``river``: river's anomaly models (HalfSpaceTrees, GaussianScorer, ...) keep
an object graph per model and bring numpy, scipy and pandas into the product, and none of them
learns a time-of-day / day-of-week baseline that refuses to learn from the outages it flags.
This one keeps a fixed block of floats per signal (:data:`STATE_BYTES`, under 3 KB packed),
so 10,000 signals fit in a few tens of megabytes and a minute of them scores in well under a
second (``bench/detect.py``).

How a point is scored:

1. **Baselines.** A fast robust level (an exponentially weighted mean whose updates are clipped
   to a few spreads, so one spike barely moves it) and two seasonal tables, by hour of the day
   and by hour of the week. A seasonal slot speaks once it has seen two days (weeks) of its
   hour; the weekly one wins when both do. Slots learn slowly (a tenth of the way per day's
   visit) and winsorised (a value far outside the band counts only as the band's edge), so a
   two-hour outage moves the expectation for that hour by a fraction of one spread: the outage
   does not become the new normal, while a lasting change is learned over days.
2. **Surprise.** The residual against the baseline over the learned spread (a robust z), and the
   jump from the previous point over the usual jump. The signal's ``direction`` keeps only the
   side that is bad (coverage falling, failures rising).
3. **Likelihood.** Surprise is compared with this signal's own history of surprise: a short
   average of recent surprise against the long-run mean and variance, turned into a tail
   probability. The score is ``1 - tail``, so one threshold works across very different signals.
4. **Shape.** Two scores on the shape of the series rather than its level, because many
   failures are a value or a rhythm the signal has never shown: a value beyond the whole range
   seen so far (once a day of points is seen, graded by how far past it goes), and a pattern of
   the last three values (each binned into twelfths of that range) never seen before, counted in
   a fixed table of 512 hashed one-byte counts that are halved every 2,000 points so old
   patterns are forgotten. The pattern's novelty goes through the same likelihood as surprise.
5. **Decision.** The highest of these scores against the threshold for the signal's
   sensitivity (:data:`SENSITIVITIES`: ``high`` also takes the smallest new extreme and a new
   pattern; ``normal`` and ``low`` want a new extreme past the range by a spread and ignore
   patterns, which on noisy per-minute retail series are mostly noise). ``onset`` is the score
   when it is news (above the recent, fading peak) and damped otherwise, so an episode counts
   once however long it lasts; the NAB evaluation scores ``onset``. A count signal's detector
   is given ``min_count``: a rise to fewer events than that is never anomalous.
"""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import dataclass
from datetime import datetime

VERSION = 2
WEEK_SLOTS = 168
DAY_SLOTS = 24
# Header (kept as float64): version, n, level, spread, jump_spread, last residual, short,
# long_mean, long_var, hold, episode, interval, last time. Slots (float32): mean, spread, count.
# Then range and patterns (float64): low, high, previous bin, bin before, novelty short,
# novelty long mean, novelty long var, points since the pattern counts were last halved.
_HEADER = 21
STATE_FLOATS = _HEADER + 3 * WEEK_SLOTS + 3 * DAY_SLOTS
PATTERNS = 512  # one byte each: how often each (hashed) recent-value pattern was seen
STATE_BYTES = 8 * _HEADER + 4 * (STATE_FLOATS - _HEADER) + PATTERNS

WARMUP = 60  # points before any score: the baseline needs something to stand on
LEVEL_RATE = 0.05
SPREAD_RATE = 0.05
LONG_RATE = 0.005
SHORT_RATE = 1.0
CLIP = 3.0
PEAK_FADE = 0.995  # per point: the recent peak halves in about 140 points
HOLD_DAMPING = 0.2
SLOT_MIN_VISITS = 2  # a slot speaks once it has seen two days (weeks) of its hour
DAY_SLOT_RATE = 0.1  # per visit: about ten days of memory
WEEK_SLOT_RATE = 0.3  # per visit: about three weeks

LOG_SCALE = 12.0
RANGE_READY_HOURS = 24  # a new extreme counts once a day of points has shown the range
RANGE_GRADE = 0.1  # a new extreme scores its base plus its excess over a tenth of the range
RANGE_BASE = 0.2
BINS = 12  # a value's bin: its place in twelfths of the range seen
PATTERN_AGE = 2000  # points between halvings of the pattern counts
NOVELTY_SHORT = 0.1  # the recent novelty: an average over about ten points
NOVELTY_LONG = 0.01
NOVELTY_VAR_FLOOR = 1e-4
# Values are clamped to this before anything learns from them. The seasonal slots are float32
# (largest about 3.4e38): a value past that became inf there, inf - inf gave NaN, and a NaN in
# the state flagged every later point. 1e30 leaves room for the spreads (up to twice it).
VALUE_LIMIT = 1e30
# The first point seeds the level, the range and the seasonal slots. A glitch there (1e12 where
# normal is 50, a unit error) stuck in the slot and the range for days: a false alert storm two
# days in, and no new extreme ever counted. Among the first SEED_POINTS points, one wildly off
# the level (more than WILD times the smaller of the two magnitudes plus the spread; a zero on
# either side is never wild, a series often starts at or falls to 0) starts the learning again
# from itself, but only while the seed is unconfirmed: until a later non-zero point close
# enough to the level has been learned. The seed is then the odd one out (a glitch first is
# replaced by the next point; a glitch second re-seeds and is replaced by the third). Once a
# point has confirmed the seed, a wild point is learned as any other (winsorised: the level
# barely moves), because re-seeding from it then would throw the good points away and leave
# the glitch in the slots with no later point to undo it. Unconfirmed is a spread still 0:
# learning a confirming point makes it at least CONFIRMED_SPREAD (a constant signal's stays
# 0 otherwise), and a zero learned while unconfirmed leaves it 0 (a counter's start after a
# glitch would otherwise stretch it so far that no later point looked wild). The count of
# points seen is kept, so this ends.
SEED_POINTS = 5
WILD = 100.0
CONFIRMED_SPREAD = sys.float_info.min


@dataclass(frozen=True, slots=True)
class Sensitivity:
    threshold: float  # the score at which a point is anomalous
    margin: float  # a new extreme must pass the range by this many spreads
    min_z: float  # ... and lie this many spreads from the baseline
    patterns: bool  # whether a never-seen pattern of recent values counts
    jump_weight: float  # how much a sudden change between two points counts next to the level


# Higher sensitivity fires on smaller surprises, smaller new extremes and new patterns. At
# ``high`` the score rests more on the level, the range and the rhythm than on the jump between
# two points, which on spiky machine metrics is mostly noise (weights chosen on NAB; see
# docs/benchmarks.md).
SENSITIVITIES = {
    "low": Sensitivity(0.55, 1.0, 3.0, False, 0.7),
    "normal": Sensitivity(0.4, 1.0, 3.0, False, 0.7),
    "high": Sensitivity(0.32, 0.0, 2.0, True, 0.3),
}
SENSITIVITY_THRESHOLDS = {name: s.threshold for name, s in SENSITIVITIES.items()}


class Direction:
    UP = "up"  # higher is worse (failure rate, complaints)
    DOWN = "down"  # lower is worse (heartbeat coverage, sales)
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float  # 0..1, how unlikely this point is for this signal at this time
    onset: float  # the score when it is news (beats the fading recent peak), else damped
    anomalous: bool
    baseline: float | None  # what the detector expected
    low: float | None  # the normal band around it
    high: float | None
    surprise: float  # the robust z that fed the score


_NOTHING = Verdict(0.0, 0.0, False, None, None, None, 0.0)


def _fresh() -> tuple[array, array, bytearray]:
    """A new detector's state: header, seasonal slots and pattern counts, all zero."""
    state = array("d", bytes(8 * _HEADER))
    state[0] = VERSION
    return state, array("f", bytes(4 * (STATE_FLOATS - _HEADER))), bytearray(PATTERNS)


def _tail(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _score(z: float) -> float:
    """The tail probability of ``z`` as a 0..1 score on a log scale (1 at one in 10**SCALE),
    so scores do not all round to 1.0 and one threshold separates well across signals."""
    if z <= 0:
        return 0.0
    tail = _tail(z)
    if tail <= 0.0:
        return 1.0
    return min(1.0, -math.log10(tail) / LOG_SCALE)


def _wild(value: float, level: float, spread: float) -> bool:
    return abs(value - level) > WILD * (min(abs(value), abs(level)) + spread)


def _slots(at: datetime) -> tuple[int, int]:
    hour = at.hour
    return at.weekday() * 24 + hour, hour


class Detector:
    """One signal's detector. ``state`` is a flat array of floats; :meth:`dumps` packs it."""

    __slots__ = ("state", "slots", "patterns", "direction", "sensitivity", "threshold", "min_count")

    def __init__(
        self,
        state: array | None = None,
        slots: array | None = None,
        patterns: bytearray | None = None,
        *,
        direction: str = Direction.BOTH,
        sensitivity: str = "normal",
        min_count: float = 0.0,
    ):
        if (
            state is None
            or slots is None
            or patterns is None
            or len(state) != _HEADER
            or state[0] != VERSION
            # A NaN or inf (saved before values were clamped) would flag every point for good:
            # learning again from the next point is better. (A sum is NaN or inf if any is.)
            # Only the header is summed here, at every load: a bad seasonal slot reaches the
            # header at the first step that reads it, and step() starts afresh then.
            or not math.isfinite(sum(state))
        ):
            state, slots, patterns = _fresh()
        self.state = state  # the header, float64 (times and counts need the precision)
        self.slots = slots  # the seasonal tables, float32: mean, spread, count per hour
        self.patterns = patterns  # seen-counts of recent-value patterns, hashed
        self.direction = direction
        self.sensitivity = SENSITIVITIES.get(sensitivity, SENSITIVITIES["normal"])
        self.threshold = self.sensitivity.threshold
        # A rise to fewer than this many (events in a minute, for a count) is never anomalous:
        # after a quiet week of zeros a lone 1 is a huge surprise, but it is one person.
        self.min_count = min_count

    @classmethod
    def loads(cls, blob: bytes | None, **kwargs) -> Detector:
        state = slots = patterns = None
        if blob and len(blob) == STATE_BYTES:
            blob = bytes(blob)
            state = array("d")
            state.frombytes(blob[: 8 * _HEADER])
            slots = array("f")
            slots.frombytes(blob[8 * _HEADER : STATE_BYTES - PATTERNS])
            patterns = bytearray(blob[STATE_BYTES - PATTERNS :])
        return cls(state, slots, patterns, **kwargs)

    def dumps(self) -> bytes:
        """The state packed: the header as float64, the seasonal slots as float32, the pattern
        counts as bytes."""
        return self.state.tobytes() + self.slots.tobytes() + bytes(self.patterns)

    @property
    def seen(self) -> int:
        return int(self.state[1])

    def _per_hour(self) -> float:
        """Points per hour, from the learned interval between points."""
        return max(1.0, 3600.0 / max(self.state[11], 1.0)) if self.state[11] else 60.0

    def _seasonal(self, week: int, day: int) -> tuple[float, float] | None:
        s = self.slots
        enough = SLOT_MIN_VISITS * self._per_hour()
        w = 3 * week
        if s[w + 2] >= enough:
            return s[w], s[w + 1]
        d = 3 * WEEK_SLOTS + 3 * day
        if s[d + 2] >= enough:
            return s[d], s[d + 1]
        return None

    def step(self, at: datetime, value: float) -> Verdict:
        """Score one point and learn from it (unless it is part of an anomalous episode)."""
        s = self.state
        value = float(value)
        if not math.isfinite(value):
            return _NOTHING  # nothing to score or learn (the API refuses them; this is a guard)
        value = min(max(value, -VALUE_LIMIT), VALUE_LIMIT)
        n = s[1]
        week, day = _slots(at)
        stamp = at.timestamp()
        seeding = n == 0 or (
            n < SEED_POINTS and not s[3] and value and s[2] and _wild(value, s[2], 0.0)
        )
        if n == 0:
            s[2], s[3], s[4], s[5] = value, 0.0, 0.0, 0.0
            s[13] = s[14] = value
        elif seeding:
            self._reseed(value)
        else:
            gap = stamp - s[12]
            if gap > 0:
                s[11] = gap if s[11] == 0 else s[11] + 0.05 * (min(gap, 10 * s[11]) - s[11])
        s[12] = stamp
        level, spread, jump_spread, last = s[2], s[3], s[4], s[5]
        floor = 1e-3 * (abs(level) + 1e-3)
        seasonal = self._seasonal(week, day)
        if seasonal is not None:
            baseline, base_spread = seasonal
            base_spread = max(base_spread, spread * 0.5)
        else:
            baseline, base_spread = level, spread
        base_spread = max(base_spread, floor)
        residual = value - baseline
        z = residual / base_spread
        # The jump is the change of the residual, so a daily step the baseline expects is none.
        jump = (residual - last) / max(jump_spread, floor)
        if self.direction == Direction.UP:
            z, jump = max(z, 0.0), max(jump, 0.0)
        elif self.direction == Direction.DOWN:
            z, jump = max(-z, 0.0), max(-jump, 0.0)
        else:
            z, jump = abs(z), abs(jump)
        surprise = min(max(z, self.sensitivity.jump_weight * jump), 50.0)
        raw = math.log1p(surprise)

        # Likelihood of the recent surprise against this signal's usual surprise.
        short = s[6] + SHORT_RATE * (raw - s[6]) if n else raw
        long_mean, long_var = s[7], s[8]
        score = 0.0
        if n >= WARMUP:
            sd = math.sqrt(max(long_var, 0.01))
            score = _score((short - long_mean) / sd)

        # Up to the point after the seed window, a wild point (a glitch after a confirmed seed)
        # is learned but kept out of the range: stretched by it, the range would hide every new
        # extreme. (Kept out until the range counts, at the 60th point, NAB fell to 70.6.)
        odd = n <= SEED_POINTS and not seeding and value and level and _wild(value, level, spread)
        score = max(score, self._shape(value, n, z, odd))
        if self.min_count and value < self.min_count and residual > 0:
            score = min(score, self.threshold * max(value, 0.0) / self.min_count)
        # Onset: a score counts as news only when it beats the recent peak (which fades), so
        # an episode pages once however long it lasts, whatever threshold is applied.
        peak = s[9]
        onset = score if score > peak else score * HOLD_DAMPING
        s[9] = max(score, peak * PEAK_FADE)
        anomalous = score >= self.threshold
        s[10] = s[10] + 1 if anomalous else 0.0

        # The fast level always learns (winsorised, so it leans but is not dragged); the
        # seasonal tables and the surprise history do not learn from an anomalous episode.
        s[6] = short
        d = raw - long_mean
        rate = 1.0 / (n + 1) if n < 1.0 / LONG_RATE else LONG_RATE
        s[7] = long_mean + rate * d
        s[8] = (1 - rate) * (long_var + rate * d * d)
        self._learn(value, level, spread, jump_spread, residual - last, week, day, n)
        if n < SEED_POINTS and not spread and not seeding:
            # The seed is unconfirmed: a zero leaves it so, any other point confirms it.
            s[3] = max(s[3], CONFIRMED_SPREAD) if value else 0.0
        s[5] = residual
        s[1] = n + 1
        if not math.isfinite(sum(s)):
            # Clamping should make this impossible; if some arithmetic still overflowed, start
            # learning afresh rather than keep a state that flags every point from now on.
            self.state, self.slots, self.patterns = _fresh()
            return _NOTHING
        low = baseline - CLIP * base_spread
        high = baseline + CLIP * base_spread
        return Verdict(score, onset, anomalous, baseline, low, high, surprise)

    def _reseed(self, value: float) -> None:
        """Learn again from ``value``, as if it were the first point (keeping the count of
        points seen, the interval between points and the last time)."""
        s = self.state
        for i in range(2, _HEADER):
            if i not in (11, 12):
                s[i] = 0.0
        s[2] = s[13] = s[14] = value
        self.slots = array("f", bytes(4 * (STATE_FLOATS - _HEADER)))
        self.patterns = bytearray(PATTERNS)

    def _shape(self, value: float, n: float, z: float, odd: bool = False) -> float:
        """The shape scores: a value past the whole range seen so far, and a pattern of the
        last three values not seen before (at high sensitivity)."""
        s = self.state
        sensitivity = self.sensitivity
        lo, hi = s[13], s[14]
        span = hi - lo
        ready = n >= WARMUP and n >= RANGE_READY_HOURS * self._per_hour()
        beyond = 0.0
        if ready and span > 0 and z >= sensitivity.min_z:
            margin = sensitivity.margin * s[3]
            if self.direction != Direction.DOWN and value > hi + margin:
                beyond = value - hi - margin
            elif self.direction != Direction.UP and value < lo - margin:
                beyond = lo - margin - value
        extreme = 0.0
        if beyond > 0:
            extreme = min(1.0, RANGE_BASE + (1 - RANGE_BASE) * beyond / (RANGE_GRADE * span))
        if odd:
            pass
        elif value > hi:
            s[14] = value
        elif value < lo:
            s[13] = value
        if not sensitivity.patterns:
            return extreme

        # The pattern: this value's bin after the previous two, hashed into the count table.
        b = int((value - lo) / span * BINS) if span > 0 else 0
        b = 0 if b < 0 else (BINS - 1 if b >= BINS else b)
        b1, b2 = int(s[15]), int(s[16])
        counts = self.patterns
        slot = (((b2 * BINS + b1) * BINS + b) * 2654435761 >> 16) % PATTERNS
        raw = 1.0 if counts[slot] == 0 else 0.0
        if counts[slot] < 255:
            counts[slot] += 1
        s[16], s[15] = b1, b
        s[20] += 1
        if s[20] >= PATTERN_AGE:
            s[20] = 0
            for i in range(PATTERNS):
                counts[i] >>= 1
        # How unusual recent novelty is for this signal, as surprise is scored.
        short = s[17] + NOVELTY_SHORT * (raw - s[17])
        mean, var = s[18], s[19]
        novelty = 0.0
        if ready:
            novelty = _score((short - mean) / math.sqrt(max(var, NOVELTY_VAR_FLOOR)))
        s[17] = short
        d = raw - mean
        rate = max(NOVELTY_LONG, 1.0 / (n + 1))
        s[18] = mean + rate * d
        s[19] = (1 - rate) * (var + rate * d * d)
        return max(extreme, novelty)

    def _learn(self, value, level, spread, jump_spread, jump, week, day, n) -> None:
        s = self.state
        rate = max(LEVEL_RATE, 1.0 / (n + 1))
        s[2], s[3] = _robust_update(level, spread, value, rate)
        jump = abs(jump)
        bound = 4 * jump_spread + 0.02 * spread + 1e-9
        s[4] = jump_spread + rate * (min(jump, bound) - jump_spread)
        per_hour = self._per_hour()
        s = self.slots
        for offset, per_visit in (
            (3 * week, WEEK_SLOT_RATE),
            (3 * WEEK_SLOTS + 3 * day, DAY_SLOT_RATE),
        ):
            count = s[offset + 2]
            if count == 0:
                s[offset], s[offset + 1] = value, spread
            else:
                srt = max(per_visit / per_hour, 1.0 / (count + 1))
                s[offset], s[offset + 1] = _robust_update(s[offset], s[offset + 1], value, srt)
            s[offset + 2] = count + 1


def _robust_update(mean: float, dev: float, value: float, rate: float) -> tuple[float, float]:
    """One step of a winsorised exponentially weighted mean and mean absolute deviation: a
    value far outside the band moves them only as far as the band's edge would."""
    bound = CLIP * dev + 0.02 * abs(mean) + 1e-9
    residual = max(-bound, min(bound, value - mean))
    new_dev = dev + rate * (min(abs(value - mean), 4 * dev + 0.02 * abs(mean) + 1e-9) - dev)
    return mean + rate * residual, new_dev
