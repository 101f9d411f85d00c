"""`build`: the lab's images."""

from __future__ import annotations

from typing import get_args

import click

from ...schema.vocabulary import NEXT_SUITE, SUITES, MailServerKind
from . import app, console, verbosity

@app.command()
@click.argument("suites", nargs=-1, type=click.Choice(SUITES))
@verbosity
def build(suites: tuple[str, ...]) -> None:
    """Build the mail host images and those of the other servers old may run (Courier, Cyrus),
    and without SUITES also the live cutover's internet and the upgrade images of every road in
    place (a second run builds nothing)."""
    # Docker, when the command runs: every command module loads with any maillab command
    from ....lab.images import ensure_images  # noqa: PLC0415
    from ....lab.lab import docker_client  # noqa: PLC0415

    roads = () if suites else tuple(NEXT_SUITE.items())
    servers = tuple((kind, suite) for suite in suites or SUITES for kind in get_args(MailServerKind))
    for image, built in ensure_images(docker_client(), suites or SUITES, internet=not suites, upgrades=roads,
                                      servers=servers).items():
        console.print(f"{image}: {'built' if built else 'up to date'}")
