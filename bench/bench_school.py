"""Sandbox school generation speed (a benchmark, not a test):

    .venv/bin/python bench/bench_school.py
"""

from __future__ import annotations

import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.sandbox.school import TZ, School  # noqa: E402


def main() -> None:
    s = School(seed=21, now=datetime(2024, 7, 1, 12, tzinfo=TZ))
    day = date(2024, 5, 6)
    s.lessons_on(day - timedelta(days=1))  # warm the term
    t0 = time.perf_counter()
    for i in range(30):
        s.lessons_on(day + timedelta(days=i))
    per_day = (time.perf_counter() - t0) / 30
    big = [x for d in range(14) for x in s.lessons_on(day + timedelta(days=d)) if len(x.student_ids) >= 50]
    t0 = time.perf_counter()
    for lesson in big:
        s.activity(lesson)
    per_activity = (time.perf_counter() - t0) / len(big)
    print(f"lessons_on (cold day, warm term): {per_day * 1000:.2f} ms; "
          f"activity (cold, >= 50 students): {per_activity * 1000:.2f} ms over {len(big)} lessons")


if __name__ == "__main__":
    main()
