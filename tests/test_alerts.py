"""Alerts end to end through the real worker and a real push service."""
import logging
import uuid
from datetime import timedelta

import pytest

from app import delivery, notify, push
from app.models import Delivery, Heartbeat, Lead, Notification, PushServicePause
from conftest import bearer, enable_push, make_user, wait_for


@pytest.fixture(autouse=True)
def forget_push_service_holds():
    """A later test's push service may get the port of one that asked us to wait."""
    yield
    push.forget_holds()


def send_lead(client, courier, **fields):
    body = dict({"client_uuid": str(uuid.uuid4()), "business_name": "Joe's Bakery",
                 "category": "new_business", "temperature": "hot"}, **fields)
    response = client.post("/api/v1/leads", json=body, headers=bearer(courier))
    assert response.status_code == 201, response.json
    return response.json


def test_every_device_of_every_territory_rep_gets_the_new_lead(client, depot, push_service, worker):
    phone, laptop = enable_push(depot.rep, push_service), enable_push(depot.rep, push_service)
    second_rep = make_user("rep", territory=depot.north)
    second_phone = enable_push(second_rep, push_service)
    others = [enable_push(u, push_service) for u in
              (depot.rep_south, depot.courier, depot.manager, depot.backup)]
    lead = send_lead(client, depot.courier)
    for device in (phone, laptop, second_phone):
        [message] = wait_for(lambda: push_service.delivered(device))
        assert message.payload["lead_id"] == lead["id"]
        assert "Joe's Bakery" in message.payload["title"]
        assert message.payload["path"] == "/leads/%d" % lead["id"]
        assert message.headers["urgency"] == "high"
    for device in others:
        assert push_service.received(device) == []
    assert {n.user_id for n in Notification.select()} == {depot.rep.id, second_rep.id}


def test_unrouted_leads_reach_the_managers(client, depot, push_service, worker):
    desk = enable_push(depot.manager, push_service)
    north = enable_push(depot.rep, push_service)
    lead = send_lead(client, depot.rover, postcode="ZZ1 1ZZ", temperature="fyi")
    [message] = wait_for(lambda: push_service.delivered(desk))
    assert message.payload["lead_id"] == lead["id"]
    assert message.payload["title"].startswith("Unrouted lead")
    assert message.headers["urgency"] == "low"
    assert push_service.received(north) == []


def test_push_service_down_then_back_loses_nothing_and_repeats_nothing(
        client, depot, push_service, worker):
    phone = enable_push(depot.rep, push_service)
    push_service.down()
    leads = [send_lead(client, depot.courier, business_name="Shop %d" % n) for n in range(5)]
    wait_for(lambda: Delivery.select().where(Delivery.attempts >= 2).count() == 5)
    push_service.up()
    wait_for(lambda: len(push_service.delivered(phone)) == 5, timeout=10)
    got = sorted(m.payload["lead_id"] for m in push_service.delivered(phone))
    assert got == sorted(lead["id"] for lead in leads)
    wait_for(lambda: Delivery.select().where(Delivery.status == "sent").count() == 5)
    assert len(push_service.delivered(phone)) == 5
    assert Lead.select().count() == 5


# The response rules, one delivery at a time as the worker pushes them.
from app.models import LeadEvent, PushSubscription, utcnow


def new_lead_delivery(app, depot, push_service, temperature="hot"):
    """A new lead for the North rep, whose one device is in push_service."""
    device = enable_push(depot.rep, push_service)
    lead, _ = Lead.submit(depot.courier, {"business_name": "Joe's Bakery", "category": "other",
                                          "temperature": temperature}, uuid.uuid4())
    with app.app_context():
        [delivery_id] = notify.announce(lead.created_event.id)
    return lead, device, delivery_id


def deliver(app, delivery_id):
    """Push one delivery as the worker does; return seconds until its retry, or None."""
    with app.app_context():
        return delivery.deliver([delivery_id]).get(delivery_id)


