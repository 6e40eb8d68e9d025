"""Read the admin files under ``mappings/``, check them, and build the domain objects.

Files (others, such as ``deflection.yaml``, are read by their own loaders and ignored here):

    intents.yaml          required   the intent taxonomy            -> Catalog.intents
    dispositions.yaml     required   the disposition catalog        -> Catalog.dispositions
    fields.<crm>.yaml     optional   one per configured CRM         -> CrmMapping
    sla.yaml              optional   SLA schedules and policies     -> SlaConfig (hub.mappings.sla)
    routing.yaml          optional   group/queue of a new case      -> RoutingConfig (hub.mappings.routing)

Every problem in every file is collected, each named ``<file>:<line>``, before anything is built:
``validate_mappings`` returns them, ``load_mappings`` raises one ``ConfigError`` listing them all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hub.domain.catalog import Catalog, Disposition, Intent
from hub.domain.errors import ConfigError, Problem
from hub.domain.mapping import TRANSFORMS, CrmMapping, FieldRule, ObjectMapping
from hub.domain.outcome import CRMS
from hub.domain.routing import RoutingConfig
from hub.domain.sla import SlaConfig
from hub.mappings import checks, schema
from hub.mappings import routing as routing_file
from hub.mappings import sla as sla_file
from hub.mappings.checks import Document, Finding, items
from hub.mappings.deflection import deflection_problems
from hub.mappings.metrics import metrics_problems
from hub.mappings.recovery import recovery_problems
from hub.mappings.roles import role_problems
from hub.mappings.yaml_lines import YamlSyntaxError, load_with_lines

INTENTS_FILE = "intents.yaml"
DISPOSITIONS_FILE = "dispositions.yaml"
FIELDS_FILE = re.compile(r"^fields\.([A-Za-z0-9_-]+)\.yaml$")
# CRMs whose disposition block carries tags (disposition.tags).
TAGGING_CRMS = ("zendesk",)


@dataclass(frozen=True)
class Mappings:
    """The admin's configuration, checked and built. Immutable; load once at startup."""

    directory: Path
    catalog: Catalog
    crm_mappings: Mapping[str, CrmMapping]
    sla: SlaConfig | None = None  # None without sla.yaml: no SLA
    routing: RoutingConfig | None = None  # None without routing.yaml: every case lands unassigned

    @property
    def crms(self) -> tuple[str, ...]:
        """The CRMs that have a ``fields.<crm>.yaml``."""
        return tuple(self.crm_mappings)

    def crm(self, name: str) -> CrmMapping:
        try:
            return self.crm_mappings[name]
        except KeyError:
            path = self.directory / f"fields.{name}.yaml"
            configured = ", ".join(self.crms) or "none"
            raise ConfigError(
                f"CRM {name!r} is not configured (configured: {configured})",
                problems=[Problem(path=str(path), message=f"add {path.name} to configure {name}")],
            ) from None


def validate_mappings(directory: Path) -> list[Problem]:
    """Every problem in the admin files under ``directory``, in file and line order; [] when valid."""
    directory = Path(directory)
    return (
        _load(directory)[1]
        + deflection_problems(directory)
        + recovery_problems(directory)
        + metrics_problems(directory)
        + role_problems(directory)
    )


def load_mappings(directory: Path) -> Mappings:
    """The checked configuration, or ``ConfigError`` listing every problem found across all files."""
    directory = Path(directory)
    mappings, problems = _load(directory)
    if mappings is None:
        count = len(problems)
        raise ConfigError(
            f"{directory}: {count} problem{'s' if count != 1 else ''} in the mapping files", problems=problems
        )
    return mappings


# --- reading ------------------------------------------------------------------------------------


class _Collector:
    """Problems with a sort key, so the report reads file by file, top to bottom."""

    def __init__(self) -> None:
        self._found: list[tuple[int, int, int, Problem]] = []

    def add(self, order: int, display: str, line: int | None, message: str) -> None:
        path = display if line is None else f"{display}:{line}"
        self._found.append((order, line or 0, len(self._found), Problem(path=path, message=message)))

    def extend(self, order: int, doc: Document, findings: Any) -> None:
        for line, message in findings:
            self.add(order, doc.display, line, message)

    def problems(self) -> list[Problem]:
        return [problem for *_, problem in sorted(self._found, key=lambda found: found[:3])]

    def any_in(self, order: int) -> bool:
        """Whether the file of this ``order`` has a problem already."""
        return any(found[0] == order for found in self._found)


def _read(
    directory: Path, name: str, kind: str, order: int, found: _Collector, *, required: bool
) -> Document | None:
    path = directory / name
    display = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            found.add(order, display, None, f"required file is missing (the {kind} file)")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        found.add(order, display, None, f"cannot read the file: {exc}")
        return None
    try:
        lined = load_with_lines(text)
    except YamlSyntaxError as exc:
        found.add(order, display, exc.line, f"YAML syntax error at column {exc.column}: {exc.message}")
        return None
    doc = Document(display=display, lined=lined)
    for duplicate in lined.duplicate_keys:
        where = f"{schema.dotted(duplicate.path)}: " if duplicate.path else ""
        found.add(
            order,
            display,
            duplicate.line,
            f"{where}duplicate key {duplicate.key!r} (first at line {duplicate.first_line}); "
            "YAML keeps only the last",
        )
    schema_file = schema.schema_path(kind, directory)
    if schema_file is None:
        found.add(order, display, None, f"cannot check it: {kind}.schema.json not found")
    else:
        found.extend(order, doc, schema.schema_errors(schema.validator_for(schema_file), lined))
    return doc


