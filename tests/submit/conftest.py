"""Submit tests: the Scale stand-in fixture, and a client wired to it with a fake sleep."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from _servers.scale_standin import API_KEY, ScaleStandin

from sfs_kit.submit import ScaleClient


class FakeSleep:
    """Records requested delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def client(scale_standin: ScaleStandin, fake_sleep: FakeSleep) -> Iterator[ScaleClient]:
    """A client for the stand-in: fake sleep, seeded jitter, short read timeouts."""
    with ScaleClient(API_KEY, base_url=scale_standin.base_url, sleep=fake_sleep,
                     rng=random.Random(7), create_read_timeout_s=0.5,
                     get_read_timeout_s=0.5) as c:
        yield c
