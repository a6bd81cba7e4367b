"""KMS: a key just created is not at once visible to every operation.

AWS (AWS KMS Developer Guide, "Eventual consistency"; KMS API Reference,
CreateKey) says a change such as a new key may take a moment to be seen by
all KMS endpoints, and a call on a key just created may answer
NotFoundException: callers retry. moto 5.2.5 sees a new key at once.
Modelled narrowly: after CreateKey, the first PutKeyPolicy,
EnableKeyRotation or DisableKeyRotation on that key (by id or ARN)
answers NotFoundException once; other operations (DescribeKey,
ListResourceTags, CreateAlias) and other services' use of the key see it
at once.
"""

import json
import threading

# What drctl's kms.key provider calls first on a key it just created.
DELAYED = ("put_key_policy", "enable_key_rotation", "disable_key_rotation")


def apply() -> None:
    from moto.kms import responses
    from moto.kms.exceptions import NotFoundException

    not_yet_seen = set()
    lock = threading.Lock()

    create_key = responses.KmsResponse.create_key

    def create_key_as_aws(self):
        body = create_key(self)
        key_id = json.loads(body)["KeyMetadata"]["KeyId"]
        with lock:
            not_yet_seen.add(key_id)
        return body

    responses.KmsResponse.create_key = create_key_as_aws

    def delayed(original):
        def call(self):
            key_id = str(self._get_param("KeyId") or "").rsplit("key/", 1)[-1]
            with lock:
                new = key_id in not_yet_seen
                not_yet_seen.discard(key_id)
            if new:
                raise NotFoundException(f"Key '{self._get_param('KeyId')}' does not exist")
            return original(self)

        return call

    for name in DELAYED:
        setattr(responses.KmsResponse, name, delayed(getattr(responses.KmsResponse, name)))
