"""The Salesforce DX source tree: the ctiHubPanel LWC, its CSP trusted site, the Open CTI call center.

``force-app/`` deploys with ``sf project deploy start``; ``call-center/CtiHubCallCenter.xml`` is an
Open CTI call center definition file, imported in Setup > Call Centers > Import (it is not
Metadata API source, so it lives outside the package directory). The checks follow Salesforce's
Metadata API reference (LightningComponentBundle, CspTrustedSite) and the Open CTI guide's
"Required Call Center Elements and Attributes".
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from string import Template
from typing import Any
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from hub.panel_package.common import (
    PackageError,
    PublicUrl,
    check_lwc_template,
    parse_public_url,
    parse_xml,
    template_root,
    walk,
)

TREE_NAME = "ctihub-salesforce"
PROJECT_NAME = "ctihub-console"
METADATA_NS = "http://soap.sforce.com/2006/04/metadata"
LWC_DIR = "force-app/main/default/lwc/ctiHubPanel"
LWC_META = f"{LWC_DIR}/ctiHubPanel.js-meta.xml"
LWC_JS = f"{LWC_DIR}/ctiHubPanel.js"
LWC_HTML = f"{LWC_DIR}/ctiHubPanel.html"
TRUSTED_SITE = "force-app/main/default/cspTrustedSites/CtiHub.cspTrustedSite-meta.xml"
CALL_CENTER = "call-center/CtiHubCallCenter.xml"
ADAPTER_PATH = "/panel/salesforce?host=opencti"
REQUIRED_FILES = ("sfdx-project.json", LWC_META, LWC_JS, LWC_HTML, TRUSTED_SITE, CALL_CENTER)
GENERAL_INFO = (
    "reqInternalName",
    "reqDisplayName",
    "reqAdapterUrl",
    "reqUseApi",
    "reqSoftphoneHeight",
    "reqSoftphoneWidth",
    "reqSalesforceCompatibilityMode",
)
INTERNAL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
API_VERSION = re.compile(r"^\d{2,3}\.0$")


def _ns(tag: str) -> str:
    return f"{{{METADATA_NS}}}{tag}"


def render(public_url: PublicUrl) -> dict[str, bytes]:
    """Every file of the tree, the hub's URL filled in."""
    xml_values = {
        "hub_origin": escape(public_url.origin),
        "adapter_url": escape(public_url.join(ADAPTER_PATH)),
    }
    files: dict[str, bytes] = {}
    for path, resource in walk(template_root("salesforce")):
        text = resource.read_text(encoding="utf-8")
        if path.endswith(".xml"):
            text = Template(text).substitute(xml_values)
        elif path == LWC_JS:
            text = text.replace('"__CTIHUB_HUB_URL__"', json.dumps(public_url.base))
            text = text.replace('"__CTIHUB_HUB_ORIGIN__"', json.dumps(public_url.origin))
        files[path] = text.encode("utf-8")
    return files


def build_salesforce(public_url: PublicUrl, out_dir: Path) -> Path:
    """Write ``ctihub-salesforce/`` into ``out_dir`` (validated first; an earlier tree is replaced)."""
    files = render(public_url)
    validate_salesforce_files(files)
    target = out_dir / TREE_NAME
    if target.exists() and not _is_ours(target):
        raise PackageError(
            f"--out: {target} exists and is not a CTI Hub Salesforce tree; choose another --out"
        )
    staging = out_dir / f".{TREE_NAME}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    for path, data in files.items():
        destination = staging / path
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)
    validate_salesforce_tree(staging)
    if target.exists():
        shutil.rmtree(target)
    staging.replace(target)
    return target


def _is_ours(target: Path) -> bool:
    try:
        return json.loads((target / "sfdx-project.json").read_text()).get("name") == PROJECT_NAME
    except (OSError, ValueError, AttributeError):
        return False


def validate_salesforce_tree(root: Path) -> None:
    files = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
    validate_salesforce_files(files)


def validate_salesforce_files(files: dict[str, bytes]) -> None:
    """Raise PackageError listing every problem: missing files, malformed XML, broken metadata rules."""
    problems = [f"{name}: missing" for name in REQUIRED_FILES if name not in files]
    parsed: dict[str, Element] = {}
    for name, data in files.items():
        if name == LWC_HTML:
            problems.extend(
                f"{name}: {problem}" for problem in check_lwc_template(data.decode("utf-8", "replace"))
            )
        elif name.endswith(".xml"):
            try:
                parsed[name] = parse_xml(data, name)
            except PackageError as exc:
                problems.append(exc.message)
    api_version = _check_project(files.get("sfdx-project.json"), problems)
    for name, root in parsed.items():
        if (
            name.startswith("force-app/")
            and name.endswith("-meta.xml")
            and root.tag.split("}")[0] != f"{{{METADATA_NS}"
        ):
            problems.append(f"{name}: root element must be in the namespace {METADATA_NS}")
    if LWC_META in parsed:
        problems.extend(_check_lwc_meta(parsed[LWC_META], api_version))
    if LWC_JS in files:
        problems.extend(_check_lwc_js(files[LWC_JS].decode("utf-8", "replace")))
    if TRUSTED_SITE in parsed:
        problems.extend(_check_trusted_site(parsed[TRUSTED_SITE]))
    if CALL_CENTER in parsed:
        problems.extend(_check_call_center(parsed[CALL_CENTER]))
    if problems:
        raise PackageError("the Salesforce source tree is not valid", problems)