def status_of(delivery_id):
    row = Delivery.get_or_none(Delivery.id == delivery_id)
    return row.status if row else None


def test_delivered_alert_carries_ttl_urgency_topic_and_content_type(app, depot, push_service):
    lead, device, delivery_id = new_lead_delivery(app, depot, push_service, "warm")
    assert deliver(app, delivery_id) is None
    [message] = push_service.delivered(device)
    headers = message.headers
    assert 4 * 3600 - 60 <= int(headers["ttl"]) <= 4 * 3600
    assert headers["urgency"] == "normal"
    assert headers["topic"] == "new_lead-%d" % lead.id
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-encoding"] == "aes128gcm"
    assert message.payload == {"id": Notification.get().id, "kind": "new_lead", "lead_id": lead.id, "path": "/leads/%d" % lead.id,
                               "title": "Warm lead: Joe's Bakery", "body": "Other · from Ann"}
    assert status_of(delivery_id) == "sent"
    assert PushSubscription.get().last_success_at is not None


@pytest.mark.parametrize("status", [404, 410])
def test_gone_device_is_deleted(app, depot, push_service, status):
    _, device, delivery_id = new_lead_delivery(app, depot, push_service)
    push_service.respond_with(status)
    assert deliver(app, delivery_id) is None
    assert PushSubscription.select().count() == 0
    assert len(push_service.received(device)) == 1


def test_too_large_is_sent_once_more_with_the_smallest_payload(app, depot, push_service):
    lead, device, delivery_id = new_lead_delivery(app, depot, push_service)
    Notification.update(body="x" * 240).execute()
    push_service.refuse_over(180)
    assert deliver(app, delivery_id) is None
    assert status_of(delivery_id) == "sent"
    big, small = push_service.received(device)
    assert big.status == 413
    assert small.status == 201
    assert small.payload == {"id": Notification.get().id, "kind": "new_lead",
                             "lead_id": lead.id, "title": "Hot lead: Joe's Bakery"}


def test_too_large_even_when_smallest_fails_and_is_never_retried(app, depot, push_service):
    _, device, delivery_id = new_lead_delivery(app, depot, push_service)
    push_service.respond_with(413)
    assert deliver(app, delivery_id) is None
    assert status_of(delivery_id) == "failed"
    assert deliver(app, delivery_id) is None
    assert [r.status for r in push_service.received(device)] == [413, 413]
    assert PushSubscription.select().count() == 1


@pytest.mark.parametrize("retry_after, expected", [("7", 7.0), ("0", 1.0), ("86400", 3600.0),
                                                   ("soon", 60.0)])
def test_too_many_requests_waits_for_retry_after(app, depot, push_service, retry_after, expected):
    _, _, delivery_id = new_lead_delivery(app, depot, push_service)
    push_service.respond_with(429, retry_after=retry_after)
    assert deliver(app, delivery_id) == expected
    row = Delivery.get_by_id(delivery_id)
    assert row.status == "pending"
    assert (row.next_attempt_at - utcnow()).total_seconds() == pytest.approx(expected, abs=2)
    assert deliver(app, delivery_id) is None  # not yet due: nothing sent
    assert row.attempts == 1


@pytest.mark.parametrize("trouble", ["500", "503", "408", "hang", "down"])
def test_transient_failures_retry_with_capped_backoff_until_the_ttl_ends(app, depot, push_service,
                                                                         trouble, caplog):
    _, device, delivery_id = new_lead_delivery(app, depot, push_service)
    if trouble == "hang":
        push_service.hang(2.0)
    elif trouble == "down":
        push_service.down()
    else:
        push_service.respond_with(int(trouble))
    for attempt in range(1, 15):  # more than the 12 attempts that were once the limit
        delay = deliver(app, delivery_id)
        assert 0 <= delay <= app.config["PUSH_RETRY_CAP_SECONDS"]
        Delivery.update(next_attempt_at=utcnow()).where(Delivery.id == delivery_id).execute()
    # Two seconds of its four hours left: one more try is sent, and it is the last.
    Notification.update(created_at=utcnow() - timedelta(hours=4, seconds=-2)).execute()
    with caplog.at_level(logging.WARNING, logger="app.delivery"):
        while (delay := deliver(app, delivery_id)) is not None:
            assert delay < 2
            Delivery.update(next_attempt_at=utcnow()).where(Delivery.id == delivery_id).execute()
    assert status_of(delivery_id) == "expired"
    assert "given up" in caplog.text and "TTL" in caplog.text
    assert Delivery.get_by_id(delivery_id).attempts >= 15
    assert PushSubscription.select().count() == 1


