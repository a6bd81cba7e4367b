"""How a launcher learns that its emulator should stop.

The test harness holds the launcher's stdin open for as long as it needs
the emulator and stops it by closing stdin (or by its process id, SIGTERM).
Both launchers (moto, LocalStack) share this contract.
"""

import signal
import sys
import threading


def release_event() -> threading.Event:
    """An event set on SIGTERM, SIGINT or end of stdin."""
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())

    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    return done
