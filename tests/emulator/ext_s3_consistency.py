"""S3 bucket configuration is eventually consistent after CreateBucket.

AWS (S3 User Guide, "Amazon S3 data consistency model": bucket
configurations have an eventual consistency model; S3 API Reference,
PutBucketVersioning: wait 15 minutes after enabling versioning) does not
promise that a configuration call right after CreateBucket finds the new
bucket: it may answer NoSuchBucket for a while. The Terraform AWS provider
retries NoSuchBucket for two minutes after creating a bucket
(`bucketPropagationTimeout`). moto 5.2.5 sees a new bucket at once.
Modelled narrowly: after CreateBucket, the first configuration Put on that
bucket (tagging, versioning, encryption, lifecycle, public access block,
replication) answers NoSuchBucket once; object calls and reads see it.
"""

import threading

DELAYED = (
    "put_bucket_tagging",
    "put_bucket_versioning",
    "put_bucket_encryption",
    "put_bucket_lifecycle_configuration",
    "put_public_access_block",
    "put_bucket_replication",
)


def apply() -> None:
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import S3Backend

    not_yet_seen = set()
    lock = threading.Lock()

    create_bucket = S3Backend.create_bucket

    def create_bucket_as_aws(self, bucket_name, *args, **kwargs):
        bucket = create_bucket(self, bucket_name, *args, **kwargs)
        with lock:
            not_yet_seen.add(bucket_name)
        return bucket

    S3Backend.create_bucket = create_bucket_as_aws

    def delayed(original):
        def call(self, bucket_name, *args, **kwargs):
            with lock:
                new = bucket_name in not_yet_seen
                not_yet_seen.discard(bucket_name)
            if new:
                raise MissingBucket(bucket=bucket_name)
            return original(self, bucket_name, *args, **kwargs)

        return call

    for name in DELAYED:
        setattr(S3Backend, name, delayed(getattr(S3Backend, name)))