def test_outage_longer_than_the_old_retry_budget_delivers_once_afterwards(
        client, depot, push_service, worker):
    phone = enable_push(depot.rep, push_service)
    push_service.down()
    lead = send_lead(client, depot.courier)
    wait_for(lambda: Delivery.get_or_none(Delivery.attempts >= 13), timeout=60)
    push_service.up()
    wait_for(lambda: Delivery.get().status == "sent", timeout=10)
    [message] = push_service.delivered(phone)
    assert message.payload["lead_id"] == lead["id"]


def test_outage_past_the_ttl_gives_the_push_up_and_logs_it(app, depot, push_service, worker,
                                                            caplog):
    from app import tasks
    _, device, delivery_id = new_lead_delivery(app, depot, push_service)
    Notification.update(created_at=utcnow() - timedelta(hours=4, seconds=-3)).execute()
    push_service.down()
    with caplog.at_level(logging.WARNING, logger="app.delivery"):
        tasks.deliver(delivery_id)
        wait_for(lambda: status_of(delivery_id) == "expired", timeout=10)
    assert Delivery.get_by_id(delivery_id).attempts >= 2
    assert "given up" in caplog.text
    push_service.up()
    assert push_service.received(device) == []


@pytest.mark.parametrize("status", [400, 401, 403])
def test_refusals_drop_a_device_only_after_three_spanning_a_day(app, depot, push_service, status):
    _, device, _ = new_lead_delivery(app, depot, push_service)
    push_service.respond_with(status)
    for n in range(3):
        lead, _ = Lead.submit(depot.courier, {"business_name": "Shop %d" % n, "category": "other",
                                              "temperature": "hot"}, uuid.uuid4())
        with app.app_context():
            [delivery_id] = notify.announce(lead.created_event.id)
        assert deliver(app, delivery_id) is None
        assert status_of(delivery_id) == "failed"
    subscription = PushSubscription.get()
    assert subscription.failure_count == 3
    PushSubscription.update(first_failure_at=utcnow() - timedelta(days=1, minutes=1)).execute()
    lead, _ = Lead.submit(depot.courier, {"business_name": "Last", "category": "other",
                                          "temperature": "hot"}, uuid.uuid4())
    with app.app_context():
        [delivery_id] = notify.announce(lead.created_event.id)
    deliver(app, delivery_id)
    assert PushSubscription.select().count() == 0


def test_success_clears_the_failure_count(app, depot, push_service):
    _, device, delivery_id = new_lead_delivery(app, depot, push_service)
    PushSubscription.update(failure_count=2, first_failure_at=utcnow()).execute()
    deliver(app, delivery_id)
    assert PushSubscription.get().failure_count == 0


def test_new_lead_alert_is_not_sent_once_the_lead_is_acknowledged(app, depot, push_service):
    lead, device, delivery_id = new_lead_delivery(app, depot, push_service)
    Lead.update(status="acknowledged").where(Lead.id == lead.id).execute()
    assert deliver(app, delivery_id) is None
    assert status_of(delivery_id) == "skipped"
    assert push_service.received(device) == []


def test_alert_past_its_ttl_is_not_sent(app, depot, push_service):
    _, device, delivery_id = new_lead_delivery(app, depot, push_service)
    Notification.update(created_at=utcnow() - timedelta(hours=4, seconds=1)).execute()
    assert deliver(app, delivery_id) is None
    assert status_of(delivery_id) == "expired"
    assert push_service.received(device) == []


