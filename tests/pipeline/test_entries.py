"""The stream's entry records read back from their fields (pure: no Redis)."""

from __future__ import annotations

from service.pipeline.entries import DeadLetter, StreamEntry, dead_letter, entry, rows


def test_an_app_deliverys_entry_reads_back_with_its_hook_and_headers() -> None:
    written = StreamEntry(
        "", "d-1", "issues", 0.0, b"{}", hook="python", headers=(("X-GitHub-Event", "issues"),)
    )
    fields = {
        "delivery_id": "d-1",
        "event": "issues",
        "received_at": "12.5",
        "body": '{"a": 1}',
        **{str(k): str(v) for k, v in written.hook_fields().items()},
    }
    read = entry("1-0", fields, deliveries=2)
    assert read == StreamEntry(
        "1-0",
        "d-1",
        "issues",
        12.5,
        b'{"a": 1}',
        deliveries=2,
        hook="python",
        headers=(("X-GitHub-Event", "issues"),),
    )


def test_switchyards_own_delivery_has_no_hook_fields() -> None:
    own = entry("2-0", {"delivery_id": "d", "event": "ping", "received_at": "1", "body": "{}"})
    assert (own.hook, own.headers, own.hook_fields()) == (None, (), {})


def test_a_dead_letter_reads_back_from_its_fields() -> None:
    fields = {
        "delivery_id": "d-2",
        "event": "issues",
        "body": "{}",
        "system": "typescript",
        "error": "answered 503",
        "attempts": "3",
        "failed_at": "7.25",
    }
    assert dead_letter("3-0", fields) == DeadLetter(
        "3-0", "d-2", "issues", b"{}", "typescript", "answered 503", 3, 7.25
    )


def test_rows_are_string_pairs_and_empty_replies_are_no_rows() -> None:
    assert rows([("1-0", {"a": 1}), ("2-0", None)]) == [("1-0", {"a": "1"}), ("2-0", {})]
    assert rows(None) == []
