"""report.html: the report as one page to open in any browser, self-contained (its style and
its findings filter inline, the cutover timeline embedded as a data: URI), rendered by Jinja2
from report.json's data: nothing is judged or counted here."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..rehearsal.ledger import FATES
from .checks import OWN_CONFIG_KINDS

TEMPLATE = "report.html.j2"
# autoescape on: a scenario's text (a step name, a folder, a detail) is shown, never run
ENVIRONMENT = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=True,
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(report: dict, timeline_png: bytes | None = None) -> str:
    """The page for `report` (json_report.py's to_json), with the timeline picture if one was drawn."""
    picture = f"data:image/png;base64,{base64.b64encode(timeline_png).decode()}" if timeline_png else None
    return ENVIRONMENT.get_template(TEMPLATE).render(report=report, picture=picture, fates=FATES,
                                                        own_config_kinds=OWN_CONFIG_KINDS)


def write_html(report: dict, path: Path, timeline: Path | None = None) -> None:
    path.write_text(render_html(report, timeline.read_bytes() if timeline else None), encoding="utf-8")
