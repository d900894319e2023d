"""Several institutions at one sandbox URL: each applicationID answers with its own school and secret."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from pipeline.api import AuthError, LiveClassClient
from pipeline.core.calendar import day_window
from pipeline.sandbox.config import SandboxConfig, SandboxTenant
from pipeline.sandbox.school import School
from tests.conftest import SANDBOX_DAYS, SANDBOX_LESSONS_PER_DAY, SANDBOX_NOW, SANDBOX_SEED

OTHER = SandboxTenant("school-b", "secret-of-school-b", seed=SANDBOX_SEED + 1, lessons_per_day=5)


def lesson_ids(client: LiveClassClient, day: str) -> list[int]:
    start, end = day_window(day)
    return sorted(int(item["lesson_id"]) for item in client.get_class_info(start, end))


def test_each_application_answers_from_its_own_school(sandbox_config):
    from pipeline.sandbox.runner import start_sandbox

    cfg = replace(sandbox_config, tenants=(OTHER,))
    with start_sandbox(cfg) as sb:
        main = LiveClassClient(sb.base_url, sb.app_id, sb.secret)
        other = LiveClassClient(sb.base_url, OTHER.app_id, OTHER.secret)
        wrong = LiveClassClient(sb.base_url, OTHER.app_id, sb.secret, max_attempts=1)
        try:
            day = SANDBOX_DAYS[0]
            school_a = School(seed=SANDBOX_SEED, lessons_per_day=SANDBOX_LESSONS_PER_DAY, now=SANDBOX_NOW)
            school_b = School(seed=OTHER.seed, lessons_per_day=OTHER.lessons_per_day, now=SANDBOX_NOW)
            expected_a = sorted(lesson.id for lesson in school_a.lessons_on(date.fromisoformat(day)))
            expected_b = sorted(lesson.id for lesson in school_b.lessons_on(date.fromisoformat(day)))
            assert expected_a != expected_b and len(expected_b) == OTHER.lessons_per_day
            assert lesson_ids(main, day) == expected_a
            assert lesson_ids(other, day) == expected_b
            with pytest.raises(AuthError) as info:  # another institution's secret does not sign for this one
                wrong.get_class_info(*day_window(day))
            assert info.value.error_code == 20005
        finally:
            for c in (main, other, wrong):
                c.close()


def test_tenant_arguments_round_trip_and_refuse_duplicates():
    cfg = SandboxConfig(tenants=("b:sb:8:5", OTHER))
    assert cfg.tenants == (SandboxTenant("b", "sb", 8, 5), OTHER)
    assert cfg.cli_args()[-4:] == ["--tenant", "b:sb:8:5", "--tenant", OTHER.arg()]
    with pytest.raises(ValueError, match="used twice"):
        SandboxConfig(tenants=(SandboxTenant(cfg.app_id, "x", 1),))
    with pytest.raises(ValueError, match="APP_ID:SECRET:SEED"):
        SandboxTenant.parse("only:two")