def _check_project(data: bytes | None, problems: list[str]) -> str | None:
    if data is None:
        return None
    try:
        project: Any = json.loads(data)
    except ValueError as exc:
        problems.append(f"sfdx-project.json: not valid JSON ({exc})")
        return None
    directories = project.get("packageDirectories") if isinstance(project, dict) else None
    if not isinstance(directories, list) or not any(
        isinstance(d, dict) and d.get("path") == "force-app" and d.get("default") is True for d in directories
    ):
        problems.append('sfdx-project.json: packageDirectories: needs {"path": "force-app", "default": true}')
    version = project.get("sourceApiVersion") if isinstance(project, dict) else None
    if not isinstance(version, str) or not API_VERSION.match(version):
        problems.append(f'sfdx-project.json: sourceApiVersion: {version!r} is not an API version like "62.0"')
        return None
    return version


def _text(root: Element, tag: str) -> str | None:
    found = root.find(_ns(tag))
    return None if found is None or found.text is None else found.text.strip()


def _check_lwc_meta(root: Element, api_version: str | None) -> list[str]:
    where = LWC_META
    problems = []
    if root.tag != _ns("LightningComponentBundle"):
        return [f"{where}: root element must be LightningComponentBundle"]
    version = _text(root, "apiVersion")
    if version is None or not API_VERSION.match(version):
        problems.append(f'{where}: apiVersion: required, like "62.0"')
    elif api_version is not None and version != api_version:
        problems.append(
            f"{where}: apiVersion {version} differs from sfdx-project.json's sourceApiVersion {api_version}"
        )
    if _text(root, "isExposed") != "true":
        problems.append(f"{where}: isExposed must be true to place the component on a page")
    targets = {t.text.strip() for t in root.iter(_ns("target")) if t.text}
    for needed in ("lightning__RecordPage", "lightning__UtilityBar"):
        if needed not in targets:
            problems.append(f"{where}: targets: {needed} missing")
    record_objects = {
        o.text.strip()
        for config in root.iter(_ns("targetConfig"))
        if "lightning__RecordPage" in (config.get("targets") or "").split(",")
        for o in config.iter(_ns("object"))
        if o.text
    }
    if "Case" not in record_objects:
        problems.append(f"{where}: targetConfig lightning__RecordPage: objects must include Case")
    return problems


def _check_lwc_js(source: str) -> list[str]:
    problems = []
    if "__CTIHUB_HUB_" in source:
        problems.append(f"{LWC_JS}: the hub URL placeholder was not filled in")
    for needed in ("CurrentPageReference", "NavigationMixin", "event.origin !== HUB_ORIGIN"):
        if needed not in source:
            problems.append(f"{LWC_JS}: {needed} missing")
    url_line = next((line for line in source.splitlines() if line.startswith("const HUB_URL = ")), "")
    url = url_line.removeprefix("const HUB_URL = ").rstrip(";")
    try:
        parse_public_url(json.loads(url), option="HUB_URL")
    except (ValueError, PackageError):
        problems.append(f"{LWC_JS}: HUB_URL is not a valid hub URL")
    return problems


def _check_trusted_site(root: Element) -> list[str]:
    where = TRUSTED_SITE
    if root.tag != _ns("CspTrustedSite"):
        return [f"{where}: root element must be CspTrustedSite"]
    problems = []
    endpoint = _text(root, "endpointUrl") or ""
    try:
        if parse_public_url(endpoint, option="endpointUrl").origin != endpoint:
            problems.append(f"{where}: endpointUrl {endpoint!r} must be the hub's origin (no path)")
    except PackageError as exc:
        problems.append(f"{where}: {exc.message}")
    if _text(root, "isActive") != "true":
        problems.append(f"{where}: isActive must be true")
    if _text(root, "isApplicableToFrameSrc") != "true":
        problems.append(f"{where}: isApplicableToFrameSrc must be true (the component frames the panel)")
    if _text(root, "context") not in ("All", "LEX"):
        problems.append(f"{where}: context must be LEX or All")
    return problems


def _check_call_center(root: Element) -> list[str]:
    where = CALL_CENTER
    if root.tag != "callCenter":
        return [f"{where}: root element must be callCenter (no namespace)"]
    sections = root.findall("section")
    if not sections or sections[0].get("name") != "reqGeneralInfo":
        return [f"{where}: the first section must be reqGeneralInfo"]
    problems = []
    items = {item.get("name"): (item.text or "").strip() for item in sections[0].findall("item")}
    problems.extend(f"{where}: reqGeneralInfo: {name} missing" for name in GENERAL_INFO if name not in items)
    if not INTERNAL_NAME.match(items.get("reqInternalName", "")):
        problems.append(f"{where}: reqInternalName: up to 40 letters and digits, starting with a letter")
    adapter = items.get("reqAdapterUrl", "")
    if not adapter.startswith("https://") and not adapter.startswith(
        ("http://127.0.0.1", "http://localhost")
    ):
        problems.append(f"{where}: reqAdapterUrl: Lightning Experience needs an https URL, not {adapter!r}")
    if items.get("reqUseApi") != "true":
        problems.append(f"{where}: reqUseApi must be true (the panel uses the Open CTI API)")
    for name in ("reqSoftphoneHeight", "reqSoftphoneWidth"):
        if not items.get(name, "").isdigit():
            problems.append(f"{where}: {name}: must be a number of pixels")
    if items.get("reqSalesforceCompatibilityMode") not in ("Lightning", "Classic_and_Lightning"):
        problems.append(f"{where}: reqSalesforceCompatibilityMode must be Lightning or Classic_and_Lightning")
    for section in sections:
        for item in section.findall("item"):
            if item.get("sortOrder") is None or not item.get("name") or item.get("label") is None:
                problems.append(f"{where}: every item needs sortOrder, name and label")
                return problems
    return problems
