"""Vendor the Zendesk App Framework SDK into hub/web/static/vendor/ (a dev-only tool).

The panel's CSP is ``script-src 'self'`` and the hub loads nothing from a CDN, so the ZAF SDK that
the Zendesk host of the bridge needs is served by the hub. The npm package
``zendesk_app_framework_sdk`` (Apache-2.0) ships the SDK's CommonJS sources; this script wraps
them, unchanged, in a small module loader that exposes ``window.ZAFClient`` as Zendesk's own build
does. Get the tarball with ``npm pack zendesk_app_framework_sdk@2.0.11`` and run:

    .venv/bin/python tools/vendor_zaf_sdk.py zendesk_app_framework_sdk-2.0.11.tgz
"""

from __future__ import annotations

import hashlib
import json
import sys
import tarfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "hub" / "web" / "static" / "vendor"
MODULES = ("index", "client", "utils")


def main(tarball: str) -> int:
    data = Path(tarball).read_bytes()
    with tarfile.open(tarball) as archive:

        def read(name: str) -> str:
            member = archive.extractfile(f"package/{name}")
            assert member is not None, name
            return member.read().decode("utf-8")

        package = json.loads(read("package.json"))
        sources = {name: read(f"lib/{name}.js") for name in MODULES}
        license_text = read("LICENSE")
    version = package["version"]
    digest = hashlib.sha256(data).hexdigest()
    parts = [
        f"/*! Zendesk App Framework SDK, npm zendesk_app_framework_sdk@{version}",
        f" * (tarball sha256 {digest}).",
        " * Copyright 2014 Zendesk. Licensed under the Apache License, Version 2.0;",
        " * see LICENSE-zendesk_app_framework_sdk.txt beside this file.",
        " * The module sources below are unchanged; the loader around them is CTI Hub's",
        " * (tools/vendor_zaf_sdk.py), standing in for the SDK's own gluejs build. */",
        "(function () {",
        "  'use strict';",
        "  var definitions = {};",
        "  var cache = {};",
        "  function load(name) {",
        "    if (name === './vendor/native-promise-only') { return window.Promise; }",
        "    var key = name.replace(/^\\.\\//, '');",
        "    if (!cache[key]) {",
        "      var module = { exports: {} };",
        "      cache[key] = module;",
        "      definitions[key](module, module.exports, load);",
        "    }",
        "    return cache[key].exports;",
        "  }",
    ]
    for name in MODULES:
        parts.append(f"  definitions[{json.dumps(name)}] = function (module, exports, require) {{")
        parts.append(sources[name].rstrip("\n"))
        parts.append("  };")
    parts.append("  window.ZAFClient = load('./index');")
    parts.append("})();")
    VENDOR.mkdir(parents=True, exist_ok=True)
    (VENDOR / "zaf_sdk.js").write_text("\n".join(parts) + "\n", encoding="utf-8")
    (VENDOR / "LICENSE-zendesk_app_framework_sdk.txt").write_text(license_text, encoding="utf-8")
    print(f"vendored zendesk_app_framework_sdk {version} ({digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
