"""Scenarios 1-3 of issue 8 ("Survive"): a "send now" campaign through every
service as a real process, broken in the middle, and what customers received
through the local SMTP server. See tests/reliability/campaign.py."""

from __future__ import annotations

import uuid

import pytest
import requests

from devstack.smtp import SmtpServer
from shared import store
from shared.documents import prepare_store
from tests.reliability.campaign import CampaignRun, assert_received_once
from tests.reliability.infra import PrivateStore, kill9
from tests.support import ServiceEnv, wait_until

pytestmark = pytest.mark.slow


def test_kill9_a_mailer_worker_mid_campaign_every_consenting_recipient_gets_one_message(service_env):
    with SmtpServer() as smtp:
        run = CampaignRun.start(service_env, smtp)
        run.send_now()
        run.wait_for_a_third()
        victim = run.workers["mailer"][0]
        kill9(victim)
        assert run.arrived() < len(run.expected), "killed in the middle of the campaign"
        run.start_mailer_worker()
        run.wait_finished()
        assert_received_once(run, killed_workers=1)
        alive = [p for p in service_env.processes if p is not victim]
        assert all(p.poll() is None for p in alive), [p.args for p in alive if p.poll() is not None]


def test_a_rabbitmq_restart_mid_campaign_loses_nothing_and_sends_nothing_twice(
    private_rabbit, mongo_uri, tmp_path
):
    env = ServiceEnv(
        mongo_uri=mongo_uri,
        amqp_url=private_rabbit.url,
        namespace=f"c{uuid.uuid4().hex[:8]}.",
        tmp_path=tmp_path,
    )
    try:
        with SmtpServer() as smtp:
            # No worker dies here, so nothing waits for a lease to expire; the 3-second
            # test lease would expire on a loaded machine while a worker still sends
            # its batch through the outage, and the redelivered batch would take
            # those claims over (a real mailer uses 120 s).
            run = CampaignRun.start(env, smtp, rate=15, worker_env={"VINCULO_MAILER_CLAIM_LEASE": "30"})
            run.send_now()
            run.wait_for_a_third()
            private_rabbit.stop_app()  # every connection drops; durable queues come back from disk
            assert run.arrived() < len(run.expected), "the broker went away in the middle of the campaign"
            private_rabbit.start_app()
            run.wait_finished()
            assert_received_once(run, killed_workers=0)
            assert all(p.poll() is None for p in env.processes), "every process reconnected by itself"
            logs = [p.log_path.read_text().lower() for p in run.workers["mailer"]]
            assert any("connection to broker lost" in log for log in logs), "the restart reached them"
    except BaseException:
        env.print_logs()
        raise
    finally:
        env.stop_all()


def test_a_store_restart_mid_campaign_loses_nothing_and_the_apis_are_ready_again(
    amqp_url, namespace, tmp_path
):
    private = PrivateStore(tmp_path / "store").start()
    uri = private.uri("reliability")
    prepare_store(uri)
    env = ServiceEnv(mongo_uri=uri, amqp_url=amqp_url, namespace=namespace, tmp_path=tmp_path)
    # a claim lease longer than the outage, as in production (120 s): a live worker that had a message
    # accepted by the relay records it when the store is back, and nobody sends it again
    patient = {
        "VINCULO_WORKER_MAX_ATTEMPTS": "50",
        "VINCULO_WORKER_MAX_RETRY_DELAY": "1",
        "VINCULO_MAILER_CLAIM_LEASE": "60",
    }
    try:
        with SmtpServer() as smtp:
            run = CampaignRun.start(env, smtp, worker_env=patient)
            run.send_now()
            run.wait_for_a_third()
            private.stop()
            assert run.arrived() < len(run.expected), "the store went away in the middle of the campaign"
            # down for longer than the driver's server selection (5 s): a worker fails, then retries
            # (a message's attempt, or the recording of messages the relay accepted). Not longer:
            # an outage past the claim lease lets another worker resend what was sent but not recorded.
            failing = ("failed (attempt", "recording accepted messages failed, retrying")
            wait_until(
                lambda: any(sign in p.log_path.read_text() for p in env.processes for sign in failing),
                timeout=90,
                what="a worker to fail on the store outage",
            )
            assert requests.get(f"{run.urls['mailer']}/readyz", timeout=30).status_code == 503
            private.start()  # same port, same data
            run.wait_finished()
            assert_received_once(run, killed_workers=0)
            for name, base in run.urls.items():
                wait_until(
                    lambda base=base: requests.get(f"{base}/readyz", timeout=30).status_code == 200,
                    timeout=60,
                    what=f"{name} api to be ready again",
                )
            assert all(p.poll() is None for p in env.processes), "every process reconnected by itself"
    except BaseException:
        env.print_logs()
        raise
    finally:
        env.stop_all()
        store.disconnect()
        private.stop()