def test_an_event_is_announced_once_however_often_it_is_asked(app, depot, push_service):
    lead, _, _ = new_lead_delivery(app, depot, push_service)
    with app.app_context():
        assert notify.announce(lead.created_event.id) == []
    assert Notification.select().count() == 1


def test_sweep_finds_events_whose_announcement_was_lost(app, depot):
    lead, _ = Lead.submit(depot.courier, {"business_name": "Lost", "category": "other",
                                          "temperature": "warm"}, uuid.uuid4())
    with app.app_context():
        assert notify.unannounced_events() == []  # too fresh: its task may be on the way
        LeadEvent.update(created_at=utcnow() - timedelta(minutes=1)).execute()
        assert notify.unannounced_events() == [lead.created_event.id]
        notify.announce(lead.created_event.id)
        assert notify.unannounced_events() == []


def test_overdue_leads_escalate_once_to_backups_and_managers(app, depot, push_service):
    backup_phone = enable_push(depot.backup, push_service)
    hot, _ = Lead.submit(depot.courier, {"business_name": "Hot shop", "category": "other",
                                         "temperature": "hot"}, uuid.uuid4())
    warm, _ = Lead.submit(depot.courier, {"business_name": "Warm shop", "category": "other",
                                          "temperature": "warm"}, uuid.uuid4())
    Lead.update(created_at=utcnow() - timedelta(minutes=16)).execute()
    with app.app_context():
        [event_id] = notify.escalate_overdue()
        assert notify.escalate_overdue() == []
        deliveries = notify.announce(event_id)
        delivery.deliver(deliveries)
    assert LeadEvent.get_by_id(event_id).lead_id == hot.id
    assert Lead.get_by_id(hot.id).escalated_at is not None
    assert Lead.get_by_id(warm.id).escalated_at is None
    told = {n.user_id for n in Notification.select().where(Notification.kind == "escalated")}
    assert told == {depot.backup.id, depot.manager.id}
    [message] = push_service.delivered(backup_phone)
    assert message.payload["title"] == "Nobody has picked up Hot shop"
    assert message.headers["urgency"] == "high"


def test_acknowledged_leads_never_escalate(app, depot):
    lead, _ = Lead.submit(depot.courier, {"business_name": "Taken", "category": "other",
                                          "temperature": "hot"}, uuid.uuid4())
    Lead.update(status="acknowledged", created_at=utcnow() - timedelta(hours=1)).execute()
    with app.app_context():
        assert notify.escalate_overdue() == []


def test_deadlines_are_configurable(app, depot):
    app.config["DEADLINE_WARM_MINUTES"] = 5
    Lead.submit(depot.courier, {"business_name": "Warm", "category": "other",
                                "temperature": "warm"}, uuid.uuid4())
    Lead.update(created_at=utcnow() - timedelta(minutes=6)).execute()
    with app.app_context():
        assert len(notify.escalate_overdue()) == 1


def test_won_tells_the_courier_what_the_customer_ships(app, depot):
    lead, _ = Lead.submit(depot.courier, {"business_name": "Joe's Bakery", "category": "other",
                                          "temperature": "hot"}, uuid.uuid4())
    event = LeadEvent.create(lead=lead, kind="won", actor=depot.rep,
                             detail="40 parcels a week")
    with app.app_context():
        notify.announce(event.id)
    note = Notification.get(Notification.user == depot.courier)
    assert note.title == "Won! Joe's Bakery"
    assert "40 parcels a week" in note.body


def test_assigning_a_new_lead_tells_the_rep_and_the_courier(app, depot):
    lead, _ = Lead.submit(depot.courier, {"business_name": "Joe's Bakery", "category": "other",
                                          "temperature": "hot"}, uuid.uuid4())
    event = Lead.reassign(lead.id, depot.manager, depot.rep)
    with app.app_context():
        notify.announce(event.id)
    told = {(n.user_id, n.kind, n.title) for n in Notification.select()}
    assert told == {(depot.rep.id, "assigned", "Assigned to you: Joe's Bakery"),
                    (depot.courier.id, "acknowledged", "Dana picked up your lead for Joe's Bakery")}


