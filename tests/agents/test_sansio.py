"""The agent contract's answers, classified without a server (every status)."""

from __future__ import annotations

import pytest

from flags.model import Issue, System
from service.agents.sansio import Answer, decipher_response
from service.errors import AgentRejected, AgentRetryable

ISSUE = Issue("acme/app", 7)


def _answer(status: int, method: str = "POST") -> Answer:
    return Answer(System.PYTHON, method, "/issues/process", status, "x" * 500)


@pytest.mark.parametrize("status", range(100, 600))
def test_every_status_of_a_process_call(status: int) -> None:
    if status in (200, 201, 202):
        assert decipher_response(_answer(status), call="process", issue=ISSUE, delivery_id="d")
        return
    retryable = status >= 500 or status in (408, 429)
    with pytest.raises(AgentRetryable if retryable else AgentRejected) as raised:
        decipher_response(_answer(status), call="process", issue=ISSUE, delivery_id="d")
    assert raised.value.agent_status == status
    assert isinstance(raised.value, AgentRetryable) is retryable  # never both
    assert f"answered {status}: " + "x" * 200 + "…" in str(raised.value)  # escaped, cut


@pytest.mark.parametrize("status", [200, 204, 299, 404, 409, 429, 500])
def test_a_cancel_is_done_on_2xx_and_nothing_to_do_on_404(status: int) -> None:
    def cancel() -> bool:
        return decipher_response(_answer(status), call="cancel", issue=ISSUE, delivery_id=None)

    if 200 <= status < 300:
        assert cancel() is True
    elif status == 404:
        assert cancel() is False
    else:
        with pytest.raises(AgentRetryable if status in (429, 500) else AgentRejected):
            cancel()
