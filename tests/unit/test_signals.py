"""A signal after the outcome is decided changes nothing, up to the process's very end: the
interpreter's finalization gives a Python signal handler's signal its default action back, and
a Ctrl-C in that moment killed a run that had passed (CI, 2026-12-05)."""

import signal
import subprocess
import sys

# Sends itself the signal while the interpreter tears its modules down: after _PySignal_Fini.
LATE_SIGNAL = """
import os, signal, time
from maillab.lab import signals
signals.install()
signals.settle()
class Late:
    def __del__(self):
        os.kill(os.getpid(), signal.{name})
        time.sleep(0.2)
late = Late()
"""


def test_a_signal_while_the_interpreter_ends_after_settle_changes_nothing():
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        ended = subprocess.run([sys.executable, "-c", LATE_SIGNAL.format(name=signum.name)], timeout=30)
        assert ended.returncode == 0, signum.name