def test_managers_deadline_setting_wins_over_the_configured_one(app, depot):
    from app.models import Setting
    Setting.write("deadline_hot_minutes", 60)
    Lead.submit(depot.courier, {"business_name": "Hot", "category": "other",
                                "temperature": "hot"}, uuid.uuid4())
    Lead.update(created_at=utcnow() - timedelta(minutes=30)).execute()
    with app.app_context():
        assert notify.escalate_overdue() == []
        Setting.write("deadline_hot_minutes", 20)
        assert len(notify.escalate_overdue()) == 1


def test_demo_history_is_already_announced_so_no_device_hears_old_news(app):
    from app import demo
    with app.app_context():
        demo.create()
        LeadEvent.update(created_at=utcnow() - timedelta(days=30)).execute()
        assert LeadEvent.select().count() > 50
        assert notify.unannounced_events() == []
    assert Notification.select().count() == 0


def retry_after_value(kind, seconds):
    """A Retry-After header (seconds or an HTTP-date) and the Unix time it names."""
    import time
    from email.utils import formatdate, parsedate_to_datetime
    if kind == "seconds":
        return str(seconds), None
    value = formatdate(time.time() + seconds + 1, usegmt=True)
    return value, parsedate_to_datetime(value).timestamp()


@pytest.mark.parametrize("status, kind", [(429, "seconds"), (429, "date"), (503, "seconds")])
def test_retry_after_pauses_that_push_service_for_every_device_and_worker(
        client, depot, push_service, worker, status, kind):
    first = enable_push(depot.rep, push_service)
    value, until = retry_after_value(kind, 2)
    push_service.respond_with(status, retry_after=value, times=1)
    send_lead(client, depot.courier, business_name="First")
    [refused] = wait_for(lambda: push_service.received(first))
    until = until or refused.at + 2
    # Requests already on their way when the answer came cannot be called back.
    wait_for(lambda: PushServicePause.get_or_none(PushServicePause.origin == push_service.origin))
    others = [enable_push(depot.rep, push_service), enable_push(depot.rep, push_service)]
    send_lead(client, depot.courier, business_name="Second")
    wait_for(lambda: Delivery.select().where(Delivery.status == "sent").count() == 4,
             timeout=15)
    later = [r for r in push_service.received() if r is not refused]
    assert len(later) == 4 and all(r.status == 201 for r in later)
    assert min(r.at for r in later) >= until
    assert len(push_service.delivered(first)) == 2
    assert all(len(push_service.delivered(device)) == 1 for device in others)


def test_a_pause_recorded_by_another_process_holds_this_one_off(app, depot, push_service):
    _, device, delivery_id = new_lead_delivery(app, depot, push_service)
    with app.app_context():
        delivery.pause(push_service.origin, 30)
    push.forget_holds()  # as a process that has not heard of it itself
    delay = deliver(app, delivery_id)
    assert 28 <= delay <= 30
    row = Delivery.get_by_id(delivery_id)
    assert (row.status, row.attempts) == ("pending", 0)
    assert push_service.received(device) == []


# Crash recovery, with the README's worker command as a real process.

def start_consumer(app, log_path):
    """`huey_consumer wsgi.huey` (the Procfile's worker) on this test's database and queue."""
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"],
               QUEUE_URL=app.config["QUEUE_URL"], SECRET_KEY="test-secret",
               VAPID_PRIVATE_KEY=app.config["VAPID_PRIVATE_KEY"],
               VAPID_SUBJECT=app.config["VAPID_SUBJECT"], PUSH_SERVICE_HOSTS="127.0.0.1",
               PUSH_CA_BUNDLE=app.config["PUSH_CA_BUNDLE"], DEVELOPMENT="1",
               PHOTO_FOLDER=app.config["PHOTO_FOLDER"])
    command = [os.path.join(os.path.dirname(sys.executable), "huey_consumer"), "wsgi.huey",
               "--workers", "4", "--worker-type", "thread", "--delay", "0.05",
               "--max-delay", "0.05", "--backoff", "1"]
    return subprocess.Popen(command, cwd=root, env=env, stdout=open(log_path, "ab"),
                            stderr=subprocess.STDOUT)


