"""S3 GetBucketReplication returns the rules as they were put.

AWS (S3 API reference, GetBucketReplication, "Response Syntax") returns each
rule's DeleteMarkerReplication and Filter as configured by
PutBucketReplication. moto 5.2.5 always answers DeleteMarkerReplication
Disabled and an empty prefix filter, whatever was put, so a configuration
with delete-marker replication enabled would read back as drifted. Its
SourceSelectionCriteria (which selects SSE-KMS objects) is returned too.

PutBucketReplication with a rule that selects SSE-KMS encrypted objects
(SourceSelectionCriteria SseKmsEncryptedObjects Enabled) but names no
ReplicaKmsKeyID in its destination's EncryptionConfiguration fails with
InvalidRequest "ReplicaKmsKeyID must be specified if SseKmsEncryptedObjects
tag is present." (S3 User Guide, "Replicating objects created with
server-side encryption (SSE-C, SSE-S3, SSE-KMS, DSSE-KMS)": both elements
go together); moto accepts it.
"""


def apply() -> None:
    from moto.core.responses import ActionResult
    from moto.s3 import responses
    from moto.s3.exceptions import ReplicationConfigurationNotFoundError

    def get_bucket_replication(self):
        self.data["Action"] = "GetBucketReplication"
        replication = self.backend.get_bucket_replication(self.bucket_name)
        if not replication:
            raise ReplicationConfigurationNotFoundError(bucket_name=self.bucket_name)
        rules = [
            {
                "ID": rule["ID"],
                "Priority": rule["Priority"],
                "Status": rule["Status"],
                "DeleteMarkerReplication": rule.get("DeleteMarkerReplication", {"Status": "Disabled"}),
                "Filter": rule.get("Filter") or {"Prefix": ""},
                "Destination": rule["Destination"],
                **(
                    {"SourceSelectionCriteria": rule["SourceSelectionCriteria"]}
                    if rule.get("SourceSelectionCriteria")
                    else {}
                ),
            }
            for rule in replication["Rule"]
        ]
        return self.serialized(
            ActionResult({"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}})
        )

    responses.S3Response.get_bucket_replication = get_bucket_replication

    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import S3Backend

    original_put_bucket_replication = S3Backend.put_bucket_replication

    def put_bucket_replication(self, bucket_name, replication):
        rules = replication.get("Rule")
        for rule in rules if isinstance(rules, list) else [rules or {}]:
            selection = (rule.get("SourceSelectionCriteria") or {}).get(
                "SseKmsEncryptedObjects"
            ) or {}
            encryption = (rule.get("Destination") or {}).get("EncryptionConfiguration") or {}
            if selection.get("Status") == "Enabled" and not encryption.get("ReplicaKmsKeyID"):
                raise S3ClientError(
                    "InvalidRequest",
                    "ReplicaKmsKeyID must be specified if SseKmsEncryptedObjects tag is present.",
                )
        return original_put_bucket_replication(self, bucket_name, replication)

    S3Backend.put_bucket_replication = put_bucket_replication
