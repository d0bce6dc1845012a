"""The mailer worker as a process, through the real broker: duplicates send
once, and a worker killed with SIGKILL in the middle of a batch, then
restarted, leaves every consenting recipient with exactly one message.

The crash semantics are at-least-once with a stable Message-ID (see
services/mailer/sender.py): the one message that may have been accepted by
the relay but not yet recorded when the worker died is sent again after the
claim lease, with the same Message-ID, and its delivery is marked
``recovered``. So: every consenting recipient has exactly one distinct
message (Message-ID); a second copy can exist only for a recovered delivery,
at most one per killed worker (finalize_every=1)."""

from __future__ import annotations

import collections
import os
import signal

from services.mailer.models import Delivery
from shared.messaging.consumer import ProcessedMessage
from tests.mailer.conftest import create_template, make_customer, publish_raw, send_requested
from tests.support import wait_consuming, wait_until


def test_kill_a_worker_mid_batch_and_restart_every_recipient_gets_one_message(
    service_env, mailer_env, api, smtp_server, events
):
    template = create_template(api)
    grant = {("email", "newsletter"): "granted"}
    consenting = [
        make_customer(email=f"c{n}@example.com", first_name=f"C{n}", consent=grant, events=events)
        for n in range(150)
    ]
    refusing = [make_customer(email=f"r{n}@example.com", events=events) for n in range(10)]
    everyone = consenting + refusing
    env = {**mailer_env, "VINCULO_MAILER_CLAIM_LEASE": "2", "VINCULO_MAILER_IDLE_EVERY": "0.3"}
    smtp_server.mailbox.delay = 0.01  # ~1.5 s per 150: time to kill it in the middle
    worker = service_env.start("mailer", "worker", **env)
    queue = service_env.topology.name("mailer.send.requested")
    wait_consuming(service_env.amqp_url, queue)
    batches = [everyone[i : i + 40] for i in range(0, len(everyone), 40)]
    envelopes = [
        send_requested(template["id"], [c.id for c in batch], batch=n) for n, batch in enumerate(batches)
    ]
    for envelope in envelopes:
        publish_raw(service_env.amqp_url, service_env.topology, envelope)
    wait_until(lambda: smtp_server.mailbox.count >= 30, timeout=60, what="the worker to be sending")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    at_kill = smtp_server.mailbox.count
    assert at_kill < len(consenting), "the worker was killed in the middle of the work"
    smtp_server.mailbox.delay = 0

    service_env.start("mailer", "worker", **env)
    done = lambda: Delivery.objects(status="sent").count() == len(consenting)  # noqa: E731
    wait_until(done, timeout=90, what="every consenting recipient's delivery to be sent")
    # duplicates upstream after the fact: the same messages again, and the same batch under a new id
    for envelope in envelopes:
        publish_raw(service_env.amqp_url, service_env.topology, envelope)
    publish_raw(
        service_env.amqp_url, service_env.topology, send_requested(template["id"], [c.id for c in batches[0]])
    )
    wait_until(
        lambda: ProcessedMessage.objects.count() >= len(envelopes) + 1,
        timeout=60,
        what="the duplicates to be handled",
    )

    copies = collections.defaultdict(list)
    for message in smtp_server.mailbox.snapshot():
        copies[message.rcpt_tos[0]].append(message.parsed()["Message-ID"])
    recovered = {d.address for d in Delivery.objects(recovered=True)}
    for customer in consenting:
        ids = copies[customer.email]
        assert len(set(ids)) == 1, (customer.email, ids)
        if len(ids) > 1:  # the in-flight message at the kill: resent with the same Message-ID
            assert customer.email in recovered and len(ids) == 2
    assert sum(len(ids) - 1 for ids in copies.values()) <= 1
    assert not any(copies[c.email] for c in refusing)
    assert Delivery.objects.count() == len(everyone)
    assert Delivery.objects(status="skipped", reason="no_consent").count() == len(refusing)
