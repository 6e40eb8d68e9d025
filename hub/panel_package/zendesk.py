"""The Zendesk app (Apps framework v2) zip: manifest, translations, logos.

The app has no code of its own. Its ``ticket_sidebar`` and ``new_ticket_sidebar`` locations point at
the hub with ``signedUrls: true``: Zendesk POSTs the app's signed JWT to ``/signin/zendesk``, which
signs the agent in and sends the frame on to the panel (``/panel/zendesk?host=zaf``). The rules
checked are those of Zendesk's manifest reference and of ``zcli apps:validate``.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from hub.panel_package.common import LOCAL_HOSTS, PackageError, PublicUrl, png_size, template_root, walk

APP_NAME = "CTI Hub"
APP_VERSION = "1.0.0"
ZIP_NAME = "ctihub-zendesk-app.zip"
PANEL_ENTRY = "/signin/zendesk?next=/panel/zendesk%3Fhost%3Dzaf"
LOCATIONS = ("ticket_sidebar", "new_ticket_sidebar")
REQUIRED_FILES = ("manifest.json", "translations/en.json", "assets/logo.png", "assets/logo-small.png")
LOGO_SIZES = {"assets/logo.png": (320, 320), "assets/logo-small.png": (128, 128)}
REQUIRED_MANIFEST = ("name", "author", "defaultLocale", "private", "location", "version", "frameworkVersion")
MAX_APP_NAME = 40  # Zendesk Marketplace listing rule; the app header shows it too


def manifest(public_url: PublicUrl, author_email: str) -> dict[str, Any]:
    entry = public_url.join(PANEL_ENTRY)
    return {
        "name": APP_NAME,
        "author": {"name": APP_NAME, "email": author_email, "url": public_url.base},
        "defaultLocale": "en",
        "private": True,
        "location": {"support": {name: {"url": entry, "flexible": True} for name in LOCATIONS}},
        "signedUrls": True,
        "version": APP_VERSION,
        "frameworkVersion": "2.0",
    }


def package_files(public_url: PublicUrl, author_email: str) -> dict[str, bytes]:
    files = {path: resource.read_bytes() for path, resource in walk(template_root("zendesk"))}
    files["manifest.json"] = (json.dumps(manifest(public_url, author_email), indent=2) + "\n").encode()
    return files


def build_zendesk(public_url: PublicUrl, out_dir: Path, author_email: str | None = None) -> Path:
    """Write ``ctihub-zendesk-app.zip`` into ``out_dir`` (validated first; nothing written on error)."""
    email = author_email or f"ctihub@{public_url.origin.split('://', 1)[1].split(':')[0]}"
    if "@" not in email:
        raise PackageError(f"--author-email: {email!r} is not an email address")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in sorted(package_files(public_url, email).items()):
            info = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    data = buffer.getvalue()
    validate_zendesk_zip(data)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / ZIP_NAME
    partial = target.with_suffix(".zip.part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def validate_zendesk_zip(data: bytes) -> None:
    """Raise PackageError listing every broken rule of the app zip."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise PackageError("the Zendesk app is not a zip file") from exc
    with archive:
        files = {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    problems = [
        f"{name}: missing (required at the zip's root)" for name in REQUIRED_FILES if name not in files
    ]
    for name, expected in LOGO_SIZES.items():
        if name in files:
            problems.extend(_check_logo(name, files[name], expected))
    parsed = _json(files, "manifest.json", problems)
    if parsed is not None:
        problems.extend(_check_manifest(parsed, files))
    translations = _json(files, "translations/en.json", problems)
    if translations is not None:
        problems.extend(_check_translations(translations))
    if problems:
        raise PackageError("the Zendesk app breaks the manifest rules", problems)


def _json(files: dict[str, bytes], name: str, problems: list[str]) -> Any:
    if name not in files:
        return None
    try:
        return json.loads(files[name].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{name}: not valid JSON ({exc})")
        return None


def _check_logo(name: str, data: bytes, expected: tuple[int, int]) -> list[str]:
    try:
        size = png_size(data)
    except PackageError as exc:
        return [f"{name}: {exc.message}"]
    if size != expected:
        return [f"{name}: {size[0]}x{size[1]} pixels, must be {expected[0]}x{expected[1]}"]
    return []


def _check_manifest(parsed: Any, files: dict[str, bytes]) -> list[str]:
    if not isinstance(parsed, dict):
        return ["manifest.json: must be a JSON object"]
    problems = [f"manifest.json: {field}: required" for field in REQUIRED_MANIFEST if field not in parsed]
    author = parsed.get("author")
    if "author" in parsed and not (
        isinstance(author, dict) and author.get("name") and "@" in str(author.get("email") or "")
    ):
        problems.append("manifest.json: author: needs a name and an email address")
    if "frameworkVersion" in parsed and parsed["frameworkVersion"] != "2.0":
        problems.append(f'manifest.json: frameworkVersion: {parsed["frameworkVersion"]!r}, must be "2.0"')
    if "private" in parsed and not isinstance(parsed["private"], bool):
        problems.append("manifest.json: private: must be true or false")
    name = parsed.get("name")
    if "name" in parsed and not (isinstance(name, str) and 0 < len(name) <= MAX_APP_NAME):
        problems.append(f"manifest.json: name: must be 1 to {MAX_APP_NAME} characters")
    locale = parsed.get("defaultLocale")
    if isinstance(locale, str) and f"translations/{locale}.json" not in files:
        problems.append(f"manifest.json: defaultLocale: translations/{locale}.json is missing")
    signed = parsed.get("signedUrls", False)
    if not isinstance(signed, bool):
        problems.append("manifest.json: signedUrls: must be true or false")
    problems.extend(_check_locations(parsed.get("location"), files, signed is True))
    return problems


def _check_locations(location: Any, files: dict[str, bytes], signed: bool) -> list[str]:
    if location is None:
        return []
    support = location.get("support") if isinstance(location, dict) else None
    if not isinstance(support, dict) or not support:
        return ['manifest.json: location: needs a "support" object with at least one location']
    problems = []
    for name, spec in support.items():
        url = spec.get("url") if isinstance(spec, dict) else spec
        where = f"manifest.json: location.support.{name}.url"
        if not isinstance(url, str) or not url:
            problems.append(f"{where}: required")
        elif url.startswith(("https://", "http://")):
            host = url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
            if url.startswith("http://") and host not in LOCAL_HOSTS:
                problems.append(f"{where}: {url!r} must use https://")
        elif signed:
            problems.append(f"{where}: signedUrls needs a remote https URL, not {url!r}")
        elif url not in files:
            problems.append(f"{where}: {url!r} is not in the zip")
    return problems


def _check_translations(parsed: Any) -> list[str]:
    app = parsed.get("app") if isinstance(parsed, dict) else None
    if not isinstance(app, dict):
        return ['translations/en.json: needs an "app" object']
    return [
        f"translations/en.json: app.{key}: required"
        for key in ("name", "short_description", "long_description", "installation_instructions")
        if not isinstance(app.get(key), str) or not app[key].strip()
    ]
