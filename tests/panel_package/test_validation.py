"""The package validators reject what Zendesk and Salesforce would refuse."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from importlib import util
from pathlib import Path

import pytest

from hub.panel_package import PackageError, parse_public_url, validate_zendesk_zip
from hub.panel_package.salesforce import render, validate_salesforce_files
from hub.panel_package.zendesk import package_files

ROOT = Path(__file__).resolve().parents[2]
URL = parse_public_url("https://hub.example.com")
LWC_META = "force-app/main/default/lwc/ctiHubPanel/ctiHubPanel.js-meta.xml"
SITE = "force-app/main/default/cspTrustedSites/CtiHub.cspTrustedSite-meta.xml"
CENTER = "call-center/CtiHubCallCenter.xml"


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = (b"\x00" + b"\x00" * width * 4) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zendesk_problems(files: dict[str, bytes]) -> list[str]:
    with pytest.raises(PackageError) as caught:
        validate_zendesk_zip(zipped(files))
    return caught.value.problems


def with_manifest(change) -> dict[str, bytes]:
    files = package_files(URL, "cx@acme.test")
    manifest = json.loads(files["manifest.json"])
    change(manifest)
    files["manifest.json"] = json.dumps(manifest).encode()
    return files


def test_the_built_app_passes():
    validate_zendesk_zip(zipped(package_files(URL, "cx@acme.test")))


@pytest.mark.parametrize(
    "field", ["name", "author", "defaultLocale", "private", "location", "version", "frameworkVersion"]
)
def test_a_missing_required_manifest_field_is_named(field):
    assert f"manifest.json: {field}: required" in zendesk_problems(with_manifest(lambda m: m.pop(field)))


def test_manifest_values_are_checked():
    problems = zendesk_problems(
        with_manifest(
            lambda m: m.update(
                frameworkVersion="1.0",
                private="yes",
                author={"name": "x"},
                name="A name far longer than the forty characters allowed",
                defaultLocale="fr",
            )
        )
    )
    assert problems == [
        "manifest.json: author: needs a name and an email address",
        "manifest.json: frameworkVersion: '1.0', must be \"2.0\"",
        "manifest.json: private: must be true or false",
        "manifest.json: name: must be 1 to 40 characters",
        "manifest.json: defaultLocale: translations/fr.json is missing",
    ]


def test_locations_must_be_https_and_remote_when_signed():
    def change(manifest):
        support = manifest["location"]["support"]
        support["ticket_sidebar"]["url"] = "http://hub.example.com/panel"
        support["new_ticket_sidebar"]["url"] = "assets/iframe.html"

    assert zendesk_problems(with_manifest(change)) == [
        "manifest.json: location.support.ticket_sidebar.url: 'http://hub.example.com/panel' must use https://",
        "manifest.json: location.support.new_ticket_sidebar.url: signedUrls needs a remote https URL, "
        "not 'assets/iframe.html'",
    ]


def test_an_oversized_or_broken_logo_is_refused():
    files = package_files(URL, "cx@acme.test")
    files["assets/logo.png"] = png(640, 640)
    files["assets/logo-small.png"] = b"GIF89a not a png"
    assert zendesk_problems(files) == [
        "assets/logo.png: 640x640 pixels, must be 320x320",
        "assets/logo-small.png: not a PNG file",
    ]


def test_missing_files_and_bad_json_are_named():
    files = package_files(URL, "cx@acme.test")
    del files["assets/logo-small.png"]
    files["translations/en.json"] = b"{not json"
    problems = zendesk_problems(files)
    assert problems[0] == "assets/logo-small.png: missing (required at the zip's root)"
    assert problems[1].startswith("translations/en.json: not valid JSON")


def test_not_a_zip():
    with pytest.raises(PackageError, match="not a zip file"):
        validate_zendesk_zip(b"PK but not really")


def salesforce_problems(files: dict[str, bytes]) -> list[str]:
    with pytest.raises(PackageError) as caught:
        validate_salesforce_files(files)
    return caught.value.problems


def test_the_rendered_tree_passes():
    validate_salesforce_files(render(URL))


def test_malformed_xml_and_a_missing_namespace_are_refused():
    files = render(URL)
    files[SITE] = b"<CspTrustedSite><endpointUrl>https://hub.example.com</endpointUrl>"
    files[LWC_META] = files[LWC_META].replace(b' xmlns="http://soap.sforce.com/2006/04/metadata"', b"")
    problems = salesforce_problems(files)
    assert problems[0].startswith(f"{SITE}: not well-formed XML")
    assert (
        f"{LWC_META}: root element must be in the namespace http://soap.sforce.com/2006/04/metadata"
        in problems
    )


def test_lwc_metadata_rules():
    files = render(URL)
    meta = files[LWC_META].decode()
    meta = meta.replace("<apiVersion>62.0</apiVersion>", "<apiVersion>61.0</apiVersion>")
    meta = meta.replace("<target>lightning__UtilityBar</target>", "")
    meta = meta.replace("<object>Case</object>", "<object>Account</object>")
    files[LWC_META] = meta.replace("<isExposed>true</isExposed>", "<isExposed>false</isExposed>").encode()
    assert salesforce_problems(files) == [
        f"{LWC_META}: apiVersion 61.0 differs from sfdx-project.json's sourceApiVersion 62.0",
        f"{LWC_META}: isExposed must be true to place the component on a page",
        f"{LWC_META}: targets: lightning__UtilityBar missing",
        f"{LWC_META}: targetConfig lightning__RecordPage: objects must include Case",
    ]


def test_trusted_site_and_call_center_rules():
    files = render(URL)
    site = files[SITE].decode().replace("https://hub.example.com", "https://hub.example.com/panel")
    files[SITE] = site.replace(
        "<isApplicableToFrameSrc>true</isApplicableToFrameSrc>",
        "<isApplicableToFrameSrc>false</isApplicableToFrameSrc>",
    ).encode()
    center = files[CENTER].decode()
    center = center.replace(">CtiHub<", ">1-bad name<").replace(">Lightning<", ">Classic<")
    center = center.replace(
        "https://hub.example.com/panel/salesforce?host=opencti", "http://hub.example.com/x"
    )
    files[CENTER] = center.replace(
        '<item sortOrder="3" name="reqUseApi" label="Use CTI API">true</item>', ""
    ).encode()
    assert salesforce_problems(files) == [
        f"{SITE}: endpointUrl 'https://hub.example.com/panel' must be the hub's origin (no path)",
        f"{SITE}: isApplicableToFrameSrc must be true (the component frames the panel)",
        f"{CENTER}: reqGeneralInfo: reqUseApi missing",
        f"{CENTER}: reqInternalName: up to 40 letters and digits, starting with a letter",
        f"{CENTER}: reqAdapterUrl: Lightning Experience needs an https URL, not 'http://hub.example.com/x'",
        f"{CENTER}: reqUseApi must be true (the panel uses the Open CTI API)",
        f"{CENTER}: reqSalesforceCompatibilityMode must be Lightning or Classic_and_Lightning",
    ]


def test_lwc_template_and_missing_files():
    files = render(URL)
    html = "force-app/main/default/lwc/ctiHubPanel/ctiHubPanel.html"
    files[html] = b"<template><div><iframe></iframe></template>"
    del files["sfdx-project.json"]
    problems = salesforce_problems(files)
    assert "sfdx-project.json: missing" in problems
    assert f"{html}: line 1: </template> closes <div>" in problems


def test_shipped_logos_are_what_the_tool_draws():
    spec = util.spec_from_file_location("make_panel_logos", ROOT / "tools" / "make_panel_logos.py")
    assert spec and spec.loader
    tool = util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assets = ROOT / "hub" / "panel_package" / "templates" / "zendesk" / "assets"
    assert (assets / "logo-small.png").read_bytes() == tool.render(128)
