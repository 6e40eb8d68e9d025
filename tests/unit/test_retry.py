import random

from hub.domain.retry import retry_delay


def test_delay_grows_exponentially_and_is_capped():
    rng = random.Random(1)
    delays = [retry_delay(n, rng=rng, base=2, cap=60) for n in range(1, 10)]
    assert 2 <= delays[0] <= 2.5
    assert 4 <= delays[1] <= 5
    assert all(60 <= d <= 75 for d in delays[6:])


def test_retry_after_is_a_floor_honored_exactly():
    rng = random.Random(1)
    assert retry_delay(1, retry_after=30, rng=rng) == 30
    assert retry_delay(10, retry_after=1, rng=rng, cap=60) >= 60