def stop_consumer(process):
    import signal
    import subprocess
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def fan_out_then_kill(client, depot, push_service, workers, elsewhere=False):
    """A new lead to 500 devices; kill -9 the worker sending it a tenth of the
    way through (as if on another machine: elsewhere). Return the devices by
    endpoint, the endpoints whose delivery was claimed and not written down,
    the survivors and when the kill was."""
    import signal
    import time
    devices = {}
    for _ in range(500):
        device = enable_push(depot.rep, push_service)
        devices[device.endpoint] = device
    push_service.slow(0.01)  # so that the fan-out lasts long enough to be cut
    send_lead(client, depot.courier)
    [claimer] = wait_for(lambda: {d.claimed_by for d in Delivery.select()
                                  .where(Delivery.status == "sending")}, timeout=60)
    wait_for(lambda: len(push_service.delivered()) >= 50, timeout=60)
    [victim] = [w for w in workers if "/%d/" % w.pid in claimer]
    if elsewhere:  # a heartbeat only ever updates its time, so this sticks
        Heartbeat.update(host="another-machine/1").where(Heartbeat.id == claimer).execute()
    victim.send_signal(signal.SIGKILL)
    killed = time.time()
    victim.wait()
    in_flight = {d.subscription.endpoint for d in
                 Delivery.select(Delivery, PushSubscription).join(PushSubscription)
                 .where(Delivery.status == "sending")}
    assert 0 < len(push_service.delivered()) < 500
    return devices, in_flight, [w for w in workers if w is not victim], killed


def assert_all_delivered_soon_after(start, devices, in_flight, push_service):
    wait_for(lambda: all(push_service.delivered(d) for d in devices.values()), timeout=60)
    last = max(min(m.at for m in push_service.delivered(d)) for d in devices.values())
    print("last alert %.2f s after; %d in flight at the kill, %d copies" % (
        last - start, len(in_flight), len(push_service.delivered()) - len(devices)))
    assert last - start <= 10
    twice = {e for e, d in devices.items() if len(push_service.delivered(d)) > 1}
    # Only a delivery the dead worker had claimed and not written down can come twice.
    assert twice <= in_flight
    assert all(len(push_service.delivered(d)) <= 2 for d in devices.values())
    wait_for(lambda: Delivery.select().where(Delivery.status == "sent").count() == 500,
             timeout=15)


def test_killed_worker_mid_fan_out_its_deliveries_arrive_within_10_s_of_the_restart(
        client, depot, push_service, tmp_path):
    import time
    workers = [start_consumer(client.application, tmp_path / "worker.log")]
    try:
        devices, in_flight, _, _ = fan_out_then_kill(client, depot, push_service, workers)
        time.sleep(5)  # down a while, as a supervisor's restart delay would leave it
        restarted = time.time()
        workers = [start_consumer(client.application, tmp_path / "worker.log")]
        assert_all_delivered_soon_after(restarted, devices, in_flight, push_service)
    finally:
        for worker in workers:
            stop_consumer(worker)


@pytest.mark.parametrize("elsewhere", [False, True], ids=["same-machine", "other-machine"])
def test_a_surviving_worker_takes_up_a_killed_ones_deliveries_within_10_s(
        client, depot, push_service, tmp_path, elsewhere):
    workers = [start_consumer(client.application, tmp_path / ("worker-%d.log" % n))
               for n in range(2)]
    try:
        wait_for(lambda: Heartbeat.select().count() == 2, timeout=30)
        devices, in_flight, workers, killed = fan_out_then_kill(client, depot, push_service,
                                                                workers, elsewhere)
        assert_all_delivered_soon_after(killed, devices, in_flight, push_service)
    finally:
        for worker in workers:
            stop_consumer(worker)


