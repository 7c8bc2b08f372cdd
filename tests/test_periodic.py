"""Periodic tasks run once a period, however many consumers share the queue."""
import logging
import re

from app.tasks import consumer
from conftest import wait_for

PERIOD = re.compile(r"every_minute (\S+): (escalating|already run)")


def periods(caplog):
    """(minute, ran?) for every copy of every_minute that ran, in order."""
    found = []
    for record in caplog.records:
        match = PERIOD.match(record.getMessage())
        if match:
            found.append((match.group(1), match.group(2) == "escalating"))
    return found


def test_two_consumers_on_one_queue_run_each_minute_once(app, queue, caplog):
    caplog.set_level(logging.DEBUG, logger="app.tasks")
    # Each consumer's scheduler queues every_minute as it starts, as it does
    # at the top of every minute: two copies of the period on one queue.
    consumers = [consumer(app, workers=2, periodic=True) for _ in range(2)]
    for running in consumers:
        running.start()
    try:
        copies = wait_for(lambda: len(periods(caplog)) >= 2 and periods(caplog), timeout=30)
    finally:
        for running in consumers:
            running.stop(graceful=True)
    minutes = {minute for minute, _ in copies}
    ran = [minute for minute, did in copies if did]
    # Once per minute: both copies in one minute run once; two minutes, once each.
    assert sorted(ran) == sorted(minutes), copies


def test_a_minute_is_claimed_once_and_old_claims_do_not_pile_up(app, queue):
    from datetime import datetime, timedelta, timezone
    from app.tasks import claim_period, huey
    start = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
    assert claim_period("every_minute", start) is True
    assert claim_period("every_minute", start) is False
    assert claim_period("every_minute", start + timedelta(minutes=1)) is True
    for minute in range(2, 120):  # two hours of periods
        claim_period("every_minute", start + timedelta(minutes=minute))
    # Only the last few minutes' claims are kept, whatever the queue.
    assert huey.storage.result_store_size() <= 6