def _load(directory: Path) -> tuple[Mappings | None, list[Problem]]:
    found = _Collector()
    intents_doc = _read(directory, INTENTS_FILE, "intents", 0, found, required=True)
    dispositions_doc = _read(directory, DISPOSITIONS_FILE, "dispositions", 1, found, required=True)

    field_docs: dict[str, Document | None] = {}
    fields_files = sorted(p.name for p in directory.glob("fields.*.yaml")) if directory.is_dir() else []
    for order, name in enumerate(fields_files, start=2):
        match = FIELDS_FILE.match(name)
        if match is None:
            continue
        crm = match.group(1)
        if crm not in CRMS:
            found.add(
                order,
                str(directory / name),
                1,
                f"unknown CRM {crm!r}; expected fields.<crm>.yaml for one of: {', '.join(CRMS)}",
            )
            continue
        doc = _read(directory, name, "fields", order, found, required=False)
        field_docs[crm] = doc
        if doc is not None:
            found.extend(order, doc, checks.check_fields(doc, crm))
    configured = tuple(crm for crm in CRMS if crm in field_docs)

    intents = _build_intents(intents_doc.data) if intents_doc else {}
    dispositions = _build_dispositions(dispositions_doc.data) if dispositions_doc else {}
    catalog = Catalog(intents=MappingProxyType(intents), dispositions=MappingProxyType(dispositions))
    if intents_doc is not None:
        found.extend(0, intents_doc, checks.check_intents(intents_doc))
    if dispositions_doc is not None:
        findings: list[Finding] = [
            *checks.check_dispositions(dispositions_doc, configured),
            *checks.check_coverage(dispositions_doc, catalog),
        ]
        found.extend(1, dispositions_doc, findings)

    sla_doc = _read(directory, sla_file.FILE, sla_file.KIND, 90, found, required=False)
    if sla_doc is not None:
        found.extend(90, sla_doc, sla_file.check(sla_doc, tuple(intents)))
    routing_doc = _read(directory, routing_file.FILE, routing_file.KIND, 95, found, required=False)
    if routing_doc is not None:  # intents are checked against an intents.yaml without problems only
        known = () if found.any_in(0) else tuple(intents)
        found.extend(95, routing_doc, routing_file.check(routing_doc, known))

    problems = found.problems()
    if problems:
        return None, problems
    crm_mappings = {crm: _build_crm(crm, doc.data) for crm in configured if (doc := field_docs[crm])}
    sla = sla_file.build(sla_doc.data) if sla_doc is not None else None
    routing = routing_file.build(routing_doc) if routing_doc is not None else None
    return Mappings(
        directory=directory,
        catalog=catalog,
        crm_mappings=MappingProxyType(crm_mappings),
        sla=sla,
        routing=routing,
    ), []


# --- building (lenient: skips what is malformed, which the checks have reported) ----------------


def _freeze(value: Any) -> Any:
    """Lists to tuples and dicts to read-only mappings, so a loaded mapping cannot be changed."""
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _build_intents(data: Any) -> dict[str, Intent]:
    intents: dict[str, Intent] = {}
    for _, item in items(data, "intents"):
        code = item.get("code")
        if not isinstance(code, str) or code in intents:
            continue
        channels = item.get("channels")
        intents[code] = Intent(
            code=code,
            label=_str(item.get("label"), code),
            family=_str(item.get("family")) or code,
            channels=frozenset(c for c in channels if isinstance(c, str))
            if isinstance(channels, list)
            else frozenset(),
            description=_str(item.get("description")).strip(),
            duplicate_policy=_str(item.get("duplicate_policy")) or "attach",
        )
    return intents


def _build_dispositions(data: Any) -> dict[str, Disposition]:
    dispositions: dict[str, Disposition] = {}
    for _, item in items(data, "dispositions"):
        code = item.get("code")
        if not isinstance(code, str) or code in dispositions:
            continue
        values: dict[str, str] = {}
        tags: dict[str, tuple[str, ...]] = {}
        for crm in CRMS:
            block = item.get(crm)
            if not isinstance(block, dict):
                continue
            if isinstance(block.get("value"), str):
                values[crm] = block["value"]
            if crm in TAGGING_CRMS:
                raw_tags = block.get("tags") or []
                tags[crm] = (
                    tuple(t for t in raw_tags if isinstance(t, str)) if isinstance(raw_tags, list) else ()
                )
        defaults = tuple(
            (default["channel"], default["outcome"])
            for _, default in items(item, "defaults")
            if isinstance(default.get("channel"), str) and isinstance(default.get("outcome"), str)
        )
        dispositions[code] = Disposition(
            code=code,
            label=_str(item.get("label"), code),
            outcome_class=_str(item.get("outcome_class")),
            crm_values=MappingProxyType(values),
            crm_tags=MappingProxyType(tags),
            defaults=defaults,
        )
    return dispositions


def _build_object(data: Mapping[str, Any]) -> ObjectMapping:
    rules = []
    for _, rule in items(data, "fields"):
        transform = rule.get("transform", "copy")
        rules.append(
            FieldRule(
                target=rule["target"],
                source=rule.get("source"),
                transform=transform if transform in TRANSFORMS else "copy",
                options=_freeze({key: rule[key] for key in checks.OPTION_KEYS if key in rule}),
                when=rule.get("when", "always"),
            )
        )
    return ObjectMapping(object=data["object"], rules=tuple(rules), key_field=data.get("key_field"))


def _build_crm(crm: str, data: Mapping[str, Any]) -> CrmMapping:
    """Only called on a file that passed every check."""
    return CrmMapping(crm=crm, case=_build_object(data["case"]), activity=_build_object(data["activity"]))