def test_a_hanging_device_holds_back_no_other_device(client, depot, push_service, worker):
    client.application.config["PUSH_READ_TIMEOUT_SECONDS"] = 4.0
    stuck = enable_push(depot.rep, push_service)
    others = [enable_push(depot.rep, push_service) for _ in range(4)]
    push_service.hang(6.0, subscription=stuck)
    send_lead(client, depot.courier)
    wait_for(lambda: Delivery.select().where(Delivery.status == "sent").count() == 4, timeout=20)
    [hung] = wait_for(lambda: push_service.received(stuck), timeout=20)
    push_service.behave()
    gave_up_at = hung.at + 4.0  # when the worker stopped waiting for it
    assert all(push_service.delivered(d)[0].at < gave_up_at for d in others)
    written = max(d.updated_at for d in Delivery.select().where(Delivery.status == "sent"))
    assert written.timestamp() - time_offset() < gave_up_at
    wait_for(lambda: len(push_service.delivered(stuck)) == 1, timeout=20)


def time_offset():
    """Naive-UTC datetimes' .timestamp() minus Unix time (the local zone's offset)."""
    from datetime import datetime
    return datetime(1970, 1, 1).timestamp()


def test_sweep_takes_up_only_the_deliveries_of_dead_workers(app, depot, push_service):
    from app.models import Heartbeat
    now = utcnow()
    Heartbeat.create(id="elsewhere/7/live", host="elsewhere/1", pid=7,
                     beat_at=now - timedelta(seconds=3))
    Heartbeat.create(id="elsewhere/8/dead", host="elsewhere/1", pid=8,
                     beat_at=now - timedelta(seconds=6))
    with app.app_context():
        Heartbeat.create(id="here/gone", host=delivery.this_host(), pid=2 ** 22 + 1, beat_at=now)
    for _ in range(3):
        enable_push(depot.rep, push_service)
    lead, _ = Lead.submit(depot.courier, {"business_name": "Joe's Bakery", "category": "other",
                                          "temperature": "hot"}, uuid.uuid4())
    with app.app_context():
        ids = notify.announce(lead.created_event.id)
    for delivery_id, worker in zip(ids, ("elsewhere/7/live", "elsewhere/8/dead", "here/gone")):
        Delivery.update(status="sending", claimed_by=worker).where(
            Delivery.id == delivery_id).execute()
    with app.app_context():
        delivery.sweep()
    assert [status_of(i) for i in ids] == ["sending", "pending", "pending"]
    assert {h.id for h in Heartbeat.select()} == {"elsewhere/7/live"}


def test_a_worker_given_up_for_dead_carries_on_under_a_new_id(app):
    from app.models import Heartbeat
    with app.app_context():
        first = delivery.beat()
        Heartbeat.delete().execute()  # another worker's sweep found it silent
        second = delivery.beat()
    assert second != first and delivery.worker_id() == second
    assert [h.id for h in Heartbeat.select()] == [second]


def test_a_copy_after_a_lost_answer_is_the_same_alert_with_the_same_topic(app, depot,
                                                                          push_service):
    lead, device, delivery_id = new_lead_delivery(app, depot, push_service)
    push_service.accept_then_drop()
    assert deliver(app, delivery_id) is not None  # no answer: it must be tried again
    push_service.behave()
    Delivery.update(next_attempt_at=utcnow()).execute()
    assert deliver(app, delivery_id) is None
    first, copy = push_service.delivered(device)
    assert first.payload == copy.payload and first.payload["id"] == Notification.get().id
    assert first.headers["topic"] == copy.headers["topic"] == "new_lead-%d" % lead.id
    assert status_of(delivery_id) == "sent"
