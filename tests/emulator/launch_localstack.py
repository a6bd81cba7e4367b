"""Start LocalStack (host mode, no Docker) on a loopback port for drctl's tests.

Usage: launch_localstack.py [--port N]   (run with LocalStack's venv python)

The same contract as launch.py (moto): prints "PORT <n>" once LocalStack
answers its health endpoint, and exits when its standard input reaches
end-of-file (the test process that started it has gone, whatever way it
died) or on SIGTERM/SIGINT. LocalStack runs in a process group of its own,
which is killed as a whole on exit, and its files live in a temporary
directory that is removed.

LocalStack's deviations from AWS that drctl's tests meet are corrected by
localstack_extensions.py, which starts LocalStack's runtime.

LocalStack is kept on loopback and offline: its DNS server (0.0.0.0:53 by
default) is off, and nothing is downloaded or reported at run time.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lifetime  # noqa: E402

# LocalStack's startup is measured at ~20 s on a 2-core machine; a cold
# start with every service plugin loaded stays well below this.
STARTUP_LIMIT_SECONDS = 180
SHUTDOWN_GRACE_SECONDS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/_localstack/health", timeout=2
        ) as r:
            return r.status == 200
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--log", help="file for LocalStack's own output (default: discarded)")
    args = parser.parse_args()
    port = args.port or free_port()

    root = tempfile.mkdtemp(prefix="drctl-localstack-")
    env = dict(
        os.environ,
        GATEWAY_LISTEN=f"127.0.0.1:{port}",
        # The default server (twisted) binds every interface whatever
        # GATEWAY_LISTEN says; hypercorn binds the address given.
        GATEWAY_SERVER="hypercorn",
        LOCALSTACK_VOLUME_DIR=root,
        FILESYSTEM_ROOT=root,
        DNS_ADDRESS="0",
        SKIP_SSL_CERT_DOWNLOAD="1",
        DISABLE_EVENTS="1",
        PERSISTENCE="0",
    )
    log = open(args.log, "ab") if args.log else subprocess.DEVNULL
    proc = subprocess.Popen(
        # LocalStack's runtime with the fixes of localstack_extensions.py.
        [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "localstack_extensions.py")],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    # Its state is thrown away, so a shutdown that lingers (measured: up
    # to ~30 s after a busy run) is cut short.
    def stop() -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=SHUTDOWN_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
        shutil.rmtree(root, ignore_errors=True)

    done = lifetime.release_event()

    started = time.monotonic()
    while not healthy(port):
        if proc.poll() is not None or done.is_set():
            stop()
            sys.exit(f"LocalStack exited before it was ready (status {proc.returncode})")
        if time.monotonic() - started > STARTUP_LIMIT_SECONDS:
            stop()
            sys.exit(f"LocalStack was not ready within {STARTUP_LIMIT_SECONDS} s")
        time.sleep(0.2)
    print(f"PORT {port}", flush=True)
    print(f"READY_AFTER {time.monotonic() - started:.1f}", file=sys.stderr, flush=True)

    done.wait()
    stop()


if __name__ == "__main__":
    main()
