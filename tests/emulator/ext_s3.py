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

PutBucketReplication also needs versioning Enabled on the destination
bucket, not only the source (S3 User Guide, "Requirements and
considerations for replication": "Both source and destination buckets must
have S3 Versioning enabled"); AWS answers InvalidRequest "Destination
bucket must have versioning enabled.". moto 5.2.5 checks the source only.

Replication Time Control: `ReplicationTime.Time.Minutes` and
`Metrics.EventThreshold.Minutes` have one valid value, 15 (S3 API
Reference, ReplicationTimeValue: "Valid value: 15"), and RTC needs metrics
enabled (Metrics: "required when ReplicationTime is enabled"). moto 5.2.5
takes any value; here both are refused with InvalidRequest (the message
is ours).

PutBucketVersioning takes `Enabled` or `Suspended` only (S3 API Reference,
VersioningConfiguration `Status`: "Valid Values: Enabled | Suspended"; a
bucket once versioned never returns to unversioned, S3 User Guide,
"Retaining multiple versions of objects with S3 Versioning"); anything
else is MalformedXML. moto 5.2.5 stores any word.

Every bucket has default encryption: since January 5, 2023 S3 applies
SSE-S3 to every bucket without a configuration of its own (S3 User Guide,
"Setting default server-side encryption behavior for Amazon S3 buckets"),
so GetBucketEncryption of a bucket never configured (or whose
configuration was deleted) answers `AES256`, never
ServerSideEncryptionConfigurationNotFoundError. moto 5.2.5 answers that
error.

DeleteObjects takes at most 1,000 keys (S3 API Reference, DeleteObjects:
"up to 1,000 keys"; more is MalformedXML), and ListObjectVersions returns
at most 1,000 versions and delete markers together whatever `max-keys`
asks (ListObjectVersions, `MaxKeys`: "The response might contain fewer
keys but will never contain more"). moto 5.2.5 takes any number in one
DeleteObjects and honours any `max-keys`.
"""

MAX_KEYS = 1000


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

    from moto.s3.exceptions import MalformedXML, MissingBucket, S3ClientError
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
            destination = rule.get("Destination") or {}
            target = str(destination.get("Bucket") or "").rsplit(":::", 1)[-1]
            if target:
                try:
                    versioned = self.get_bucket(target).versioning_status == "Enabled"
                except MissingBucket:
                    raise S3ClientError("InvalidRequest", "Destination bucket must exist.")
                if not versioned:
                    raise S3ClientError(
                        "InvalidRequest", "Destination bucket must have versioning enabled."
                    )
            rtc = destination.get("ReplicationTime") or {}
            if rtc.get("Status") == "Enabled":
                metrics = destination.get("Metrics") or {}
                minutes = [
                    str((rtc.get("Time") or {}).get("Minutes")),
                    str((metrics.get("EventThreshold") or {}).get("Minutes")),
                ]
                if metrics.get("Status") != "Enabled":
                    raise S3ClientError(
                        "InvalidRequest",
                        "Replication Time Control must be used in conjunction with Metrics.",
                    )
                if minutes != ["15", "15"]:
                    raise S3ClientError(
                        "InvalidRequest",
                        "The only valid value of ReplicationTime Time Minutes and Metrics EventThreshold Minutes is 15.",
                    )
        return original_put_bucket_replication(self, bucket_name, replication)

    S3Backend.put_bucket_replication = put_bucket_replication

    original_put_bucket_versioning = S3Backend.put_bucket_versioning

    def put_bucket_versioning(self, bucket_name, status):
        if status not in ("Enabled", "Suspended"):
            raise MalformedXML()
        return original_put_bucket_versioning(self, bucket_name, status)

    S3Backend.put_bucket_versioning = put_bucket_versioning

    original_get_bucket_encryption = S3Backend.get_bucket_encryption

    def get_bucket_encryption(self, bucket_name):
        return original_get_bucket_encryption(self, bucket_name) or {
            "Rule": {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                "BucketKeyEnabled": False,
            }
        }

    S3Backend.get_bucket_encryption = get_bucket_encryption

    original_delete_objects = S3Backend.delete_objects

    def delete_objects(self, bucket_name, objects, *args, **kwargs):
        if len(objects) > MAX_KEYS:
            raise MalformedXML()
        return original_delete_objects(self, bucket_name, objects, *args, **kwargs)

    S3Backend.delete_objects = delete_objects

    original_list_object_versions = S3Backend.list_object_versions

    def list_object_versions(self, bucket_name, *args, **kwargs):
        if kwargs.get("max_keys") is not None:
            kwargs["max_keys"] = min(int(kwargs["max_keys"]), MAX_KEYS)
        return original_list_object_versions(self, bucket_name, *args, **kwargs)

    S3Backend.list_object_versions = list_object_versions
