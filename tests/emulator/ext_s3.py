"""S3 GetBucketReplication returns the rules as they were put.

AWS (S3 API reference, GetBucketReplication, "Response Syntax") returns each
rule's DeleteMarkerReplication and Filter as configured by
PutBucketReplication. moto 5.2.5 always answers DeleteMarkerReplication
Disabled and an empty prefix filter, whatever was put, so a configuration
with delete-marker replication enabled would read back as drifted.
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
            }
            for rule in replication["Rule"]
        ]
        return self.serialized(
            ActionResult({"ReplicationConfiguration": {"Role": replication["Role"], "Rules": rules}})
        )

    responses.S3Response.get_bucket_replication = get_bucket_replication
