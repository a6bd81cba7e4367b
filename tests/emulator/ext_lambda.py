"""Lambda: a statement id is unique within a function's resource policy.

On AWS, AddPermission with a StatementId the policy already holds fails with
ResourceConflictException (HTTP 409): "The statement id (ID) provided already
exists. Please provide a new statement id, or remove the existing statement."
(AWS Lambda API Reference, AddPermission, Errors). moto 5.2.5 appends a
second statement with the same Sid. drctl meets this when a response to
AddPermission is lost and the call is sent again.
"""

import json


def apply() -> None:
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.policy import Policy

    class ResourceConflictException(LambdaClientError):
        code = 409

        def __init__(self, message: str):
            super().__init__("ResourceConflictException", message)

    original = Policy.add_statement

    def add_statement(self, raw, qualifier=None):
        sid = json.loads(raw).get("StatementId")
        if sid and any(s.get("Sid") == sid for s in self.statements):
            raise ResourceConflictException(
                f"The statement id ({sid}) provided already exists. Please provide a "
                "new statement id, or remove the existing statement."
            )
        return original(self, raw, qualifier)

    Policy.add_statement = add_statement
