"""Lambda: statement ids, and the asynchronous function states.

- A statement id is unique within a function's resource policy. On AWS,
  AddPermission with a StatementId the policy already holds fails with
  ResourceConflictException (HTTP 409): "The statement id (ID) provided
  already exists. Please provide a new statement id, or remove the existing
  statement." (AWS Lambda API Reference, AddPermission, Errors). moto 5.2.5
  appends a second statement with the same Sid. drctl meets this when a
  response to AddPermission is lost and the call is sent again.

- A new function is `Pending` before it is `Active`. On AWS, CreateFunction
  answers `State` `Pending` (StateReasonCode `Creating`) while Lambda sets up
  the function's resources (a VPC function's network interfaces: minutes);
  meanwhile UpdateFunctionConfiguration, UpdateFunctionCode and
  PublishVersion fail with ResourceConflictException (409) "The operation
  cannot be performed at this time. The function is currently in the
  following state: Pending" (AWS Lambda Developer Guide, "Lambda function
  states": "The following operations fail while function creation is
  pending"; Lambda API Reference, UpdateFunctionConfiguration, Errors:
  ResourceConflictException, "another operation is in progress").
  `LastUpdateStatus` is first set to `Successful` after creation completes
  (Lambda API Reference, FunctionConfiguration). moto 5.2.5 answers `Active`
  at once.

- An update is asynchronous. After UpdateFunctionConfiguration or
  UpdateFunctionCode, `LastUpdateStatus` is `InProgress` (`State` stays
  `Active`), then `Successful`; meanwhile another update, or PublishVersion,
  fails with ResourceConflictException (409) "The operation cannot be
  performed at this time. An update is in progress for resource: <function
  ARN>" (Developer Guide, "Lambda function states", "Function states while
  updating": "The following operations fail while an asynchronous update is
  in progress"). moto 5.2.5 answers `Successful` at once and never refuses.

Here a function stays `Pending` (an update `InProgress`) until both
DRCTL_EMU_LAMBDA_PENDING_SECONDS (DRCTL_EMU_LAMBDA_UPDATE_SECONDS) have
passed, default 1 s each, and a later call has seen it so: a read
(GetFunction, GetFunctionConfiguration, ListFunctions) that answered it, or
an update refused because of it. The create's or update's own response does
not count, so whoever does not wait sees the state at least once, whatever
the machine's load. On AWS it is seconds for most functions and minutes for
a VPC function.

The LambdaBackend methods are wrapped, never replaced: `ext_lambda_eni.py`
wraps create_function, delete_function and update_function_configuration
after this module (modules apply in name order), and calls through to these.
"""

import json
import os
import threading
import time

_LOCK = threading.Lock()
# What a function object carries while it is busy: `_drctl_busy` =
# {"state": "Pending" | "InProgress", "since": monotonic time,
#  "seen": whether a call after the create or update has seen it}.
_BUSY = "_drctl_busy"


def _seconds(state: str) -> float:
    name = "PENDING" if state == "Pending" else "UPDATE"
    return float(os.environ.get(f"DRCTL_EMU_LAMBDA_{name}_SECONDS", "1"))


def _busy(fn, seen: bool) -> str | None:
    """`Pending`, `InProgress`, or None once the function is idle. `seen`
    records that this call shows the state to its caller."""
    with _LOCK:
        busy = getattr(fn, _BUSY, None)
        if busy is None:
            return None
        if busy["seen"] and time.monotonic() - busy["since"] >= _seconds(busy["state"]):
            setattr(fn, _BUSY, None)
            return None
        if seen:
            busy["seen"] = True
        return busy["state"]


def _mark(fn, state: str) -> None:
    with _LOCK:
        setattr(fn, _BUSY, {"state": state, "since": time.monotonic(), "seen": False})


def _unqualified_arn(fn) -> str:
    arn = fn.function_arn
    return arn[: -len(":$LATEST")] if arn.endswith(":$LATEST") else arn


def _statement_ids() -> None:
    from moto.awslambda.policy import Policy

    original = Policy.add_statement

    def add_statement(self, raw, qualifier=None):
        sid = json.loads(raw).get("StatementId")
        if sid and any(s.get("Sid") == sid for s in self.statements):
            raise _conflict(
                f"The statement id ({sid}) provided already exists. Please provide a "
                "new statement id, or remove the existing statement."
            )
        return original(self, raw, qualifier)

    Policy.add_statement = add_statement


def _conflict(message: str):
    from moto.awslambda.exceptions import LambdaClientError

    class ResourceConflictException(LambdaClientError):
        code = 409

        def __init__(self, message: str):
            super().__init__("ResourceConflictException", message)

    return ResourceConflictException(message)


def _refuse_while_busy(fn) -> None:
    """ResourceConflictException for an update or publish of a busy function."""
    state = _busy(fn, seen=True)
    if state == "Pending":
        raise _conflict(
            "The operation cannot be performed at this time. The function is "
            "currently in the following state: Pending"
        )
    if state == "InProgress":
        raise _conflict(
            "The operation cannot be performed at this time. An update is in "
            f"progress for resource: {_unqualified_arn(fn)}"
        )


def _function_states() -> None:
    from moto.awslambda.models import LambdaBackend, LambdaFunction

    get_configuration = LambdaFunction.get_configuration

    def configuration(self, on_create: bool = False):
        config = get_configuration(self, on_create)
        state = _busy(self, seen=not on_create)
        if state == "Pending":
            config["State"] = "Pending"
            config["StateReason"] = "The function is being created."
            config["StateReasonCode"] = "Creating"
            config.pop("LastUpdateStatus", None)
        elif state == "InProgress":
            config["LastUpdateStatus"] = "InProgress"
        return config

    LambdaFunction.get_configuration = configuration

    create_function = LambdaBackend.create_function
    update_configuration = LambdaBackend.update_function_configuration
    update_code = LambdaBackend.update_function_code
    publish_version = LambdaBackend.publish_version

    def lambda_create_function(self, spec):
        fn = create_function(self, spec)
        latest = self.get_function(fn.function_name)
        _mark(latest, "Pending")
        if fn is not latest:
            _mark(fn, "Pending")
        return fn

    def lambda_update_function_configuration(self, function_name, qualifier, body):
        fn = self.get_function(function_name, qualifier)
        _refuse_while_busy(fn)
        result = update_configuration(self, function_name, qualifier, body)
        _mark(fn, "InProgress")
        if isinstance(result, dict):
            result["LastUpdateStatus"] = "InProgress"
        return result

    def lambda_update_function_code(self, function_name, qualifier, body):
        fn = self.get_function(function_name, qualifier)
        _refuse_while_busy(fn)
        result = update_code(self, function_name, qualifier, body)
        if not body.get("DryRun"):
            _mark(fn, "InProgress")
            if isinstance(result, dict):
                result["LastUpdateStatus"] = "InProgress"
        return result

    def lambda_publish_version(self, function_name, description=""):
        _refuse_while_busy(self.get_function(function_name))
        return publish_version(self, function_name, description)

    LambdaBackend.create_function = lambda_create_function
    LambdaBackend.update_function_configuration = lambda_update_function_configuration
    LambdaBackend.update_function_code = lambda_update_function_code
    LambdaBackend.publish_version = lambda_publish_version


def apply() -> None:
    _statement_ids()
    _function_states()
