"""/v1/admin: versions, drafts with problems, publish with conflict, rollback, diff, audit, access."""

from __future__ import annotations

import re

import pytest

from hub.web.session import Principal, sign_in
from tests.conftest import MAPPINGS
from tests.web.conftest import TOKEN

BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app(prod_app):
    @prod_app.post("/test/sign-in-as/<role>")
    def _sign_in(role):  # test-only door; the real sign-ins are tested in tests/web
        sign_in(
            Principal(subject=f"test:{role}", name=f"Test {role}", crm="zendesk", roles=frozenset({role}))
        )
        return "ok"

    return prod_app


@pytest.fixture
def client(app):
    return app.test_client()


def published_documents(client) -> dict[str, str]:
    listing = client.get("/v1/admin/config", headers=BEARER).json
    return client.get(f"/v1/admin/config/{listing['published_version']}", headers=BEARER).json["documents"]


def test_the_seeded_version_is_listed_with_its_documents_and_no_problems(client):
    listing = client.get("/v1/admin/config", headers=BEARER)
    assert listing.status_code == 200
    assert listing.json["published_version"] == 1
    assert listing.json["versions"][0]["created_by"] == "hub:seed"
    detail = client.get("/v1/admin/config/1", headers=BEARER).json
    assert "fields.zendesk.yaml" in detail["documents"] and detail["problems"] == []
    # every admin file of mappings/ is versioned (metrics.yaml was silently left out before)
    shipped = {path.name for path in MAPPINGS.glob("*.yaml")}
    assert set(detail["documents"]) == shipped
    assert client.get("/v1/admin/config/99", headers=BEARER).status_code == 404


def test_draft_problems_then_publish_conflict_and_rollback(client, app):
    documents = published_documents(client)
    broken = {
        **documents,
        "intents.yaml": documents["intents.yaml"].replace("code: billing", "code: Billing!", 1),
    }
    saved = client.post(
        "/v1/admin/config", json={"documents": broken, "based_on": 1, "note": "x"}, headers=BEARER
    )
    assert saved.status_code == 201
    assert any(re.fullmatch(r"intents\.yaml:\d+", p["path"]) for p in saved.json["problems"])
    refused = client.post(
        f"/v1/admin/config/{saved.json['version']}/publish", json={"base_version": 1}, headers=BEARER
    )
    assert refused.status_code == 422 and refused.json["error"]["details"]

    changed = {**documents, "intents.yaml": documents["intents.yaml"] + "# reviewed\n"}
    a = client.post("/v1/admin/config", json={"documents": changed, "based_on": 1}, headers=BEARER).json[
        "version"
    ]
    b = client.post("/v1/admin/config", json={"documents": changed, "based_on": 1}, headers=BEARER).json[
        "version"
    ]
    assert (
        client.post(f"/v1/admin/config/{a}/publish", json={"base_version": 1}, headers=BEARER).status_code
        == 200
    )
    conflict = client.post(f"/v1/admin/config/{b}/publish", json={"base_version": 1}, headers=BEARER)
    assert conflict.status_code == 409
    assert conflict.json["error"]["current_version"] == a
    assert app.extensions["ctihub"].config_version == a  # this process applied it at once

    diff = client.get(f"/v1/admin/config/diff?a=1&b={a}", headers=BEARER).json["documents"]
    assert list(diff) == ["intents.yaml"] and "+# reviewed" in diff["intents.yaml"]

    back = client.post("/v1/admin/config/1/rollback", json={"base_version": a}, headers=BEARER)
    assert back.status_code == 201 and back.json["based_on"] == 1 and back.json["state"] == "published"
    actions = [e["action"] for e in client.get("/v1/admin/audit", headers=BEARER).json["entries"]]
    assert actions[:3] == ["rollback", "publish", "save-draft"]


def test_only_admins_and_session_writes_need_csrf(client):
    assert client.get("/v1/admin/config").status_code == 401
    client.post("/test/sign-in-as/agent")
    assert client.get("/v1/admin/config").status_code == 403
    client.post("/test/sign-in-as/admin")
    assert client.get("/v1/admin/config").status_code == 200
    assert client.post("/v1/admin/config", json={"documents": {}}).status_code == 403  # no CSRF header
    assert client.get("/v1/admin/openapi.json", headers=BEARER).json["openapi"] == "3.1.0"


def test_bad_bodies_are_named(client):
    assert client.post("/v1/admin/config", json={"documents": []}, headers=BEARER).status_code == 400
    no_base = client.post("/v1/admin/config/1/publish", json={}, headers=BEARER)
    assert no_base.status_code == 400 and "base_version" in no_base.json["error"]["message"]
    assert client.get("/v1/admin/config/diff?a=1", headers=BEARER).status_code == 400


def test_live_crm_check_places_each_finding_at_its_line(make_app):
    client = make_app(sandbox=True).test_client()
    documents = published_documents(client)
    text = documents["fields.zendesk.yaml"].replace("custom_fields.360000000001", "custom_fields.999", 1)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "custom_fields.999" in row)
    draft = client.post(
        "/v1/admin/config", json={"documents": {**documents, "fields.zendesk.yaml": text}}, headers=BEARER
    ).json["version"]
    report = client.get(f"/v1/admin/config/{draft}/crm-check", headers=BEARER).json
    assert report["crm"] == "zendesk" and not report["ok"]
    [error] = [f for f in report["findings"] if f["severity"] == "error"]
    assert error["path"] == f"fields.zendesk.yaml:{line}" and "999" in error["problem"] and error["hint"]
    assert client.get("/v1/admin/config/1/crm-check", headers=BEARER).json["errors"] == 0
