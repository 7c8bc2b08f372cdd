from conftest import bearer, lead_form


def test_courier_sends_lead_by_form_and_sees_it(client, auth, depot):
    auth.login(depot.courier)
    page = client.get("/leads/new")
    assert page.status_code == 200
    import re
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    r = client.post("/leads/new", data=dict(lead_form(), csrf_token=token))
    assert r.status_code == 302, r.get_data(as_text=True)
    r = client.get(r.headers["Location"])
    assert "North" in r.get_data(as_text=True)
    assert "Joe&#39;s Bakery" in client.get("/my-leads").get_data(as_text=True)


def test_api(client, depot):
    h = bearer(depot.courier)
    body = {"client_uuid": "0b7c8a3e-5d41-4f2a-9c3b-1e2f3a4b5c6d", "business_name": "X",
            "category": "other", "temperature": "warm"}
    r = client.post("/api/v1/leads", json=body, headers=h)
    assert r.status_code == 201, r.json
    r = client.post("/api/v1/leads", json=body, headers=h)
    assert r.status_code == 200
    r = client.get("/api/v1/leads", headers=bearer(depot.rep))
    assert len(r.json["items"]) == 1
    r = client.get("/api/v1/leads", headers=bearer(depot.rep_south))
    assert len(r.json["items"]) == 0
    r = client.get("/api/v1/leads", headers=bearer(depot.manager))
    assert len(r.json["items"]) == 1
