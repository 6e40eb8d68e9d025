"""POST /v1/outcomes and the read API, through the Flask test client: each bad input, its answer."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from hub.store.tables import customers, inbox
from tests.e2e.conftest import TOKEN, outcome


def rows(hub) -> int:
    with hub.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(inbox)).scalar()


def test_an_event_is_committed_before_the_202_and_nothing_else_happens(post, hub, fake_crm):
    response = post()
    assert response.status_code == 202
    assert response.json == {"event_id": "evt-1", "source": "web-chat", "status": "accepted"}
    assert rows(hub) == 1
    assert fake_crm.calls == []  # the CRM is never called in the request
    with hub.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(customers)).scalar() == 0


def test_a_repeated_event_answers_200_duplicate_and_is_stored_once(post, hub):
    assert post().status_code == 202
    again = post()
    assert again.status_code == 200
    assert again.json["status"] == "duplicate"
    assert rows(hub) == 1


def test_same_event_id_from_another_source_is_another_event(post, hub):
    assert post(source="ivr").status_code == 202
    assert post(source="web-chat").status_code == 202
    assert rows(hub) == 2


def test_source_defaults_to_generic(post):
    event = outcome()
    del event["source"]
    assert post(event).json["source"] == "generic"


def error(response):
    body = response.json
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_malformed_json_is_400(post, hub):
    response = post.raw(b'{"event_id": "x",')
    assert response.status_code == 400
    assert error(response)["code"] == "malformed_json"
    assert rows(hub) == 0


def test_wrong_content_type_is_415(post, hub):
    response = post.raw(json.dumps(outcome()).encode(), headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert error(response)["code"] == "unsupported_media_type"
    assert rows(hub) == 0


def test_body_over_one_mebibyte_is_413(post, hub):
    event = outcome(summary="x" * 9000, metadata={f"k{n}": "y" * 12000 for n in range(90)})
    body = json.dumps(event).encode()
    assert len(body) > 1024 * 1024
    response = post.raw(body)
    assert response.status_code == 413
    assert error(response)["code"] == "request_entity_too_large"
    assert rows(hub) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret": "wrong"}, "does not match"),
        ({"skew": -301}, "300 s"),
        ({"skew": 301}, "300 s"),
    ],
)
def test_bad_or_stale_signature_is_401(post, hub, kwargs, message):
    response = post.raw(json.dumps(outcome()).encode(), **kwargs)
    assert response.status_code == 401
    assert message in error(response)["message"]
    assert rows(hub) == 0


def test_missing_signature_is_401(client, hub):
    response = client.post("/v1/outcomes", data=json.dumps(outcome()), content_type="application/json")
    assert response.status_code == 401
    assert "missing X-CTIHub-Signature" in error(response)["message"]
    assert rows(hub) == 0


def test_schema_violations_are_422_with_every_path(post, hub):
    response = post(outcome(channel="fax", occurred_at="yesterday", customer={}))
    assert response.status_code == 422
    details = error(response)["details"]
    assert {d["path"] for d in details} == {"$.channel", "$.occurred_at", "$.customer"}
    assert rows(hub) == 0


def test_unknown_intent_or_disposition_is_422(post, hub):
    response = post(outcome(intent="horoscope", disposition="MAYBE"))
    assert response.status_code == 422
    assert [d["path"] for d in error(response)["details"]] == ["$.disposition", "$.intent"]
    assert rows(hub) == 0


def test_status_needs_the_bearer_token(post):
    post()
    assert post.status("web-chat", "evt-1", token="nope").status_code == 401
    assert post.client.get("/v1/outcomes/web-chat/evt-1").status_code == 401


def test_status_of_an_unknown_event_is_404(post):
    response = post.status("web-chat", "never-sent")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"


def test_status_is_pending_until_the_worker_links_it(post, hub):
    post()
    assert post.status("web-chat", "evt-1").json["status"] == "pending"
    assert hub.new_worker().drain() == 1
    status = post.status("web-chat", "evt-1").json
    assert status["status"] == "linked"
    assert status["disposition"] == "FAILED"
    assert status["episode_id"].startswith("ep_")
    assert status["customer_key"].startswith("cus_")
    assert [(link["object"], link["created"]) for link in status["links"]] == [
        ("ticket", True),
        ("comment", True),
    ]


def test_catalog_lists_intents_and_dispositions(client):
    response = client.get("/v1/catalog", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    intents = {i["code"]: i for i in response.json["intents"]}
    assert 8 <= len(intents) <= 15
    assert "self_service" in intents["password_reset"]["channels"]
    dispositions = {d["code"]: d for d in response.json["dispositions"]}
    assert dispositions["SS_FAILED"]["outcome_class"] == "failed"
    assert set(dispositions["SS_FAILED"]) == {"code", "label", "outcome_class"}
    assert client.get("/v1/catalog").status_code == 401


def test_schema_is_served(client):
    response = client.get("/v1/schemas/outcome-event")
    assert response.status_code == 200
    assert response.json["title"].startswith("Interaction outcome event")


def test_health_and_readiness(client, hub):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json["migrations"] == "current"


def test_readiness_fails_when_migrations_are_behind(tmp_path, clock, fake_crm):
    from hub.bootstrap import build_hub
    from hub.store.db import make_engine
    from hub.web import create_app
    from tests.e2e.conftest import settings

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    app = create_app(hub=build_hub(settings(), clock=clock, crm=fake_crm, engine=engine))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "ctihub db upgrade" in response.json["migrations"]


def test_unknown_route_is_a_json_404(client):
    response = client.get("/v2/nothing")
    assert response.status_code == 404
    assert error(response)["code"] == "not_found"
