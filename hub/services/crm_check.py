"""``ctihub crm check``: the field mappings against the CRM's live schema, before they hurt.

The adapter describes the schema (``hub.ports.MetadataSource``: Salesforce describe JSON, Zendesk
``ticket_fields``); this module decides, from the mapping and the catalog alone, what every mapped
rule can write and whether the schema takes it:

Salesforce (per mapped object: the case and activity objects)
    the object exists; its External ID key field exists, is an External ID, is unique, createable;
    every mapped field exists, is createable (and updateable when it is written again: ``when:
    always`` case fields are updated by every event, a retried Task upsert updates the Task); the
    value fits the field's type; every value a rule can write to a picklist (value_map targets,
    constants, catalog values such as each disposition's value) is an active picklist value (an
    error on a restricted picklist, a warning on an open one); values and ``truncate`` fit the
    field's length; the fields the adapter itself writes (WhatId, WhoId, ContactId, Subject,
    Description) exist.
Zendesk
    ``custom_fields.<id>`` names a ticket field that exists and is active; every value a rule can
    write to a drop-down is one of its options (Zendesk drops other values without an error);
    checkbox/number/date fields get values of their type; other names are ticket properties (or
    comment properties on the activity) Zendesk knows, with valid priority/status/type values; tags
    are valid tags, and a tag that is a drop-down option (it sets that drop-down) is flagged.

Every finding names where (``Case.Origin``), what is wrong, and how to fix it. ``render`` prints one
line per finding and a summary; errors make ``ctihub crm check`` exit 1.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.domain.catalog import Catalog
from hub.domain.mapping import TRANSFORMS, CrmMapping, FieldRule, ObjectMapping
from hub.domain.outcome import CHANNELS, OUTCOMES
from hub.ports import CrmMetadata

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    severity: str  # ERROR or WARNING
    where: str  # "Case.Origin", "custom_fields.360000000001", "tags"
    problem: str
    hint: str
    rule: str = ""  # "case.fields[1]" in fields.<crm>.yaml

    def as_dict(self) -> dict[str, str]:
        return {
            "severity": self.severity,
            "where": self.where,
            "problem": self.problem,
            "hint": self.hint,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class CheckReport:
    crm: str
    findings: tuple[Finding, ...]
    checked: int  # mapped fields checked

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "crm": self.crm,
            "ok": self.ok,
            "checked": self.checked,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "findings": [f.as_dict() for f in self.findings],
        }


def check_mapping(mapping: CrmMapping, catalog: Catalog, metadata: CrmMetadata) -> CheckReport:
    """Every problem of ``mapping`` against the live schema in ``metadata``."""
    if metadata.crm == "salesforce":
        return _Salesforce(mapping, catalog, metadata).report()
    if metadata.crm == "zendesk":
        return _Zendesk(mapping, catalog, metadata).report()
    raise ValueError(f"no schema checks for CRM {metadata.crm!r}")


def render(report: CheckReport, *, where: str = "") -> list[str]:
    """The readable report: one line per finding with its fix, then a summary line."""
    lines = [f"ctihub crm check: {report.crm}{f' ({where})' if where else ''}"]
    for finding in sorted(report.findings, key=lambda f: (f.severity != ERROR, f.where)):
        rule = f" [fields.{report.crm}.yaml {finding.rule}]" if finding.rule else ""
        lines.append(
            f"  {finding.severity.upper():7} {finding.where}{rule}: {finding.problem} -> fix: {finding.hint}"
        )
    errors, warnings = len(report.errors), len(report.warnings)
    verdict = (
        "OK, the mappings fit the live schema" if report.ok else "the mappings do NOT fit the live schema"
    )
    lines.append(
        f"{report.checked} mapped fields checked: {errors} error{'s' * (errors != 1)}, "
        f"{warnings} warning{'s' * (warnings != 1)}; {verdict}"
    )
    return lines


# -- what a rule can write ------------------------------------------------------------------------------

TEXT, DATETIME, DATE, NUMBER, BOOLEAN, LIST, ANY = (
    "text",
    "datetime",
    "date",
    "number",
    "boolean",
    "list",
    "any",
)
SOURCE_KINDS = {
    "event.occurred_at": DATETIME,
    "episode.opened_at": DATETIME,
    "event.attempts": NUMBER,
    "disposition.tags": LIST,
}
# Sources whose values are known without the catalog (the outcome contract's enums).
SOURCE_VALUES: Mapping[str, tuple[str, ...]] = {
    "event.channel": CHANNELS,
    "event.outcome": OUTCOMES,
    "event.direction": ("inbound", "outbound"),
    "event.priority": ("low", "normal", "high", "urgent"),
    "event.sentiment": ("negative", "neutral", "positive"),
    "disposition.outcome_class": OUTCOMES,
}


@dataclass(frozen=True)
class Writes:
    """What one rule can write: the kind of value, and every value when they are known."""

    kind: str
    values: frozenset[str] | None = None  # None: free text (unknown in advance)
    origin: str = ""  # where the values come from, for messages ("dispositions.yaml", "value_map")


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, list | tuple):
        return LIST
    return TEXT


def _catalog_values(source: str, catalog: Catalog, crm: str) -> tuple[list[Any], str] | None:
    dispositions = list(catalog.dispositions.values())
    intents = list(catalog.intents.values())
    if source == "disposition.value":
        return [d.crm_values[crm] for d in dispositions if d.crm_values.get(crm)], "dispositions.yaml"
    if source == "disposition.code":
        return [d.code for d in dispositions], "dispositions.yaml"
    if source == "disposition.label":
        return [d.label for d in dispositions], "dispositions.yaml"
    if source == "disposition.tags":
        return [list(d.crm_tags.get(crm, ())) for d in dispositions], "dispositions.yaml"
    if source == "intent.code":
        return [i.code for i in intents], "intents.yaml"
    if source == "intent.label":
        return [i.label for i in intents], "intents.yaml"
    if source == "intent.family":
        return [i.family for i in intents], "intents.yaml"
    if source in SOURCE_VALUES:
        return list(SOURCE_VALUES[source]), "the outcome contract"
    return None


def writes(rule: FieldRule, catalog: Catalog, crm: str) -> Writes:
    """What ``rule`` can write, as far as the mapping and the catalog say."""
    options = rule.options
    if rule.transform == "constant":
        value = options.get("value")
        return Writes(_kind_of(value), _flatten([value]), "constant")
    if rule.transform == "value_map":
        produced = list(options.get("values", {}).values())
        if options.get("default") is not None:
            produced.append(options["default"])
        kinds = {_kind_of(v) for v in produced} or {TEXT}
        return Writes(kinds.pop() if len(kinds) == 1 else ANY, _flatten(produced), "value_map")
    if rule.transform == "date":
        return Writes(DATE)
    if rule.transform == "iso8601":
        return Writes(DATETIME)
    source = rule.source or ""
    found = _catalog_values(source, catalog, crm)
    source_kind = SOURCE_KINDS.get(source, ANY if source.startswith("metadata.") else TEXT)
    if rule.transform == "join":
        source_kind = TEXT
    elif rule.transform in ("lowercase", "uppercase", "truncate"):
        source_kind = TEXT if source_kind != LIST else LIST
    if found is None:
        return Writes(source_kind)
    raw, origin = found
    transform = TRANSFORMS[rule.transform]
    produced: list[Any] = []
    for value in raw:
        try:
            produced.append(transform(value, options))
        except (KeyError, TypeError, ValueError):  # a malformed option: the loader reports it
            return Writes(source_kind)
    return Writes(source_kind, _flatten(produced), origin)


def _flatten(values: Iterable[Any]) -> frozenset[str]:
    out: set[str] = set()
    for value in values:
        if isinstance(value, list | tuple):
            out |= {str(v) for v in value if v is not None}
        elif value is not None:
            out.add(str(value) if not isinstance(value, bool) else str(value).lower())
    return frozenset(out)


def _listed(values: Iterable[str], limit: int = 8) -> str:
    items = sorted(values)
    shown = ", ".join(repr(v) for v in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _rules(mapping: CrmMapping) -> Iterator[tuple[str, ObjectMapping, int, FieldRule]]:
    for part in ("case", "activity"):
        obj: ObjectMapping = getattr(mapping, part)
        for index, rule in enumerate(obj.rules):
            yield part, obj, index, rule


@dataclass
class _Checker:
    mapping: CrmMapping
    catalog: Catalog
    metadata: CrmMetadata
    findings: list[Finding] = field(default_factory=list)
    checked: int = 0

    def add(self, severity: str, where: str, problem: str, hint: str, rule: str = "") -> None:
        finding = Finding(severity, where, problem, hint, rule)
        if finding not in self.findings:
            self.findings.append(finding)

    def report(self) -> CheckReport:
        self.run()
        return CheckReport(self.mapping.crm, tuple(self.findings), self.checked)

    def run(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


# -- Salesforce -------------------------------------------------------------------------------------------

STRING_TYPES = frozenset(
    {
        "string",
        "textarea",
        "picklist",
        "multipicklist",
        "combobox",
        "email",
        "phone",
        "url",
        "encryptedstring",
    }
)
ID_TYPES = frozenset({"reference", "id"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent", "long"})
# The kinds a Salesforce field type takes (a text kind fits every string-like type).
ACCEPTS: Mapping[str, frozenset[str]] = {
    **{t: frozenset({TEXT, DATETIME, DATE, NUMBER, ANY}) for t in STRING_TYPES},
    **{t: frozenset({TEXT, ANY}) for t in ID_TYPES},
    **{t: frozenset({NUMBER, ANY}) for t in NUMBER_TYPES},
    "boolean": frozenset({BOOLEAN, ANY}),
    "date": frozenset({DATE, ANY}),
    "datetime": frozenset({DATETIME, DATE, ANY}),
    "time": frozenset({TEXT, ANY}),
}
KIND_HINTS = {
    "date": "use transform: date (a date field takes YYYY-MM-DD)",
    "datetime": "use transform: iso8601 on a date-time source",
    "boolean": "write true/false (transform: constant or value_map to booleans)",
}


class _Salesforce(_Checker):
    def run(self) -> None:
        case, activity = self.mapping.case, self.mapping.activity
        fields_of: dict[str, dict[str, Mapping[str, Any]] | None] = {}
        for part, obj in (("case", case), ("activity", activity)):
            describe = self.metadata.objects.get(obj.object)
            if describe is None:
                self.add(
                    ERROR,
                    obj.object,
                    f"the {part} object {obj.object!r} does not exist or the integration user cannot see it",
                    f"fix `{part}.object` in fields.salesforce.yaml, or give the user access to {obj.object}",
                    f"{part}.object",
                )
                fields_of[obj.object] = None
                continue
            fields_of[obj.object] = {str(f.get("name")): f for f in describe.get("fields") or ()}
            self._key_field(part, obj, fields_of[obj.object] or {})
        for part, obj, index, rule in _rules(self.mapping):
            fields = fields_of.get(obj.object)
            if fields is None:
                continue
            self.checked += 1
            self._rule(part, obj, index, rule, fields)
        self._adapter_fields(case.object, activity.object, fields_of)

    def _key_field(self, part: str, obj: ObjectMapping, fields: Mapping[str, Mapping[str, Any]]) -> None:
        key = obj.key_field or ("CTI_Hub_Key__c" if part == "case" else "CTI_Hub_Event_Key__c")
        where = f"{obj.object}.{key}"
        found = fields.get(key)
        if found is None:
            self.add(
                ERROR,
                where,
                "the External ID key field does not exist",
                f"create {key} on {obj.object} (Text, External ID, Unique) or fix `{part}.key_field`",
                f"{part}.key_field",
            )
            return
        if not found.get("externalId"):
            self.add(
                ERROR,
                where,
                "the key field is not an External ID: upserts by it fail",
                f"tick 'External ID' on {obj.object}.{key} in Setup > Object Manager",
                f"{part}.key_field",
            )
        if not found.get("unique"):
            self.add(
                ERROR,
                where,
                "the key field is not unique: two records can share a key, and upserts answer 300",
                f"tick 'Unique' on {obj.object}.{key} in Setup > Object Manager",
                f"{part}.key_field",
            )
        if not found.get("createable"):
            self.add(
                ERROR,
                where,
                "the key field is not createable by the integration user: an upsert cannot create",
                f"give the user edit access to {obj.object}.{key} (field-level security)",
                f"{part}.key_field",
            )

    def _rule(
        self,
        part: str,
        obj: ObjectMapping,
        index: int,
        rule: FieldRule,
        fields: Mapping[str, Mapping[str, Any]],
    ) -> None:
        where, at = f"{obj.object}.{rule.target}", f"{part}.fields[{index}]"
        found = fields.get(rule.target)
        if found is None:
            close = difflib.get_close_matches(rule.target, list(fields), n=1)
            self.add(
                ERROR,
                where,
                f"no field {rule.target!r} on {obj.object}",
                f"did you mean {close[0]!r}? fix `target`"
                if close
                else f"create the field on {obj.object}, or fix `target`",
                at,
            )
            return
        if found.get("deprecatedAndHidden"):
            self.add(WARNING, where, "the field is deprecated and hidden", "map another field", at)
        if not found.get("createable"):
            self.add(
                ERROR,
                where,
                "the field is not createable (read-only, formula, or hidden from the integration user)",
                "map a writable field, or grant edit access in field-level security",
                at,
            )
        updated = (part == "case" and rule.when == "always") or part == "activity"
        if updated and found.get("createable") and not found.get("updateable"):
            severity = ERROR if part == "case" else WARNING
            why = (
                "every later event updates it"
                if part == "case"
                else "a retried Task upsert that finds the Task updates it"
            )
            self.add(
                severity,
                where,
                f"the field cannot be updated, and {why}",
                "add `when: create` to the rule" if part == "case" else "map a field that can be updated",
                at,
            )
        self._value(where, at, rule, found)

    def _value(self, where: str, at: str, rule: FieldRule, found: Mapping[str, Any]) -> None:
        written = writes(rule, self.catalog, "salesforce")
        field_type = str(found.get("type") or "")
        accepted = ACCEPTS.get(field_type)
        if written.kind == LIST and field_type != "multipicklist":
            self.add(
                ERROR,
                where,
                "the rule writes a list",
                "use transform: join, or map a multi-select picklist",
                at,
            )
            return
        if accepted is not None and written.kind not in accepted and written.kind != LIST:
            self.add(
                ERROR,
                where,
                f"a {written.kind} value does not fit a {field_type} field",
                KIND_HINTS.get(field_type, f"map a {written.kind} field or change the transform"),
                at,
            )
            return
        if field_type in ("picklist", "multipicklist"):
            self._picklist(where, at, written, found)
        length = int(found.get("length") or 0)
        if field_type in STRING_TYPES and length:
            if rule.transform == "truncate" and int(rule.options.get("max_length", 0)) > length:
                self.add(
                    ERROR,
                    where,
                    f"truncate keeps {rule.options['max_length']} characters but the field holds {length}",
                    f"set max_length: {length}",
                    at,
                )
            too_long = sorted(v for v in written.values or () if len(v) > length)
            if too_long:
                self.add(
                    ERROR,
                    where,
                    f"{_listed(too_long, 3)} {'is' if len(too_long) == 1 else 'are'} longer than the field's "
                    f"{length} characters (STRING_TOO_LONG)",
                    f"shorten the value in {written.origin or 'the mapping'}, or make the field longer",
                    at,
                )

    def _picklist(self, where: str, at: str, written: Writes, found: Mapping[str, Any]) -> None:
        allowed = {str(v.get("value")) for v in found.get("picklistValues") or () if v.get("active", True)}
        restricted = bool(found.get("restrictedPicklist"))
        label = f"{found.get('label') or where}"
        if written.values is None:
            if restricted:
                self.add(
                    WARNING,
                    where,
                    "free text goes to a restricted picklist: any value not listed is rejected",
                    "use transform: value_map onto the picklist's values",
                    at,
                )
            return
        missing = sorted(written.values - allowed)
        if not missing:
            return
        origin = f" (from {written.origin})" if written.origin else ""
        self.add(
            ERROR if restricted else WARNING,
            where,
            f"{_listed(missing)}{origin} {'is' if len(missing) == 1 else 'are'} not "
            f"{'a value' if len(missing) == 1 else 'values'} of the "
            f"{'restricted ' if restricted else ''}picklist (it has {_listed(allowed)})"
            + ("" if restricted else "; Salesforce stores it as an inactive value"),
            f"add {'it' if len(missing) == 1 else 'them'} to {label} in Setup > Object Manager > "
            f"{where.split('.')[0]} > Fields, or change {written.origin or 'the mapping'}",
            at,
        )

    def _adapter_fields(
        self,
        case_object: str,
        activity_object: str,
        fields_of: Mapping[str, dict[str, Mapping[str, Any]] | None],
    ) -> None:
        """The fields the adapter writes itself, whatever the mapping says."""
        activity = fields_of.get(activity_object)
        case = fields_of.get(case_object)
        if activity is not None:
            what = activity.get("WhatId")
            if what is None:
                self.add(
                    ERROR,
                    f"{activity_object}.WhatId",
                    "the adapter links each activity to its case through WhatId, which does not exist",
                    "map an activity object with a WhatId (Task, Event)",
                )
            elif case_object not in (what.get("referenceTo") or [case_object]):
                self.add(
                    ERROR,
                    f"{activity_object}.WhatId",
                    f"WhatId cannot point at a {case_object}",
                    f"map a case object that {activity_object}.WhatId accepts",
                )
            for name in ("WhoId", "Subject", "Description"):
                if name not in activity:
                    self.add(
                        WARNING,
                        f"{activity_object}.{name}",
                        f"the adapter fills {name} when the mapping does not, and it does not exist",
                        f"map {name} to an existing field, or use an object that has it",
                    )
        if case is not None and "ContactId" not in case:
            self.add(
                WARNING,
                f"{case_object}.ContactId",
                "the adapter links known contacts through ContactId, which does not exist",
                "use an object with ContactId, or expect cases without their contact",
            )


# -- Zendesk ------------------------------------------------------------------------------------------------

# Writable ticket properties (Zendesk Support OAS, TicketObject) beside custom_fields and tags.
TICKET_PROPERTIES = frozenset(
    {
        "subject",
        "raw_subject",
        "description",
        "priority",
        "status",
        "type",
        "due_at",
        "group_id",
        "assignee_id",
        "assignee_email",
        "requester_id",
        "submitter_id",
        "organization_id",
        "brand_id",
        "ticket_form_id",
        "problem_id",
        "collaborator_ids",
        "email_cc_ids",
        "follower_ids",
        "custom_status_id",
        "recipient",
        "external_id",
        "via_followup_source_id",
        "safe_update",
        "updated_stamp",
        "macro_ids",
        "attribute_value_ids",
        "sharing_agreement_ids",
    }
)
# Properties of the comment (TicketCommentObject) the activity mapping may name.
COMMENT_PROPERTIES = frozenset({"body", "html_body", "public", "author_id", "uploads"})
# System ticket fields whose options bound a ticket property.
SYSTEM_ENUMS = {"priority": "priority", "status": "status", "type": "tickettype"}
DEFAULT_ENUMS = {
    "priority": {"low", "normal", "high", "urgent"},
    "status": {"new", "open", "pending", "hold", "solved", "closed"},
    "type": {"problem", "incident", "question", "task"},
}
DROPDOWN_TYPES = frozenset({"tagger", "multiselect"})
FIELD_KINDS = {
    "checkbox": frozenset({BOOLEAN, ANY}),
    "integer": frozenset({NUMBER, ANY}),
    "decimal": frozenset({NUMBER, ANY}),
    "date": frozenset({DATE, ANY}),
}
TAG = re.compile(r"^[^\s,]+$")
FIELDS_PAGE = "Admin Center > Objects and rules > Tickets > Fields"


class _Zendesk(_Checker):
    by_id: dict[int, Mapping[str, Any]]
    system: dict[str, Mapping[str, Any]]
    options: dict[int, set[str]]
    disposition_field: int | None

    def run(self) -> None:
        fields = [f for f in self.metadata.ticket_fields if isinstance(f, Mapping)]
        self.by_id = {int(f["id"]): f for f in fields if str(f.get("id", "")).isdigit()}
        self.system = {str(f.get("type")): f for f in fields if f.get("removable") is False}
        self.options = {
            fid: {str(o.get("value")) for o in f.get("custom_field_options") or ()}
            for fid, f in self.by_id.items()
            if f.get("type") in DROPDOWN_TYPES
        }
        self.disposition_field = self._disposition_field()
        for part, _obj, index, rule in _rules(self.mapping):
            self.checked += 1
            self._rule(part, index, rule)

    def _disposition_field(self) -> int | None:
        for _part, _obj, _index, rule in _rules(self.mapping):
            name = rule.target.removeprefix("custom_fields.")
            if (
                rule.source == "disposition.value"
                and rule.target.startswith("custom_fields.")
                and name.isdigit()
            ):
                return int(name)
        return None

    def _rule(self, part: str, index: int, rule: FieldRule) -> None:
        at, target = f"{part}.fields[{index}]", rule.target
        written = writes(rule, self.catalog, "zendesk")
        if target.startswith("custom_fields."):
            self._custom_field(at, target, written)
        elif target in ("tags", "additional_tags"):
            self._tags(at, rule, written)
        elif target.startswith("comment.") or (part == "activity" and target in COMMENT_PROPERTIES):
            name = target.removeprefix("comment.")
            if name not in COMMENT_PROPERTIES:
                self.add(
                    ERROR,
                    target,
                    f"{name!r} is not a comment property",
                    f"use one of {', '.join(sorted(COMMENT_PROPERTIES))}",
                    at,
                )
            elif name == "public" and "true" in (written.values or ()):
                self.add(
                    WARNING,
                    target,
                    "the adapter always writes private notes (public: false)",
                    "drop the rule: public comments would stop SLA clocks and email the customer",
                    at,
                )
        elif target in TICKET_PROPERTIES:
            self._property(at, target, written)
        else:
            close = difflib.get_close_matches(target, sorted(TICKET_PROPERTIES | {"tags"}), n=1)
            comment = part == "activity"
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else "write custom_fields.<field id> for a custom field"
            )
            if comment:
                hint += f" (the comment's own properties: {', '.join(sorted(COMMENT_PROPERTIES))})"
            self.add(
                ERROR,
                target,
                f"{target!r} is not a ticket property{' or a comment property' if comment else ''}: "
                "Zendesk ignores it",
                hint,
                at,
            )

    def _custom_field(self, at: str, target: str, written: Writes) -> None:
        name = target.removeprefix("custom_fields.")
        if not name.isdigit():
            self.add(
                ERROR,
                target,
                "a custom field is named by its numeric id",
                f"write custom_fields.<id>; the ids are in {FIELDS_PAGE}",
                at,
            )
            return
        found = self.by_id.get(int(name))
        if found is None:
            self.add(
                ERROR,
                target,
                f"no ticket field {name}: Zendesk drops its values without an error",
                f"create the field in {FIELDS_PAGE}, or fix the id",
                at,
            )
            return
        where = f"{target} ({found.get('title')})"
        if found.get("active") is False:
            self.add(
                ERROR,
                where,
                "the field is inactive: Zendesk drops its values",
                f"activate it in {FIELDS_PAGE}",
                at,
            )
        field_type = str(found.get("type") or "")
        if field_type in DROPDOWN_TYPES:
            options = self.options.get(int(name), set())
            if written.values is None:
                self.add(
                    WARNING,
                    where,
                    "free text goes to a drop-down: any value that is not an option is dropped",
                    "use transform: value_map onto the option values",
                    at,
                )
                return
            missing = sorted(written.values - options)
            if missing:
                origin = f" (from {written.origin})" if written.origin else ""
                self.add(
                    ERROR,
                    where,
                    f"{_listed(missing)}{origin} {'is' if len(missing) == 1 else 'are'} not "
                    f"{'an option' if len(missing) == 1 else 'options'} of the drop-down; Zendesk drops "
                    "such values without an error",
                    f"add {'it' if len(missing) == 1 else 'them'} as option value{'s' * (len(missing) != 1)} "
                    f"of '{found.get('title')}' in {FIELDS_PAGE}, "
                    f"or change {written.origin or 'the mapping'}",
                    at,
                )
            return
        accepted = FIELD_KINDS.get(field_type)
        if accepted is not None and written.kind not in accepted:
            self.add(
                ERROR,
                where,
                f"a {written.kind} value does not fit a {field_type} field",
                "use transform: date" if field_type == "date" else f"map a {written.kind} field",
                at,
            )
        pattern = found.get("regexp_for_validation")
        if field_type == "regexp" and pattern and written.values:
            bad = sorted(v for v in written.values if not re.fullmatch(str(pattern), v))
            if bad:
                self.add(
                    ERROR,
                    where,
                    f"{_listed(bad, 3)} do not match the field's pattern {pattern}",
                    "change the values or the pattern",
                    at,
                )

    def _property(self, at: str, target: str, written: Writes) -> None:
        if target == "external_id":
            self.add(
                WARNING,
                target,
                "the adapter sets external_id to the episode key; the mapped value is overwritten",
                "drop the rule",
                at,
            )
            return
        if target not in SYSTEM_ENUMS or written.values is None:
            return
        system = self.system.get(SYSTEM_ENUMS[target]) or {}
        allowed = {str(o.get("value")) for o in system.get("system_field_options") or ()} or DEFAULT_ENUMS[
            target
        ]
        missing = sorted(written.values - allowed)
        if missing:
            self.add(
                ERROR,
                target,
                f"{_listed(missing)} {'is' if len(missing) == 1 else 'are'} not a valid {target} "
                f"(the account has {_listed(allowed)})",
                f"map onto {', '.join(sorted(allowed))}",
                at,
            )

    def _tags(self, at: str, rule: FieldRule, written: Writes) -> None:
        if written.values is None:
            return
        bad = sorted(v for v in written.values if not TAG.fullmatch(v))
        if bad:
            self.add(
                ERROR,
                "tags",
                f"{_listed(bad, 3)} {'is' if len(bad) == 1 else 'are'} not a valid tag "
                "(a space or comma splits it into several)",
                "use transform: slug, or write the tag with underscores",
                at,
            )
        upper = sorted(v for v in written.values if v != v.lower())
        if upper:
            self.add(
                WARNING,
                "tags",
                f"{_listed(upper, 3)}: Zendesk lowercases tags",
                "write tags in lowercase",
                at,
            )
        for tag in sorted(written.values):
            for fid, options in self.options.items():
                if tag not in options or self._same_disposition(rule, fid, tag):
                    continue
                title = self.by_id[fid].get("title")
                self.add(
                    WARNING,
                    "tags",
                    f"tag {tag!r} is an option of the drop-down '{title}' (custom_fields.{fid}): "
                    "adding it sets that drop-down",
                    "rename the tag, or let the drop-down rule write that value",
                    at,
                )

    def _same_disposition(self, rule: FieldRule, field_id: int, tag: str) -> bool:
        """A disposition's own tag that equals its own drop-down value changes nothing."""
        if rule.source != "disposition.tags" or field_id != self.disposition_field:
            return False
        transform = TRANSFORMS[rule.transform]
        for disposition in self.catalog.dispositions.values():
            tags = transform(list(disposition.crm_tags.get("zendesk", ())), rule.options) or []
            if tag in tags and disposition.crm_values.get("zendesk") != tag:
                return False
        return True
