"""``ctihub panel``: the console packages that embed the agent panel.

    ctihub panel package zendesk --public-url https://hub.example.com --out dist/
    ctihub panel package salesforce --public-url https://hub.example.com --out dist/

``zendesk`` writes ``ctihub-zendesk-app.zip`` (upload it in Admin Center > Apps > Zendesk Support
apps > Upload private app); ``salesforce`` writes the ``ctihub-salesforce/`` DX tree (deploy it with
``sf project deploy start``; import ``call-center/CtiHubCallCenter.xml`` for Open CTI). Both are
validated before anything is written; see docs/console-install.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group()
def panel() -> None:
    """The agent panel's console packages."""


@panel.command("package")
@click.argument("console", type=click.Choice(["zendesk", "salesforce"]))
@click.option(
    "--public-url",
    required=True,
    envvar="CTIHUB_PUBLIC_URL",
    help="The hub's public https URL, as agents' browsers reach it (default: CTIHUB_PUBLIC_URL).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write to.",
)
@click.option("--author-email", help="Zendesk only: the support address shown for the app.")
def package(console: str, public_url: str, out_dir: Path, author_email: str | None) -> None:
    """Write the installable Zendesk app zip or Salesforce DX source tree for this hub."""
    from hub.panel_package import PackageError, build_salesforce, build_zendesk, parse_public_url

    try:
        url = parse_public_url(public_url)
        if console == "zendesk":
            written = build_zendesk(url, out_dir, author_email=author_email)
        else:
            if author_email:
                raise PackageError("--author-email: applies to the Zendesk app only")
            written = build_salesforce(url, out_dir)
    except PackageError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(f"error: --out: cannot write to {out_dir}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    click.echo(f"wrote {written}")
