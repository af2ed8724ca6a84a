"""The demo's notification receiver, served by uvicorn and fed by the outbox's real webhook
sender: a valid signature is announced once however often it is delivered; a forged or missing
signature, or an event header that does not match the body, is refused and recorded nowhere."""

from __future__ import annotations

import json

import httpx

from flags.secret import Secret
from service.devtools.notify_receiver import NotificationReceiver, serve_receiver
from service.notify.outbox import Notification
from service.notify.senders import EVENT_HEADER, SIGNATURE_HEADER, WebhookSender, sign

SECRET = Secret("demo-notify-secret")


async def test_each_signed_event_is_announced_once_and_forgeries_are_refused() -> None:
    said: list[str] = []
    receiver = NotificationReceiver(secret=SECRET, say=said.append)
    event = Notification(kind="plan_advanced", text="plan advanced\nto 50%", actor="plan x")
    async with httpx.AsyncClient(timeout=5) as http, serve_receiver(receiver) as url:
        sender = WebhookSender(http=http, url=url, secret=SECRET)
        assert await sender.send(event) is None
        assert await sender.send(event) is None  # a retry: taken, not announced again

        forged = WebhookSender(http=http, url=url, secret=Secret("someone else"))
        assert await forged.send(Notification(kind="plan_finished", text="", actor="")) == (
            "HTTP 401"
        )
        body = json.dumps(event.as_dict()).encode()
        unsigned = await http.post(url, content=body, headers={EVENT_HEADER: event.id})
        assert unsigned.status_code == 401
        other = {EVENT_HEADER: "another-id", SIGNATURE_HEADER: sign(SECRET, body)}
        mismatched = await http.post(url, content=body, headers=other)
        assert mismatched.status_code == 400

    assert [e.id for e in receiver.events] == [event.id]
    assert receiver.deliveries[event.id] == 2 and receiver.duplicates == 1
    assert receiver.bad_signatures == 2
    assert receiver.counts() == {"plan_advanced": 1}
    assert said == ["   >> notification plan_advanced: plan advanced\\x0ato 50%"]
