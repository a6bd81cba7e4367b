"""The emulator the handler tests call: moto's server with drctl's
extensions, started in this process the way tests/emulator/launch.py starts
it, on a free loopback port; boto3 reaches it through AWS_ENDPOINT_URL.

In-process, a test can also put moto's backend in a state no API call
holds still (a switchover in progress for as long as the test wants: the
extension finishes a switch at the third DescribeGlobalClusters) and read
what no API returns.
"""

import importlib.util
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAMBDA = ROOT / "crates" / "drctl-blueprint" / "lambda"
ACCOUNT = "123456789012"

_endpoint = None


def start() -> str:
    """The endpoint of the process's emulator, started on first use."""
    global _endpoint
    if _endpoint is None:
        os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        sys.path.insert(0, str(ROOT / "tests" / "emulator"))
        import extensions
        import speed
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        extensions.apply()
        speed.apply()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        _endpoint = f"http://{host}:{port}"
        # Never real credentials or a real endpoint: every client of this
        # process, the handlers' included, goes to the emulator.
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": _endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)
    return _endpoint


def load_handler(name: str, environment: dict):
    """A fresh import of handler `name`'s index.py with `environment` set
    (the handlers read some variables at import, as Lambda runs them)."""
    start()
    os.environ.update(environment)
    spec = importlib.util.spec_from_file_location(
        f"handler_{name.replace('-', '_')}", LAMBDA / name / "index.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
