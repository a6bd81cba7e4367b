"""Per-request costs of moto's server (pinned in requirements.txt), removed
for drctl's tests. Unlike the `ext_*.py` extensions these change nothing
that a client can observe: each caches the result of a pure lookup, or
silences a log line nobody reads.

Measured (py-spy on moto 5.2.5, a full apply with the S3 state backend,
steady state): the dispatcher lists moto's package directory (os.listdir and
an isdir per service, ~150 system calls) and matches ~300 URL patterns for
every request, under one lock that serialises all requests; with werkzeug's
per-request log line that was about a fifth of the server's CPU. And a new
server loads each service's model (EC2's is megabytes of JSON) at its first
request, in every request thread that arrives before the first load ends:
a burst of first requests loaded EC2's model a dozen times over.
"""

import functools
import logging

# The services drctl calls, by their botocore names.
SERVICES = (
    "ec2", "s3", "ssm", "sts", "iam", "lambda", "rds", "dynamodb",
    "apigateway", "route53", "sns", "stepfunctions", "cloudwatch",
    "secretsmanager",
)


def apply() -> None:
    from moto import backends
    from moto.moto_server import werkzeug_app

    # The package directory does not change while the server runs.
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    # A host maps to the same backend for the server's lifetime: the URL
    # patterns are fixed at import.
    dispatcher = werkzeug_app.DomainDispatcherApplication
    lookup = dispatcher.get_backend_for_host

    @functools.lru_cache(maxsize=4096)
    def cached(self, host):
        return lookup(self, host)

    dispatcher.get_backend_for_host = lambda self, host: cached(self, host)

    # Every request listed its response class's methods (inspect.getmembers,
    # about 6 % of the server's CPU in a refresh, py-spy on moto 5.2.5) and
    # converted its action's name character by character. Classes gain no
    # method once the extensions have run (before the first request), and
    # the name conversion is pure.
    from moto.core import responses, utils

    @functools.lru_cache(maxsize=None)
    def method_names(clazz):
        return frozenset(utils.method_names_from_class(clazz))

    responses.method_names_from_class = method_names
    responses.camelcase_to_underscores = functools.lru_cache(maxsize=4096)(
        utils.camelcase_to_underscores
    )

    # One INFO line per request, to a stderr the harness discards.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    # Each model once, before the first request (the loads are cached).
    from moto.core.routing import get_service_router
    from moto.core.utils import get_service_model

    for service in SERVICES:
        get_service_model(service)
        get_service_router(service)
