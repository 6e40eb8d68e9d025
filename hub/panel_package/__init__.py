"""Installable console packages: the Zendesk app zip and the Salesforce DX source tree.

``build_zendesk(public_url, out_dir)`` and ``build_salesforce(public_url, out_dir)`` fill the hub's
URL into the templates under ``templates/``, validate what they wrote against the rules each
platform documents, and return the path written. Standard library and defusedxml only, so the
layer rules do not care where it is called from (``ctihub panel package``).
"""

from __future__ import annotations

from hub.panel_package.common import PackageError, PublicUrl, parse_public_url
from hub.panel_package.salesforce import build_salesforce, validate_salesforce_tree
from hub.panel_package.zendesk import build_zendesk, validate_zendesk_zip

__all__ = [
    "PackageError",
    "PublicUrl",
    "build_salesforce",
    "build_zendesk",
    "parse_public_url",
    "validate_salesforce_tree",
    "validate_zendesk_zip",
]
