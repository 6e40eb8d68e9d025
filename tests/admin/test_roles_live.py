"""A published roles.yaml applies to the next sign-in within 10 s, without a restart (the web process's
ConfigWatcher, its throttle driven by an injected clock: no sleeps)."""

from __future__ import annotations

from hub.live_config import config_versions, poll_seconds
from hub.services.config_versions import Actor
from tests.web.signin_helpers import autosubmit_form

ADMIN = Actor("zendesk:user:9003", "Ada Admin")
APPLY_WITHIN_SECONDS = 10.0


class Ticks:
    """The watcher's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sign_in_as_zendesk_agent(app):
    """A new browser session through the sandbox's no-click Zendesk sign-in: an app token signed by
    the sandbox, POSTed to /signin/zendesk and verified by the production code."""
    client = app.test_client()
    page = client.get("/signin/sandbox?crm=zendesk&role=agent&next=/admin").get_data(as_text=True)
    action, fields = autosubmit_form(page)
    answer = client.post(action, data=fields)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return client


def test_a_published_roles_change_applies_to_the_next_sign_in(make_app):
    app = make_app(sandbox=True)
    hub = app.extensions["ctihub"]
    ticks = Ticks()
    hub.config_watcher.monotonic = ticks

    client = sign_in_as_zendesk_agent(app)  # a Zendesk agent: the hub's agent role only
    assert client.get("/admin", headers={"Accept": "text/html"}).status_code == 403

    versions = config_versions(hub.settings, hub.engine, hub.clock)
    documents = dict(versions.get(1).documents)
    promoted = documents["roles.yaml"].replace("agent: [agent]", "agent: [agent, admin]", 1)
    assert promoted != documents["roles.yaml"]
    draft, problems = versions.save_draft({**documents, "roles.yaml": promoted}, actor=ADMIN, based_on=1)
    assert problems == []
    versions.publish(draft, base_version=1, actor=ADMIN)  # as another process (or machine) would

    ticks.now += 1  # not checked yet: the running rules still apply
    client = sign_in_as_zendesk_agent(app)
    assert client.get("/admin", headers={"Accept": "text/html"}).status_code == 403

    ticks.now += poll_seconds(hub.settings)  # the web process's next check
    assert ticks.now - 1000.0 <= APPLY_WITHIN_SECONDS
    client = sign_in_as_zendesk_agent(app)
    assert hub.config_version == draft
    assert client.get("/admin", headers={"Accept": "text/html"}).status_code == 200

    versions.rollback(1, actor=ADMIN)  # and back: the next sign-in is an agent again
    ticks.now += poll_seconds(hub.settings)
    client = sign_in_as_zendesk_agent(app)
    assert client.get("/admin", headers={"Accept": "text/html"}).status_code == 403
