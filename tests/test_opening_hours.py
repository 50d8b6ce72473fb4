"""app.opening_hours: OpenStreetMap opening_hours -> minutes of the local week."""

from __future__ import annotations

import csv

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.demo import HELSINKI_CSV
from app.opening_hours import DAY, WEEK, is_open, parse

MO, TU, WE, TH, FR, SA, SU = (d * DAY for d in range(7))
H = 60


@pytest.mark.parametrize(
    ("text", "intervals"),
    [
        ("Mo-Fr 08:00-20:00", [(d + 8 * H, d + 20 * H) for d in (MO, TU, WE, TH, FR)]),
        ("24/7", [(0, WEEK)]),
        ("Sa,Su 10:00-16:00", [(SA + 10 * H, SA + 16 * H), (SU + 10 * H, SU + 16 * H)]),
        # past midnight: Friday night runs into Saturday
        ("Fr 22:00-02:00", [(FR + 22 * H, SA + 2 * H)]),
        # Sunday night wraps into Monday morning
        ("Su 20:00-03:00", [(0, 3 * H), (SU + 20 * H, WEEK)]),
        ("We 18:00-24:00", [(WE + 18 * H, TH)]),
        ("Mo 17:00-00:00", [(MO + 17 * H, TU)]),
        # several spans a day, minutes without a leading zero, bare hours
        (
            "Tu 08:00-10:30, 11:00-16:00",
            [(TU + 8 * H, TU + 10 * H + 30), (TU + 11 * H, TU + 16 * H)],
        ),
        ("Th 7:00-9:30", [(TH + 7 * H, TH + 9 * H + 30)]),
        ("Sa 10-18", [(SA + 10 * H, SA + 18 * H)]),
        # a later rule replaces the days it names; an additional (comma) rule adds to them
        (
            "Mo-We 08:00-12:00; We 14:00-18:00",
            [(MO + 8 * H, MO + 12 * H), (TU + 8 * H, TU + 12 * H), (WE + 14 * H, WE + 18 * H)],
        ),
        (
            "Mo-We 08:00-12:00, We 14:00-18:00",
            [
                (MO + 8 * H, MO + 12 * H),
                (TU + 8 * H, TU + 12 * H),
                (WE + 8 * H, WE + 12 * H),
                (WE + 14 * H, WE + 18 * H),
            ],
        ),
        ("Mo-Su 10:00-20:00; Tu-Su off", [(MO + 10 * H, MO + 20 * H)]),
        ("Mo-Su 10:00-20:00; Tu-Su closed", [(MO + 10 * H, MO + 20 * H)]),
        # wrapping ranges, case, holiday rules (ignored), comments and `open`
        (
            "Sa-Mo 12:00-13:00",
            [(MO + 12 * H, MO + 13 * H), (SA + 12 * H, SA + 13 * H), (SU + 12 * H, SU + 13 * H)],
        ),
        ("mo-tu 09:00-10:00; PH off", [(MO + 9 * H, MO + 10 * H), (TU + 9 * H, TU + 10 * H)]),
        ('Mo 11:00-15:00 open "Lunch"', [(MO + 11 * H, MO + 15 * H)]),
        ("Mo 10:00-12:00 Tu 10:00-14:00", [(MO + 10 * H, MO + 12 * H), (TU + 10 * H, TU + 14 * H)]),
        ("closed", []),
        ("10:00-11:00", [(d + 10 * H, d + 11 * H) for d in (MO, TU, WE, TH, FR, SA, SU)]),
    ],
)
def test_parse(text: str, intervals: list[tuple[int, int]]) -> None:
    assert parse(text) == intervals


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Jun 06-Aug 13 Mo-Fr 11:00-18:00", "unsupported opening_hours syntax at 'Jun 06"),
        ("2017 Jul 1 - 2017 Aug 8 off", "unsupported"),
        ("Mon - Fri 11am - 11pm", "unsupported"),
        ("Mo-Fr 16:00-, Sa 14:00-", "unsupported"),
        ("Mo-Fr 09:30 - 15:00. Lunch", "unsupported"),
        ('"for request only"', "empty rule"),
        ("Mo 25:00-26:00", "not a time of day"),
        ("Mo 10:60-11:00", "not a time of day"),
        ("Mo 24:00-02:00", "not a time of day"),
        ("Mo-Fr 10:00-12:00;; Sa 10:00-11:00", "empty rule"),
        ("Mo 24/7", "24/7 takes no days"),
    ],
)
def test_unsupported_or_invalid_values_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(text)


def test_the_helsinki_values_parse_except_dates_and_free_text() -> None:
    with HELSINKI_CSV.open(encoding="utf-8") as f:
        values = [row["opening_hours"] for row in csv.DictReader(f) if row["opening_hours"]]
    failures = []
    for value in values:
        try:
            parse(value)
        except ValueError:
            failures.append(value)
    assert (len(values), len(failures)) == (489, 10)
    assert all(
        any(w in v for w in ("Jun", "Jul", "Aug", "Mon", "request", "Seasonal", "-,", ". "))
        for v in failures
    )


DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
spans = st.lists(
    st.tuples(st.integers(0, 23), st.sampled_from([0, 15, 30, 45]), st.integers(1, 20 * 60)),
    min_size=1,
    max_size=3,
)
rules = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 6), spans, st.booleans(), st.booleans()),
    min_size=1,
    max_size=4,
)


@given(rules)
def test_is_open_agrees_with_a_minute_by_minute_oracle(
    rule_list: list[tuple[int, int, list[tuple[int, int, int]], bool, bool]],
) -> None:
    """Build a value from random rules and check every minute of the week against a direct
    simulation of the same semantics (later rules replace their days; `off` clears them)."""
    texts: list[str] = []
    per_day: list[set[int]] = [set() for _ in range(7)]
    for first, last, span_list, off, additional in rule_list:
        days = [(first + i) % 7 for i in range((last - first) % 7 + 1)]
        selector = DAYS[first] if first == last else f"{DAYS[first]}-{DAYS[last]}"
        if off:
            texts.append(("," if additional and texts else ";") + f" {selector} off")
            for d in days:
                per_day[d] = set()
            continue
        times = ", ".join(
            f"{h:02d}:{m:02d}-{((h * 60 + m + length) // 60) % 24:02d}:{(m + length) % 60:02d}"
            for h, m, length in span_list
        )
        texts.append(("," if additional and texts else ";") + f" {selector} {times}")
        own = set()
        for h, m, length in span_list:
            start = h * 60 + m
            end = start + length
            own |= set(range(start, end))
        for d in days:
            per_day[d] = (per_day[d] | own) if additional and len(texts) > 1 else set(own)
    week = set()
    for d, minutes in enumerate(per_day):
        week |= {(d * DAY + minute) % WEEK for minute in minutes}
    intervals = parse("".join(texts).lstrip(";, "))
    assert all(is_open(intervals, minute) == (minute in week) for minute in range(0, WEEK, 5))
