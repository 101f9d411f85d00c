"""The README and docs/*.md: every relative link leads to a file that exists and, with an
anchor, to a heading there; every docs page is on the README's map. Pure: reads files only."""
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)   # https:, mailto:, ...


def prose(text: str) -> list[tuple[int, str]]:
    """Numbered lines outside fenced code blocks (a '# comment' in a sh block is no heading)."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> Iterator[str]:
    """The anchors of a page's headings; a repeated heading gets '-1', '-2', ... as on GitHub."""
    seen: dict[str, int] = {}
    for _, line in prose(text):
        if match := re.match(r"#{1,6}\s+(.*)", line):
            base = slug(match[1])
            seen[base] = seen.get(base, -1) + 1
            yield base if seen[base] == 0 else f"{base}-{seen[base]}"


def problems(files: dict[Path, str]) -> list[str]:
    """'file:line: link: what is wrong' for every relative link in `files` that leads nowhere.
    Link targets are looked up in `files` first, then on disk."""
    def read(path: Path) -> str | None:
        return files[path] if path in files else path.read_text() if path.is_file() else None
    found = []
    for source, text in files.items():
        for number, line in prose(text):
            for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
                if EXTERNAL.match(target):
                    continue
                path, _, anchor = target.partition("#")
                resolved = (source.parent / path).resolve() if path else source
                where = f"{source.relative_to(ROOT)}:{number}: {target}"
                if not (resolved.exists() if path.endswith("/") else read(resolved) is not None):
                    found.append(f"{where}: no such file")
                elif anchor and anchor not in set(anchors(read(resolved))):
                    found.append(f"{where}: no heading #{anchor}")
    return found


def pages() -> dict[Path, str]:
    return {path: path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}


CASES = [  # (a docs page's text, the problems expected)
    ("[ok](../README.md) [ok](#a-b) [ok](other.md#two-words-and-code) [web](https://example.org/x.md)", []),
    ("[gone](nowhere.md)", ["docs/page.md:1: nowhere.md: no such file"]),
    ("[bad](#nope)", ["docs/page.md:1: #nope: no heading #nope"]),
    ("[bad](other.md#a-b)", ["docs/page.md:1: other.md#a-b: no heading #a-b"]),
    ("```\n[in code](nowhere.md)\n```\n`[inline](nowhere.md)`", []),
    ("```sh\n# not a heading\n```\n[x](#not-a-heading)", ["docs/page.md:4: #not-a-heading: no heading #not-a-heading"]),
    ("[second](#a-b-1)", []),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_the_link_check_finds_what_leads_nowhere(text, expected):
    page = ROOT / "docs" / "page.md"
    files = {page: f"{text}\n\n# A: b\n\n## A b\n", ROOT / "docs" / "other.md": "# Two words, and `code`\n"}
    assert problems(files) == expected


def test_every_relative_link_in_the_docs_leads_somewhere():
    assert problems(pages()) == []


def test_every_docs_page_is_on_the_readme_map():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in LINK.findall((ROOT / "README.md").read_text())}
    assert [path.name for path in sorted((ROOT / "docs").glob("*.md")) if path not in linked] == []
