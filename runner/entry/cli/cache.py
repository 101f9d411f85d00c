"""`cache`: the seed cache (docs/cache.md): its entries and size, `cache clear`."""

from __future__ import annotations

import time

import click

from . import app, console, verbosity

# seed_cache is imported inside the commands: it loads Docker, and every command module loads
# with any maillab command.


@app.group(invoke_without_command=True)
@click.pass_context
@verbosity
def cache(context: click.Context) -> None:
    """The seed cache: old as seeding left it, per scenario, seed and image. Without a
    subcommand: where it is, its entries (least recently used first) and its size."""
    from ...rehearsal.seed_cache import CACHE_MB_ENV, SeedCache  # noqa: PLC0415

    if context.invoked_subcommand is not None:
        return
    store = SeedCache()
    entries = store.entries()
    for entry in entries:
        console.print(f"{entry.key}  {entry.size / 2**20:8.1f} MB  last used "
                      f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(entry.last_used))}")
    console.print(f"{store.root}: {len(entries)} entries, {sum(e.size for e in entries) / 2**20:.1f} MB of "
                  f"{store.cap // 2**20} MB (${CACHE_MB_ENV})")


@cache.command()
@verbosity
def clear() -> None:
    """Remove every entry of the seed cache."""
    from ...rehearsal.seed_cache import SeedCache  # noqa: PLC0415

    store = SeedCache()
    console.print(f"{store.root}: {store.clear()} entries removed")
