"""Configuration versions on both databases: seed, drafts, validation, publish, conflict, rollback."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine

from hub.services import config_docs
from hub.services.config_versions import Actor, ConfigConflict, ConfigInvalid, ConfigVersions
from tests.conftest import MAPPINGS

ALICE = Actor("zendesk:user:1", "Alice")
BOB = Actor("zendesk:user:2", "Bob")
BROKEN_LINE = "      transform: shout\n"


def seeded(engine: Engine, clock) -> tuple[ConfigVersions, dict[str, str]]:
    versions = ConfigVersions(engine, clock, secrets=["s3cret-webhook-value"])
    documents = config_docs.read_directory(MAPPINGS)
    assert versions.seed(documents) == 1
    return versions, documents


def with_change(documents: dict[str, str], old: str, new: str, name: str = "fields.zendesk.yaml") -> dict:
    assert old in documents[name]
    return {**documents, name: documents[name].replace(old, new, 1)}


def test_files_seed_version_one_once(engine, clock):
    versions, documents = seeded(engine, clock)
    assert versions.seed(documents) is None  # a second process starting finds it seeded
    published = versions.published()
    assert published is not None and published.id == 1 and dict(published.documents) == documents
    assert [entry["action"] for entry in versions.audit_log()] == ["seed"]


def test_an_invalid_draft_is_saved_but_never_published(engine, clock):
    versions, documents = seeded(engine, clock)
    text = documents["fields.zendesk.yaml"]
    broken = {**documents, "fields.zendesk.yaml": text.replace("transform: slug}", "transform: shout}", 1)}
    assert broken != documents
    draft, problems = versions.save_draft(broken, actor=ALICE, based_on=1, note="try")
    assert draft == 2 and problems
    line = next(n for n, text in enumerate(broken["fields.zendesk.yaml"].splitlines(), 1) if "shout" in text)
    assert any(p.path == f"fields.zendesk.yaml:{line}" for p in problems), problems
    with pytest.raises(ConfigInvalid) as caught:
        versions.publish(draft, base_version=1, actor=ALICE)
    assert caught.value.problems == problems
    assert versions.published().id == 1


def test_publish_then_a_stale_publish_conflicts_naming_the_current_version(engine, clock):
    versions, documents = seeded(engine, clock)
    mine, _ = versions.save_draft(
        {**documents, "intents.yaml": documents["intents.yaml"] + "\n# a\n"}, actor=ALICE, based_on=1
    )
    theirs, _ = versions.save_draft(
        {**documents, "intents.yaml": documents["intents.yaml"] + "\n# b\n"}, actor=BOB, based_on=1
    )
    assert versions.publish(theirs, base_version=1, actor=BOB).state == "published"
    with pytest.raises(ConfigConflict) as caught:
        versions.publish(mine, base_version=1, actor=ALICE)
    assert caught.value.details["current_version"] == theirs
    assert f"rebase on version {theirs}" in caught.value.message
    assert versions.get(mine).state == "draft" and versions.get(1).state == "superseded"
    audit = versions.audit_log()
    assert audit[0]["action"] == "publish" and audit[0]["actor"] == BOB.subject
    assert "changed intents.yaml (+2 -0)" in audit[0]["summary"]


@pytest.mark.postgres
def test_two_concurrent_publishes_on_postgresql_exactly_one_wins(postgres_engine, clock):
    from tests.conftest import _truncate

    _truncate(postgres_engine)
    versions, documents = seeded(postgres_engine, clock)
    drafts = [
        versions.save_draft(
            {**documents, "intents.yaml": documents["intents.yaml"] + f"\n# {n}\n"}, actor=ALICE, based_on=1
        )[0]
        for n in range(2)
    ]
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def publish(draft: int) -> None:
        start.wait()
        try:
            outcomes.append(versions.publish(draft, base_version=1, actor=ALICE).id)
        except ConfigConflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=publish, args=(d,)) for d in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if isinstance(o, int)]
    conflicts = [o for o in outcomes if isinstance(o, ConfigConflict)]
    assert len(winners) == 1 and len(conflicts) == 1
    assert conflicts[0].details["current_version"] == winners[0] == versions.published().id
    _truncate(postgres_engine)


def test_rollback_publishes_the_earlier_content_as_a_new_version(engine, clock):
    versions, documents = seeded(engine, clock)
    changed = {**documents, "intents.yaml": documents["intents.yaml"] + "\n# changed\n"}
    draft, _ = versions.save_draft(changed, actor=ALICE, based_on=1)
    versions.publish(draft, base_version=1, actor=ALICE)
    back = versions.rollback(1, actor=BOB)
    assert back.id == 3 and back.state == "published" and back.based_on == 1
    assert dict(back.documents) == documents
    assert versions.get(draft).state == "superseded"
    with pytest.raises(ConfigConflict):  # a rollback based on a stale version conflicts too
        versions.rollback(1, actor=BOB, base_version=draft)
    assert versions.audit_log()[0]["action"] == "rollback"
    assert "to version 1" in versions.audit_log()[0]["summary"]


def test_limits_and_credentials_are_refused_even_as_drafts(engine, clock):
    versions, documents = seeded(engine, clock)
    big = {**documents, "intents.yaml": "# " + "x" * (1024 * 1024) + "\n"}
    with pytest.raises(ConfigInvalid) as caught:
        versions.save_draft(big, actor=ALICE)
    assert "limit is 1048576" in caught.value.problems[0].message
    many = {**documents, "intents.yaml": "intents:\n" + "".join(f"  - code: c{n}\n" for n in range(10_001))}
    with pytest.raises(ConfigInvalid) as caught:
        versions.save_draft(many, actor=ALICE)
    assert "more than 10000 entries" in caught.value.problems[0].message
    leaked = {**documents, "sla.yaml": documents["sla.yaml"] + "# s3cret-webhook-value\n"}
    with pytest.raises(ConfigInvalid) as caught:
        versions.save_draft(leaked, actor=ALICE)
    problem = caught.value.problems[0]
    assert problem.path.startswith("sla.yaml:") and "s3cret" not in problem.message
    keyed = {**documents, "roles.yaml": documents["roles.yaml"] + "api_token: abc\n"}
    with pytest.raises(ConfigInvalid, match="cannot be stored"):
        versions.save_draft(keyed, actor=ALICE)
    with pytest.raises(ConfigInvalid):
        versions.save_draft({"notes.yaml": "a: 1\n"}, actor=ALICE)
    assert len(versions.versions()) == 1  # nothing half-written


def test_diff_names_each_changed_document(engine, clock):
    versions, documents = seeded(engine, clock)
    draft, _ = versions.save_draft(
        with_change(documents, "transform: slug}", "transform: slug}  # same"), actor=ALICE, based_on=1
    )
    diff = versions.diff(1, draft)
    assert list(diff) == ["fields.zendesk.yaml"]
    assert diff["fields.zendesk.yaml"].startswith("--- v1/fields.zendesk.yaml\n+++ v2/fields.zendesk.yaml\n")


def test_broken_files_are_never_seeded(sqlite_engine, clock, tmp_path):
    """A first start on broken files fails as before (problems with the files' paths), and seeds nothing."""
    import shutil

    from hub.domain.errors import ConfigError
    from hub.live_config import published_settings
    from tests.web.conftest import web_settings

    directory = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, directory)
    (directory / "intents.yaml").write_text("intents: 7\n")
    settings = web_settings()
    settings = type(settings)(**{**settings.__dict__, "mappings_dir": directory})
    assert published_settings(settings, sqlite_engine, clock) == (settings, None)
    with pytest.raises(ConfigError) as caught:
        from hub.bootstrap import build_hub

        build_hub(settings, clock=clock, engine=sqlite_engine)
    assert any(str(directory / "intents.yaml") in p.path for p in caught.value.problems)
    assert ConfigVersions(sqlite_engine, clock).versions() == []


def test_config_store_files_keeps_the_directory_as_the_configuration(sqlite_engine, clock):
    from hub.bootstrap import build_hub
    from tests.fakes import FakeCRM
    from tests.web.conftest import web_settings

    settings = web_settings(env={"CONFIG_STORE": "files"})
    hub = build_hub(settings, clock=clock, crm=FakeCRM(), engine=sqlite_engine)
    assert hub.config_version is None and hub.config_watcher is None
    assert hub.settings.mappings_dir == MAPPINGS
    assert ConfigVersions(sqlite_engine, clock).versions() == []
