"""``ctihub panel package``: what it writes, and what it refuses."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
from click.testing import CliRunner
from defusedxml import ElementTree

from hub.cli import main
from hub.panel_package.common import png_size

NS = "{http://soap.sforce.com/2006/04/metadata}"
ENTRY = "https://hub.example.com/signin/zendesk?next=/panel/zendesk%3Fhost%3Dzaf"


def run(*args: str):
    return CliRunner().invoke(main, ["panel", "package", *args])


def test_zendesk_zip_has_the_manifest_the_console_contract_names(tmp_path):
    result = run("zendesk", "--public-url", "https://hub.example.com/", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote {tmp_path / 'ctihub-zendesk-app.zip'}\n"
    with zipfile.ZipFile(tmp_path / "ctihub-zendesk-app.zip") as archive:
        names = sorted(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        translations = json.loads(archive.read("translations/en.json"))
        logos = {name: png_size(archive.read(name)) for name in ("assets/logo.png", "assets/logo-small.png")}
    assert names == ["assets/logo-small.png", "assets/logo.png", "manifest.json", "translations/en.json"]
    assert manifest["frameworkVersion"] == "2.0"
    assert manifest["signedUrls"] is True
    assert manifest["private"] is True
    assert manifest["defaultLocale"] == "en"
    assert manifest["author"] == {
        "name": "CTI Hub",
        "email": "ctihub@hub.example.com",
        "url": "https://hub.example.com",
    }
    assert manifest["location"] == {
        "support": {
            "ticket_sidebar": {"url": ENTRY, "flexible": True},
            "new_ticket_sidebar": {"url": ENTRY, "flexible": True},
        }
    }
    assert translations["app"]["name"] == "CTI Hub"
    assert logos == {"assets/logo.png": (320, 320), "assets/logo-small.png": (128, 128)}


def test_zendesk_author_email_option(tmp_path):
    result = run(
        "zendesk",
        "--public-url",
        "https://hub.example.com",
        "--out",
        str(tmp_path),
        "--author-email",
        "cx@acme.test",
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "ctihub-zendesk-app.zip") as archive:
        assert json.loads(archive.read("manifest.json"))["author"]["email"] == "cx@acme.test"
    refused = run(
        "salesforce",
        "--public-url",
        "https://hub.example.com",
        "--out",
        str(tmp_path),
        "--author-email",
        "a@b",
    )
    assert refused.exit_code == 2
    assert "--author-email: applies to the Zendesk app only" in refused.output


def _xml(path: Path) -> Element:
    return ElementTree.fromstring(path.read_bytes())


def test_salesforce_tree_is_well_formed_and_points_at_the_hub(tmp_path):
    result = run("salesforce", "--public-url", "https://hub.example.com/ctihub", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    tree = tmp_path / "ctihub-salesforce"
    files = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
    assert files == [
        "call-center/CtiHubCallCenter.xml",
        "force-app/main/default/cspTrustedSites/CtiHub.cspTrustedSite-meta.xml",
        "force-app/main/default/lwc/ctiHubPanel/ctiHubPanel.css",
        "force-app/main/default/lwc/ctiHubPanel/ctiHubPanel.html",
        "force-app/main/default/lwc/ctiHubPanel/ctiHubPanel.js",
        "force-app/main/default/lwc/ctiHubPanel/ctiHubPanel.js-meta.xml",
        "sfdx-project.json",
    ]
    for xml_file in tree.rglob("*.xml"):
        _xml(xml_file)  # every XML file parses
    project = json.loads((tree / "sfdx-project.json").read_text())

    meta = _xml(tree / "force-app/main/default/lwc/ctiHubPanel/ctiHubPanel.js-meta.xml")
    assert meta.tag == f"{NS}LightningComponentBundle"
    assert meta.findtext(f"{NS}apiVersion") == project["sourceApiVersion"]
    assert [t.text for t in meta.iter(f"{NS}target")] == ["lightning__RecordPage", "lightning__UtilityBar"]
    assert [o.text for o in meta.iter(f"{NS}object")] == ["Case"]

    site = _xml(tree / "force-app/main/default/cspTrustedSites/CtiHub.cspTrustedSite-meta.xml")
    assert site.tag == f"{NS}CspTrustedSite"
    assert site.findtext(f"{NS}endpointUrl") == "https://hub.example.com"
    assert site.findtext(f"{NS}isApplicableToFrameSrc") == "true"
    assert site.findtext(f"{NS}isActive") == "true"

    center = _xml(tree / "call-center/CtiHubCallCenter.xml")
    general = {item.get("name"): item.text for item in center.find("section[@name='reqGeneralInfo']")}
    assert general == {
        "reqInternalName": "CtiHub",
        "reqDisplayName": "CTI Hub",
        "reqAdapterUrl": "https://hub.example.com/ctihub/panel/salesforce?host=opencti",
        "reqUseApi": "true",
        "reqSoftphoneHeight": "480",
        "reqSoftphoneWidth": "360",
        "reqSalesforceCompatibilityMode": "Lightning",
    }

    source = (tree / "force-app/main/default/lwc/ctiHubPanel/ctiHubPanel.js").read_text()
    assert 'const HUB_URL = "https://hub.example.com/ctihub";' in source
    assert 'const HUB_ORIGIN = "https://hub.example.com";' in source


def test_salesforce_rebuild_replaces_its_own_tree_but_never_a_stranger(tmp_path):
    assert run("salesforce", "--public-url", "https://one.example.com", "--out", str(tmp_path)).exit_code == 0
    assert run("salesforce", "--public-url", "https://two.example.com", "--out", str(tmp_path)).exit_code == 0
    site = (
        tmp_path / "ctihub-salesforce/force-app/main/default/cspTrustedSites/CtiHub.cspTrustedSite-meta.xml"
    )
    assert "https://two.example.com" in site.read_text()

    other = tmp_path / "elsewhere"
    (other / "ctihub-salesforce").mkdir(parents=True)
    (other / "ctihub-salesforce" / "keep.txt").write_text("mine")
    result = run("salesforce", "--public-url", "https://two.example.com", "--out", str(other))
    assert result.exit_code == 2
    assert "is not a CTI Hub Salesforce tree" in result.output
    assert sorted(p.name for p in (other / "ctihub-salesforce").iterdir()) == ["keep.txt"]
    assert not list(other.glob(".*partial"))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hub.example.com", "must use https://"),
        ("ftp://hub.example.com", "must be an absolute https:// URL"),
        ("hub.example.com", "must be an absolute https:// URL"),
        ("https://hub.example.com/?x=1", "must not carry a query"),
        ("https://user:pw@hub.example.com", "must not carry a query, fragment or credentials"),
        ("https://hub.example.com/a b", "cannot hold"),
        ("https://hub.example.com:99999", "is not a URL"),
    ],
)
def test_public_url_must_be_https_and_plain(tmp_path, url, reason):
    for console in ("zendesk", "salesforce"):
        result = run(console, "--public-url", url, "--out", str(tmp_path))
        assert result.exit_code == 2
        assert "error: --public-url:" in result.output
        assert reason in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:5000/hub"])
def test_plain_http_is_accepted_for_local_testing(tmp_path, url):
    assert run("zendesk", "--public-url", url, "--out", str(tmp_path)).exit_code == 0
    assert run("salesforce", "--public-url", url, "--out", str(tmp_path)).exit_code == 0


def test_unwritable_out_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("zendesk", "--public-url", "https://hub.example.com", "--out", str(blocker / "sub"))
    assert result.exit_code == 2
    assert f"error: --out: cannot write to {blocker / 'sub'}" in result.output


def test_public_url_defaults_to_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("CTIHUB_PUBLIC_URL", "https://env.example.com")
    assert run("zendesk", "--out", str(tmp_path)).exit_code == 0
    with zipfile.ZipFile(tmp_path / "ctihub-zendesk-app.zip") as archive:
        assert json.loads(archive.read("manifest.json"))["author"]["url"] == "https://env.example.com"
    monkeypatch.delenv("CTIHUB_PUBLIC_URL")
    missing = run("zendesk", "--out", str(tmp_path))
    assert missing.exit_code == 2
    assert "Missing option '--public-url'" in missing.output
