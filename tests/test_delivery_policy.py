"""The delivery state machine (app/delivery.after_attempt): pending -> delivered, or pending ->
retry -> ... -> failed, checked against a brute-force simulation of a delivery's life."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.delivery import JITTER, RetryPolicy, after_attempt
from app.settings import Settings

DEFAULT = RetryPolicy.of(Settings(database_url="postgresql://x@y/z"))
HOUR = 3600.0

jitters = st.floats(min_value=JITTER[0], max_value=JITTER[1])
policies = st.builds(
    RetryPolicy,
    first_s=st.floats(min_value=0.01, max_value=120),
    max_s=st.floats(min_value=0.01, max_value=12 * HOUR),
    retry_for_s=st.floats(min_value=0, max_value=100 * HOUR),
)


def simulate(
    policy: RetryPolicy, outcomes: list[bool], jitters: list[float], lag_s: list[float]
) -> tuple[str, list[float]]:
    """Live a delivery through: attempt i succeeds if outcomes[i]; an attempt starts lag_s[i]
    after it is due (a busy or restarted service). Its final status and its attempt times."""
    now, times = 0.0, []
    for i, ok in enumerate(outcomes):
        now += lag_s[i % len(lag_s)]
        times.append(now)
        status, wait = after_attempt(
            policy, attempts=i + 1, age_s=now, ok=ok, jitter=jitters[i % len(jitters)]
        )
        if status != "pending":
            return status, times
        assert wait > 0
        now += wait
    return "pending", times


@given(
    policies,
    st.lists(st.booleans(), min_size=1, max_size=80),
    st.lists(jitters, min_size=1, max_size=5),
    st.lists(st.floats(min_value=0, max_value=HOUR), min_size=1, max_size=5),
)
def test_a_delivery_ends_delivered_at_its_first_success_or_failed_only_past_the_window(
    policy: RetryPolicy, outcomes: list[bool], jitter: list[float], lag: list[float]
) -> None:
    status, times = simulate(policy, outcomes, jitter, lag)
    tried = outcomes[: len(times)]
    assert not any(tried[:-1])  # nothing is sent again after a success
    if status == "delivered":
        assert tried[-1]
    if status == "failed":  # every attempt failed, the last one at or past the window only
        assert not any(tried) and times[-1] >= policy.retry_for_s
        assert all(t < policy.retry_for_s for t in times[:-1])
    if status == "pending":
        assert not any(outcomes) and times[-1] < policy.retry_for_s


@given(st.integers(min_value=1, max_value=500), jitters, jitters)
def test_delays_grow_and_are_capped(attempts: int, j1: float, j2: float) -> None:
    assert DEFAULT.delay_s(attempts + 1, 1.0) >= DEFAULT.delay_s(attempts, 1.0)
    assert DEFAULT.delay_s(attempts, j1) <= DEFAULT.max_s * JITTER[1]
    assert DEFAULT.delay_s(attempts, j1) >= min(DEFAULT.max_s, DEFAULT.first_s) * JITTER[0]


@given(st.lists(jitters, min_size=1, max_size=5))
def test_by_default_the_first_retry_is_within_a_minute_and_retries_last_72_hours(
    jitter: list[float],
) -> None:
    status, times = simulate(DEFAULT, [False] * 200, jitter, [0.0])
    assert times[1] - times[0] <= 60
    assert status == "failed"
    assert times[-1] >= 72 * HOUR and times[-2] < 72 * HOUR
    assert 15 <= len(times) <= 30  # a bounded number of attempts, not a storm


def test_the_default_schedule() -> None:
    nominal = [DEFAULT.delay_s(n, 1.0) for n in range(1, 12)]
    assert nominal == [30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600]
