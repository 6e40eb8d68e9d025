"""Screen pop: the record to open for a phone, email or platform id; a choice when several match."""

from __future__ import annotations

import json

from sqlalchemy import insert

from hub.store.dedup_tables import shared_identifiers
from tests.panel.conftest import TOKEN

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def pop(world, **query):
    return world.client().get("/v1/screen-pop", query_string=query)


def test_no_customer_is_a_calm_none(world):
    answer = pop(world, phone="+1 212 555 0199")
    assert answer.status_code == 200
    assert answer.json["decision"] == "none" and answer.json["candidates"] == []


def test_one_open_case_is_popped_from_any_spelling_of_the_phone_or_email(world):
    case_id = world.three_channels()
    for query in ({"phone": "(415) 555-0100"}, {"phone": "+14155550100"}, {"email": "JANE.DOE@example.com"}):
        answer = pop(world, **query)
        assert answer.json["decision"] == "pop", query
        assert answer.json["record"]["id"] == case_id
        assert answer.json["record"]["panel_path"] == f"/panel/zendesk/tickets/{case_id}"
    assert pop(world, phone="(415) 555-0100").json["query"]["shown"] == "+1 ••• ••• 0100"


def test_two_open_problems_are_a_choice_with_a_reason_each(world):
    world.three_channels()
    world.post(event_id="order-1", intent="order_status", summary="Where is my order?")
    world.drain()
    answer = pop(world, phone="+14155550100")
    assert answer.json["decision"] == "choose"
    assert len(answer.json["candidates"]) == 2
    assert all("one of several open problems" in c["reason"] for c in answer.json["candidates"])
    assert "record" not in answer.json


def test_a_phone_shared_by_two_crm_users_is_a_choice_never_a_guess(world):
    with world.hub.engine.begin() as connection:
        connection.execute(
            insert(shared_identifiers).values(
                kind="phone",
                value="+14155550177",
                candidates=json.dumps(["zendesk:1001", "zendesk:1002"]),
                source="zendesk:people",
                noted_at=world.clock.now(),
            )
        )
    answer = pop(world, phone="415 555 0177")
    assert answer.json["decision"] == "choose"
    assert [(c["object"], c["id"]) for c in answer.json["candidates"]] == [("user", "1001"), ("user", "1002")]


def test_without_an_open_case_the_customers_crm_user_is_popped(world):
    world.post(
        event_id="closed-1",
        customer={"email": "kim@example.com", "external_ids": {"zendesk_user": "5005"}},
        outcome="resolved",
    )
    world.drain()
    world.clock.advance(days=5)
    from hub.store.episodes import close_elapsed

    with world.hub.engine.begin() as connection:
        close_elapsed(connection, world.clock.now())
    answer = pop(world, platform="zendesk_user", id="5005")
    assert answer.json["decision"] == "pop"
    assert (answer.json["record"]["object"], answer.json["record"]["id"]) == ("user", "5005")


def test_bad_queries_name_what_is_wrong(world):
    both = pop(world, phone="+14155550100", email="a@b.co")
    assert both.status_code == 422
    assert pop(world, phone="not a phone").json["error"]["details"][0]["path"] == "phone"
    assert pop(world, platform="zendesk_user").json["error"]["details"][0]["path"] == "id"
    assert pop(world, email="nope").status_code == 422


def test_the_screen_pop_needs_an_agent_or_the_api_token(world):
    client = world.app.test_client()
    assert client.get("/v1/screen-pop?phone=%2B14155550100").status_code == 401
    assert client.get("/v1/screen-pop?phone=%2B14155550100", headers=BEARER).status_code == 200


def test_the_identifier_can_travel_in_a_json_body_and_never_reaches_the_access_log(world, caplog):
    import logging

    from tests.panel.conftest import csrf_of

    case_id = world.three_channels()
    client = world.client()
    answer = client.post(
        "/v1/screen-pop", json={"phone": "(415) 555-0100"}, headers={"X-CSRF-Token": csrf_of(client)}
    )
    assert answer.json["record"]["id"] == case_id
    logger = logging.getLogger("werkzeug")
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logger.info('"%s" %s %s', "GET /v1/screen-pop?phone=%2B14155550100&x=1 HTTP/1.1", 200, "-")
    assert "4155550100" not in caplog.text and "phone=[redacted]&x=1" in caplog.text
