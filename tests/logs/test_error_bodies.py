"""A caller never reads another system's error text: it may echo a phone number or an email."""

from __future__ import annotations

from flask import Flask

from hub.domain.errors import CrmRecordRejected
from hub.web import errors


def test_a_crm_failure_answers_with_its_origin_not_its_message(no_personal_data_in_logs):
    app = Flask(__name__)
    errors.register(app)

    @app.get("/boom")
    def boom():
        raise CrmRecordRejected(
            "Email: ada@example.com is already taken by +14155550166",
            crm="zendesk",
            crm_code="RecordInvalid",
            status=422,
        )

    response = app.test_client().get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 502
    assert (
        response.json["error"]["message"] == "zendesk 422 RecordInvalid failed; details are in the hub's log"
    )
    assert "ada@" not in body and "4155550166" not in body
    logged = [text for text in no_personal_data_in_logs.texts if "request failed" in text]
    assert logged and "[email]" in logged[0] and "[phone]" in logged[0]
