"""Scenarios 1-3 of issue 8 ("Survive"): a "send now" campaign through every
service as a real process, broken in the middle, and what customers received
through the local SMTP server. See tests/reliability/campaign.py."""

from __future__ import annotations

import pytest

from devstack.smtp import SmtpServer
from tests.reliability.campaign import CampaignRun, assert_received_once
from tests.reliability.infra import kill9

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
