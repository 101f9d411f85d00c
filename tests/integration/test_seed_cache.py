"""The seed cache on real containers: a rehearsal from the cache sees the old that seeding made."""

from __future__ import annotations

import logging

import pytest

from maillab.runner.rehearsal.phases import rehearse
from maillab.runner.rehearsal.seed_cache import SeedCache
from maillab.runner.schema.loader import load_scenario

from .conftest import ROOT

RESTORED, SEEDED = "restored on old from the seed cache", "messages written on old"


def without_passwords(user_db: dict) -> dict:
    """The rows but their password column: a keyed digest with each lab's own secret."""
    return {table: {key: {column: value for column, value in row.items() if column != "password"}
                    for key, row in rows.items()} for table, rows in user_db.items()}


@pytest.mark.parametrize("path", [
    "scenarios/bullseye-to-bookworm.yaml",  # ISPmail's tables, doveadm backup
    "scenarios/ispmail-rsync.yaml",  # Roundcube's rows, and old's files copied as they lie (rsync)
    "scenarios/ssh-push-passwd-file.yaml",  # a passwd-file
])
def test_a_rehearsal_from_the_cache_sees_the_old_that_seeding_made(images, tmp_path, monkeypatch, caplog, path):
    monkeypatch.setenv("MAILLAB_CACHE_DIR", str(tmp_path))  # empty: the first run seeds
    caplog.set_level(logging.INFO, logger="maillab")
    scenario = load_scenario(ROOT / path)
    seeded = rehearse(scenario)
    assert seeded.passed, seeded.error or seeded.findings
    assert SEEDED in caplog.text and RESTORED not in caplog.text and len(SeedCache().entries()) == 1
    caplog.clear()
    cached = rehearse(scenario)
    assert cached.passed, cached.error or cached.findings
    assert RESTORED in caplog.text and SEEDED not in caplog.text
    # the baseline: UIDVALIDITYs, UIDs, GUIDs, flags, dates, content, UIDLs, Sieve, rows
    assert cached.baseline.users == seeded.baseline.users
    assert without_passwords(cached.baseline.user_db) == without_passwords(seeded.baseline.user_db)
    if path.endswith("bullseye-to-bookworm.yaml"):  # steps without random Message-IDs: the same hosts at the end
        for attribute in ("old", "new"):
            assert getattr(cached, attribute).users == getattr(seeded, attribute).users, attribute
        # another seed is another old
        caplog.clear()
        other = rehearse(scenario.model_copy(update={"seed": scenario.seed + 1}))
        assert other.passed and SEEDED in caplog.text and len(SeedCache().entries()) == 2
