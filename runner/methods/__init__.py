"""The migration methods: one module per method, named after it (the `method:` a scenario
writes), each registering its executor next to its code with `@executes(<its spec>)`.

Adding a method: its spec in runner/schema/steps.py, its module here (commands only as
`Command` values, run through `context.run`, which masks the lab's secrets and applies the
step's timeout), and a golden row in tests/unit/test_methods.py. Nothing else lists methods:
the spec's list is derived in steps.py, the executors' here.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable

from ..schema import steps
from .context import MigrationContext, StepResult

Executor = Callable[..., list[StepResult]]
EXECUTORS: dict[type[steps.Step], Executor] = {}


def executes(spec: type[steps.Step]) -> Callable[[Executor], Executor]:
    """Register the decorated function as the executor of `spec`'s steps."""
    def register(run: Executor) -> Executor:
        EXECUTORS[spec] = run
        return run
    return register


@functools.cache
def executors() -> dict[type[steps.Step], Executor]:
    """Every method module of this package, found and imported on first use rather than when
    the package loads: the pure modules that use context's records (compare's Arrival) then
    import no Docker."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return EXECUTORS


def execute(step: steps.Step, context: MigrationContext) -> list[StepResult]:
    """Run one step; each of its commands may take the step's timeout."""
    context.timeout, context.describing = step.timeout, step.describe()
    return executors()[type(step)](step, context)
