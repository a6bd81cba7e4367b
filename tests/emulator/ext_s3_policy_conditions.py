"""A policy statement whose condition is not met does not apply.

AWS applies a statement only when its Condition holds (IAM User Guide,
"IAM JSON policy elements: Condition" and "Policy evaluation logic"): a
Deny whose condition is false denies nothing, and a condition on a key
the request does not carry is false (but for the `...IfExists` operators
and `Null`). moto 5.2.5 (moto/iam/policy_conditions.py) evaluates only
StringEquals and takes every other operator as met, and S3 checks the
bucket policy on every object request (moto/s3/responses.py). A bucket
whose policy denies requests without TLS (`Bool` `aws:SecureTransport`
`false`, as drctl's data buckets have) then refuses every PutObject,
GetObject and DeleteObject with 403, where AWS refuses only the ones sent
without TLS.

moto passes the check no request context (the suite's plain HTTP stands
for the HTTPS drctl uses on AWS), so here a statement conditioned on a key
the request does not carry does not apply: the TLS deny itself is not
enforced by the emulator (docs/aws-conformance.md, "Unverified on AWS").
"""


def _applies(conditions, values) -> bool:
    """Whether every key the conditions test is in the request context."""
    values = values or {}
    for operator, keys in conditions.items():
        if operator == "Null" or operator.endswith("IfExists"):
            continue
        if any(key not in values for key in keys):
            return False
    return True


def apply() -> None:
    from moto.iam import access_control

    statement = access_control.IAMPolicyStatement
    original = statement.is_action_permitted

    def is_action_permitted(
        self, action, resource="*", principal=None, incoming_condition_values=None
    ):
        conditions = self._statement.get("Condition")
        if conditions and not _applies(conditions, incoming_condition_values):
            return access_control.PermissionResult.NEUTRAL
        return original(self, action, resource, principal, incoming_condition_values)

    statement.is_action_permitted = is_action_permitted
