"""The retry policy (jobs/retry.py): a pure function, tested without a database."""

from __future__ import annotations

import datetime
import random

import pytest

from jobs.retry import RetryPolicy, next_run_at

NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)
POLICY = RetryPolicy(base_seconds=5.0, max_seconds=3600.0)


def delay(attempt: int, *, policy: RetryPolicy = POLICY, max_attempts: int = 100, seed: int = 0) -> float:
    at = next_run_at(attempt=attempt, max_attempts=max_attempts, policy=policy, now=NOW, rng=random.Random(seed))
    assert at is not None
    return (at - NOW).total_seconds()


class FixedRandom(random.Random):
    """A Random whose random() always returns `value`: pins the jitter to one end of its range."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(("attempt", "max_attempts"), [(3, 3), (4, 3), (1, 1)])
def test_no_next_run_when_attempts_are_spent(attempt: int, max_attempts: int) -> None:
    assert next_run_at(attempt=attempt, max_attempts=max_attempts, policy=POLICY, now=NOW, rng=random.Random(0)) is None


def test_next_run_is_in_the_future_while_attempts_remain() -> None:
    at = next_run_at(attempt=1, max_attempts=3, policy=POLICY, now=NOW, rng=random.Random(0))

    assert at is not None and at > NOW
    assert at.tzinfo is datetime.UTC


def delays_over(attempts: range, seed: int) -> list[float]:
    rng = random.Random(seed)  # one generator across attempts, as a worker has
    delays = []
    for attempt in attempts:
        at = next_run_at(attempt=attempt, max_attempts=100, policy=POLICY, now=NOW, rng=rng)
        assert at is not None
        delays.append((at - NOW).total_seconds())
    return delays


def never_shrinks(delays: list[float]) -> bool:
    return all(later >= earlier for earlier, later in zip(delays, delays[1:], strict=False))


def test_delays_grow_from_one_attempt_to_the_next_below_the_cap() -> None:
    for seed in range(20):
        delays = delays_over(range(1, 11), seed)  # ceilings 5 s .. 2560 s, all under the 3600 s cap

        assert never_shrinks(delays), (seed, delays)
        assert delays[-1] > 8 * delays[0]


def test_delays_never_shrink_once_the_cap_is_reached() -> None:
    for seed in range(20):
        delays = delays_over(range(9, 16), seed)  # ceilings 1280, 2560, then 3600 (capped) from attempt 11

        assert never_shrinks(delays), (seed, delays)
        assert max(delays) <= 3600.0


@pytest.mark.parametrize("attempt", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("seed", range(10))
def test_jitter_stays_within_half_and_all_of_the_exponential_ceiling(attempt: int, seed: int) -> None:
    ceiling = 5.0 * 2 ** (attempt - 1)

    assert 0.5 * ceiling <= delay(attempt, seed=seed) <= ceiling


@pytest.mark.parametrize(("value", "expected"), [(0.0, 20.0), (0.5, 30.0), (0.999999, 39.99999)])
def test_jitter_factor_maps_random_onto_half_to_one(value: float, expected: float) -> None:
    at = next_run_at(attempt=4, max_attempts=10, policy=POLICY, now=NOW, rng=FixedRandom(value))

    assert at is not None
    assert (at - NOW).total_seconds() == pytest.approx(expected)


@pytest.mark.parametrize("attempt", [11, 12, 20, 60])
def test_delay_is_capped_at_max_seconds(attempt: int) -> None:
    assert delay(attempt, seed=attempt) <= 3600.0
    at = next_run_at(attempt=attempt, max_attempts=100, policy=POLICY, now=NOW, rng=FixedRandom(0.999999))
    assert at is not None
    assert (at - NOW).total_seconds() == pytest.approx(3600.0, rel=1e-5)


def test_small_cap_applies_from_the_first_attempt() -> None:
    policy = RetryPolicy(base_seconds=10.0, max_seconds=2.0)

    assert 1.0 <= delay(1, policy=policy) <= 2.0


def test_same_seed_gives_same_schedule() -> None:
    assert [delay(a, seed=7) for a in range(1, 6)] == [delay(a, seed=7) for a in range(1, 6)]
