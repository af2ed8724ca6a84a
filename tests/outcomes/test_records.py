"""The typed outcome records: their stream fields, the round trip, and readers that skip junk."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from flags.model import Issue, System
from service.keys import Keys
from service.outcomes.records import (
    ComparisonRecord,
    CompletionRecord,
    QualityRecord,
    read_entries,
    read_records,
)
from service.outcomes.stats import Rate

_seconds = st.integers(0, 10**12).map(lambda micro: micro / 1e6)  # what six decimals hold
_issues = st.builds(Issue, st.sampled_from(["acme/app", "o/r.x"]), st.integers(1, 10**6))
_text = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=12)

completions = st.builds(
    CompletionRecord,
    job_id=_text,
    delivery_id=_text,
    system=st.sampled_from(list(System)),
    issue=_issues,
    success=st.booleans(),
    duration_seconds=_seconds,
    dry_run=st.booleans(),
    pr_number=st.one_of(st.none(), st.integers(1, 10**6)),
    output_digest=_text,
    at=_seconds,
)
qualities = st.builds(
    QualityRecord,
    kind=st.sampled_from(["pr_closed", "ci:check_suite", "ci:check_run"]),
    system=st.sampled_from(list(System)),
    issue=_issues,
    success=st.booleans(),
    delivery_id=_text,
    at=_seconds,
)


@given(completions)
def test_a_completion_survives_its_stream_fields(record: CompletionRecord) -> None:
    assert CompletionRecord.from_fields(record.to_fields()) == record


@given(qualities)
def test_a_quality_row_survives_its_stream_fields(record: QualityRecord) -> None:
    assert QualityRecord.from_fields(record.to_fields()) == record


@given(completions, completions, _seconds)
def test_a_comparison_survives_its_stream_fields(
    control: CompletionRecord, candidate: CompletionRecord, at: float
) -> None:
    comparison = ComparisonRecord.of(control, candidate, at=at)
    assert ComparisonRecord.from_fields(comparison.to_fields()) == comparison
    same = control.success == candidate.success and control.output_digest == candidate.output_digest
    assert comparison.match is same


def test_the_stream_fields_keep_their_format() -> None:
    record = CompletionRecord(
        "j1", "d1", System.PYTHON, Issue("acme/app", 12), True, 2.5, False, None, "", 1700.25
    )
    assert record.to_fields() == {
        "job_id": "j1",
        "delivery_id": "d1",
        "system": "python",
        "issue": "acme/app#12",
        "success": "1",
        "duration_seconds": "2.500000",
        "dry_run": "0",
        "pr_number": "",
        "output_digest": "",
        "at": "1700.250000",
    }


def test_one_rate_type_counts_and_refuses_impossible_counts() -> None:
    assert Rate().add(True).add(False) == Rate(1, 2)
    assert Rate(1, 2).estimate == 0.5 and Rate().estimate is None
    with pytest.raises(ValueError, match="successes <= trials"):
        Rate(3, 2)


@pytest.mark.integration
async def test_readers_skip_entries_that_do_not_parse(redis_client: Redis, prefix: str) -> None:
    key = Keys(prefix).quality
    good = QualityRecord("pr_closed", System.PYTHON, Issue("acme/app", 1), True, "d1", 1.0)
    await redis_client.xadd(key, {"kind": "pr_closed", "system": "cobol"})
    await redis_client.xadd(key, good.to_fields())  # type: ignore[arg-type]
    assert await read_records(redis_client, key, QualityRecord) == [good]
    entries = await read_entries(redis_client, key, QualityRecord)
    assert [record for _, record in entries] == [None, good]  # a cursor still moves past junk
