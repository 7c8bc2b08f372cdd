"""Alerts end to end through the real worker and a real push service."""
import uuid

from app.models import Delivery, Lead, Notification
from conftest import bearer, enable_push, make_user, wait_for


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
