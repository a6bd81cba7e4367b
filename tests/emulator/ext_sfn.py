"""Step Functions: a deleted state machine's tags go with it.

On AWS, tags belong to the resource: after DeleteStateMachine, a new state
machine of the same name (same ARN) starts with only the tags given to
CreateStateMachine. moto 5.2.5 keeps the old ARN's tags in its tagging
service and merges them into the new machine's.
"""


def apply() -> None:
    from moto.stepfunctions.models import StepFunctionBackend

    original = StepFunctionBackend.delete_state_machine

    def delete_state_machine(self, arn):
        original(self, arn)
        self.tagger.delete_all_tags_for_resource(arn)

    StepFunctionBackend.delete_state_machine = delete_state_machine
