"""Demo tasks that make a fresh install look alive; written with Django's own @task."""

import io
import logging
import math
import random
import time
from pathlib import Path

from django.conf import settings
from django.tasks import task

from jobs.context import check_cancelled, set_progress

logger = logging.getLogger(__name__)


@task()
def noop() -> None:
    """Do nothing (used by benchmarks)."""


@task()
def echo(message: str = "hello") -> str:
    """Return the message it was given."""
    return message


@task()
def sleep(seconds: float = 5.0, steps: int = 10) -> float:
    """Sleep in steps, reporting progress and honouring cancellation."""
    steps = max(1, int(steps))
    for step in range(steps):
        check_cancelled()
        time.sleep(seconds / steps)
        set_progress((step + 1) / steps, f"step {step + 1} of {steps}")
    return seconds


@task()
def always_fail(message: str = "this task always fails") -> None:
    """Raise every time: shows retries with backoff, then the dead-letter set."""
    raise RuntimeError(message)


@task()
def flaky(failure_rate: float = 0.3) -> str:
    """Fail at random with the given probability."""
    if random.random() < failure_rate:  # noqa: S311 - demo randomness
        raise ConnectionError("flaky upstream said no")
    return "ok"


@task()
def primes(limit: int = 200_000) -> int:
    """Count the primes below `limit` with a sieve (CPU-bound work)."""
    limit = max(2, min(int(limit), 50_000_000))
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for n in range(2, math.isqrt(limit) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytearray(len(range(n * n, limit, n)))
    return sum(sieve)


@task()
def thumbnail(width: int = 1600, height: int = 1200, size: int = 256, seed: int = 0) -> dict[str, object]:
    """Render a generated image and save a thumbnail of it as PNG under var/thumbnails/."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)  # noqa: S311 - demo randomness
    image = Image.new("RGB", (int(width), int(height)), (rng.randrange(256), 60, 120))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(20, 200)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image = image.filter(ImageFilter.GaussianBlur(2))
    image.thumbnail((int(size), int(size)))
    out_dir = Path(settings.VAR_DIR) / "thumbnails"
    out_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path = out_dir / f"thumb-{seed}.png"
    path.write_bytes(buffer.getvalue())
    logger.info("thumbnail written to %s", path)
    return {"path": str(path), "width": image.width, "height": image.height, "bytes": len(buffer.getvalue())}
