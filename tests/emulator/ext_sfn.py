"""Step Functions: asynchronous deletion, a deleted machine's tags, and a
role IAM has not yet propagated.

- DeleteStateMachine is asynchronous: "It sets the state machine's status to
  DELETING and begins the deletion process" (Step Functions API Reference,
  DeleteStateMachine). Until the machine is gone, DescribeStateMachine
  answers it with `status` `DELETING`, ListStateMachines still lists it, and
  CreateStateMachine of the same name, UpdateStateMachine and StartExecution
  fail with StateMachineDeleting, "The specified state machine is being
  deleted." (HTTP 400; API Reference, CreateStateMachine, UpdateStateMachine
  and StartExecution, Errors). moto 5.2.5 removes the machine at once. Here
  it is DELETING for DRCTL_EMU_SFN_DELETE_SECONDS (default 2 s; on AWS
  seconds, or as long as an execution runs), then gone.

- A deleted state machine's tags go with it: on AWS, tags belong to the
  resource, and a new state machine of the same name (same ARN) starts with
  only the tags given to CreateStateMachine. moto 5.2.5 keeps the old ARN's
  tags in its tagging service and merges them into the new machine's.

- A role must be assumable by Step Functions when CreateStateMachine or
  UpdateStateMachine (with `roleArn`) is called. A role created moments ago
  is not yet, as IAM changes take time to reach every endpoint (IAM User
  Guide, "Troubleshoot IAM": "Changes that I make are not always
  immediately visible"); Step Functions then answers AccessDeniedException
  "Neither the global service principal states.amazonaws.com, nor the
  regional one is authorized to assume the provided role." (API Reference,
  CreateStateMachine and UpdateStateMachine, Errors: AccessDeniedException),
  as it does for a role that does not exist. moto 5.2.5 checks only the
  ARN's form. Here a role is refused while it does not exist or its
  CreateDate is less than DRCTL_EMU_IAM_PROPAGATION_SECONDS old (default
  3 s; on AWS usually seconds, documented as unbounded).
"""

import os
import threading
import time

_LOCK = threading.Lock()
# A state machine being deleted carries `_drctl_gone_at`: the monotonic
# time at which it is gone.
_GONE_AT = "_drctl_gone_at"

ROLE_NOT_ASSUMABLE = (
    "Neither the global service principal states.amazonaws.com, nor the regional "
    "one is authorized to assume the provided role."
)


def _delete_seconds() -> float:
    return float(os.environ.get("DRCTL_EMU_SFN_DELETE_SECONDS", "2"))


def _propagation_seconds() -> float:
    return float(os.environ.get("DRCTL_EMU_IAM_PROPAGATION_SECONDS", "3"))


def _deleting(sm) -> bool:
    return getattr(sm, _GONE_AT, None) is not None


def apply() -> None:
    from moto.core.exceptions import AWSError
    from moto.core.utils import utcnow
    from moto.utilities.utils import get_partition
    from moto.iam.models import iam_backends
    from moto.stepfunctions.models import StepFunctionBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    class StateMachineDeleting(AWSError):
        TYPE = "StateMachineDeleting"
        STATUS = 400

    class AccessDeniedException(AWSError):
        TYPE = "AccessDeniedException"
        STATUS = 400

    delete_state_machine = StepFunctionBackend.delete_state_machine

    def purge(backend) -> None:
        """Removes the machines whose deletion has finished, with their tags."""
        now = time.monotonic()
        with _LOCK:
            gone = [
                sm
                for sm in backend.state_machines
                if _deleting(sm) and getattr(sm, _GONE_AT) <= now
            ]
            for sm in gone:
                delete_state_machine(backend, sm.arn)
                backend.tagger.delete_all_tags_for_resource(sm.arn)

    def machine(backend, arn):
        return next((sm for sm in backend.state_machines if sm.arn == arn), None)

    def refuse_if_deleting(backend, arn) -> None:
        sm = machine(backend, arn)
        if sm is not None and _deleting(sm):
            raise StateMachineDeleting("The specified state machine is being deleted.")

    def check_role(role_arn) -> None:
        parts = (role_arn or "").split(":")
        if len(parts) < 6 or not parts[5].startswith("role/"):
            return  # moto's own check of the ARN's form answers
        account, name = parts[4], parts[5].rsplit("/", 1)[-1]
        role = next(
            (r for r in iam_backends[account]["global"].get_roles() if r.name == name),
            None,
        )
        if role is None or (utcnow() - role.create_date).total_seconds() < _propagation_seconds():
            raise AccessDeniedException(ROLE_NOT_ASSUMABLE)

    def with_purge(original):
        def call(self, *args, **kwargs):
            purge(self)
            return original(self, *args, **kwargs)

        return call

    for name in (
        "describe_state_machine",
        "list_state_machines",
        "list_tags_for_resource",
        "tag_resource",
        "untag_resource",
        "iter_tagged_resources",
    ):
        setattr(StepFunctionBackend, name, with_purge(getattr(StepFunctionBackend, name)))

    create_state_machine = StepFunctionBackend.create_state_machine
    update_state_machine = StepFunctionBackend.update_state_machine
    start_execution = StepFunctionBackend.start_execution

    def create(self, name, definition, roleArn, *args, **kwargs):
        purge(self)
        partition = get_partition(self.region_name)
        arn = f"arn:{partition}:states:{self.region_name}:{self.account_id}:stateMachine:{name}"
        refuse_if_deleting(self, arn)
        if machine(self, arn) is None:
            # A resend of a create that happened answers the first machine
            # (CreateStateMachine is idempotent), whatever its role.
            check_role(roleArn)
        return create_state_machine(self, name, definition, roleArn, *args, **kwargs)

    def update(self, arn, *args, **kwargs):
        purge(self)
        refuse_if_deleting(self, arn)
        role_arn = kwargs.get("role_arn", args[1] if len(args) > 1 else None)
        if role_arn:
            check_role(role_arn)
        return update_state_machine(self, arn, *args, **kwargs)

    def start(self, state_machine_arn, *args, **kwargs):
        purge(self)
        refuse_if_deleting(self, state_machine_arn)
        return start_execution(self, state_machine_arn, *args, **kwargs)

    def delete(self, arn):
        purge(self)
        self._validate_machine_arn(arn)
        sm = machine(self, arn)
        if sm is not None and not _deleting(sm):
            with _LOCK:
                setattr(sm, _GONE_AT, time.monotonic() + _delete_seconds())
        if _delete_seconds() <= 0:
            purge(self)

    StepFunctionBackend.create_state_machine = create
    StepFunctionBackend.update_state_machine = update
    StepFunctionBackend.start_execution = start
    StepFunctionBackend.delete_state_machine = delete

    describe = StepFunctionResponse._describe_state_machine

    def describe_with_status(self, state_machine_arn):
        result = describe(self, state_machine_arn)
        sm = machine(self.stepfunction_backend, state_machine_arn)
        if sm is not None and _deleting(sm) and isinstance(result.result, dict):
            result.result["status"] = "DELETING"
        return result

    StepFunctionResponse._describe_state_machine = describe_with_status
