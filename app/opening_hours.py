"""OpenStreetMap `opening_hours` -> minutes of the local week. Pure code, no I/O.

`parse("Mo-Fr 08:00-20:00; Sa 10:00-02:00")` gives the open intervals as [start, end) minutes
counted from Monday 00:00 local time (0..10080), merged and sorted. The database stores them as
an int4multirange, so `open_now` is one containment test in each store's own timezone.

The supported subset (anything else is a ValueError naming the unsupported part):
- rules separated by `;` (a later rule replaces the days it names) or `,` (an additional rule:
  its hours add to those days); a weekday selector right after a time also starts a new rule;
- weekday selectors `Mo`..`Su`, ranges (`Mo-Fr`, wrapping `Fr-Mo`) and lists (`Mo,We,Fr`),
  any letter case; a rule without one applies to every day;
- times `HH:MM-HH:MM`, also `H:MM` and bare hours (`10-18`), several per rule (`08:00-12:00,
  13:00-17:00`); an end at or before the start runs past midnight into the next day, and
  `24:00` ends a day;
- `off` / `closed` (the days are shut), `open` and quoted comments (ignored), `24/7`;
- `PH ...` and `SH ...` rules are accepted and ignored: the service knows no holiday calendars.
Dates, months, weeks, years, sunrise/sunset and open ends (`16:00+`) are not supported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DAY = 24 * 60
WEEK = 7 * DAY
DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")

Interval = tuple[int, int]  # [start, end) minutes of the week

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<semicolon>;)
  | (?P<comma>,)
  | (?P<always>24/7)
  | (?P<span>(?P<h1>\d{1,2})(?::(?P<m1>\d{2}))?\s*-\s*(?P<h2>\d{1,2})(?::(?P<m2>\d{2}))?)
  | (?P<days>(?P<d1>mo|tu|we|th|fr|sa|su)(?:\s*-\s*(?P<d2>mo|tu|we|th|fr|sa|su))?)
  | (?P<holiday>ph|sh)(?![a-z])
  | (?P<state>off|closed|open)(?![a-z])
  | (?P<comment>"[^"]*")
    """,
    re.VERBOSE | re.IGNORECASE,
)


@dataclass
class _Rule:
    additional: bool
    days: list[int] = field(default_factory=list)
    spans: list[Interval] = field(default_factory=list)  # minutes of its own day, end may pass 1440
    closed: bool = False
    holiday: bool = False
    always: bool = False

    def is_empty(self) -> bool:
        return not (self.days or self.spans or self.closed or self.holiday or self.always)


def parse(text: str) -> list[Interval]:
    """The weekly open intervals of an `opening_hours` value (see the module doc)."""
    rules = _rules(text)
    per_day: list[list[Interval]] = [[] for _ in DAYS]
    for rule in rules:
        if rule.holiday:
            continue
        days = rule.days or list(range(7))
        spans = [(0, DAY)] if rule.always or not rule.spans else rule.spans
        for day in days:
            if rule.closed:
                per_day[day] = []
            elif rule.additional:
                per_day[day] = per_day[day] + spans
            else:
                per_day[day] = list(spans)
    week: list[Interval] = []
    for day, spans in enumerate(per_day):
        for start, end in spans:
            week.extend(_wrap(day * DAY + start, day * DAY + end))
    return _merge(week)


def is_open(intervals: list[Interval], minute_of_week: int) -> bool:
    return any(start <= minute_of_week < end for start, end in intervals)


def _rules(text: str) -> list[_Rule]:
    if not text.strip():
        raise ValueError("opening_hours is empty")
    rules = [_Rule(additional=False)]
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"unsupported opening_hours syntax at {text[pos : pos + 20]!r}")
        pos = match.end()
        kind, rule = match.lastgroup, rules[-1]
        if kind == "semicolon":
            rules.append(_Rule(additional=False))
        elif kind == "comma":
            # Between weekdays or between times a comma continues the rule; the next token
            # decides. A comma followed by a new selector after times starts an additional rule.
            rule_has_times = bool(rule.spans) or rule.closed or rule.always
            if rule_has_times and _next_is_selector(text, pos):
                rules.append(_Rule(additional=True))
        elif kind == "days":
            if rule.spans or rule.closed or rule.always:  # "Mo 10:00-12:00 Tu 10:00-14:00"
                rule = _Rule(additional=False)
                rules.append(rule)
            rule.days.extend(_day_range(match["d1"], match["d2"]))
        elif kind == "holiday":
            rule.holiday = True
        elif kind == "span":
            rule.spans.append(_span(match))
        elif kind == "always":
            rule.always = True
        elif kind == "state":
            rule.closed = match["state"].lower() in ("off", "closed")
    for rule in rules:
        if rule.is_empty():
            raise ValueError("opening_hours has an empty rule")
        if rule.always and (rule.days or rule.spans):
            raise ValueError("24/7 takes no days or times")
    return rules


def _next_is_selector(text: str, pos: int) -> bool:
    match = _TOKEN.match(text, pos)
    while match is not None and match.lastgroup == "space":
        match = _TOKEN.match(text, match.end())
    return match is not None and match.lastgroup in ("days", "holiday")


def _day_range(first: str, last: str | None) -> list[int]:
    start = DAYS.index(first.lower())
    end = DAYS.index(last.lower()) if last else start
    return [(start + i) % 7 for i in range((end - start) % 7 + 1)]


def _span(match: re.Match[str]) -> Interval:
    start = _minute(match["h1"], match["m1"], end=False)
    end = _minute(match["h2"], match["m2"], end=True)
    if end <= start:
        end += DAY  # past midnight
    return start, end


def _minute(hour: str, minute: str | None, *, end: bool) -> int:
    h, m = int(hour), int(minute or 0)
    if m > 59 or h > 24 or (h == 24 and (m or not end)):
        raise ValueError(f"{hour}:{minute or '00'} is not a time of day")
    return h * 60 + m


def _wrap(start: int, end: int) -> list[Interval]:
    """Split an interval that runs past Sunday midnight into Monday."""
    if end <= WEEK:
        return [(start, end)]
    return [(start, WEEK), (0, end - WEEK)]


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
