"""Start moto's AWS-API emulator on a loopback port for drctl's tests.

Usage: launch.py [--port N]

Prints "PORT <n>" once the server accepts requests. Exits when its
standard input reaches end-of-file (the test process that started it has
gone, whatever way it died) or on SIGTERM/SIGINT.

Emulator extensions (operations moto lacks that drctl needs) are applied
by `extensions.apply()` before the server starts; each is documented there.
"""

import argparse
import os
import sys

# AWS-managed IAM policies (e.g. AWSLambdaVPCAccessExecutionRole) exist in
# moto only with this set.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.moto_server.threaded_moto_server import ThreadedMotoServer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import extensions  # noqa: E402
import lifetime  # noqa: E402
import speed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()

    extensions.apply()
    speed.apply()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    print(f"PORT {port}", flush=True)

    done = lifetime.release_event()
    done.wait()
    server.stop()


if __name__ == "__main__":
    main()
