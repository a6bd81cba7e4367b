"""Fixes and additions to moto (pinned in requirements.txt) for drctl's tests.

Each extension is small, faithful to the AWS API reference, and listed in
docs/resources.md. drctl itself never has emulator-only branches: when the
emulator falls short of AWS, the emulator is corrected here.
"""

# S3 REST-XML responses without a payload member are wrapped, on AWS, in the
# root element the S3 API reference documents for each operation (e.g.
# GetBucketVersioning -> <VersioningConfiguration>). moto 5.2.5 serialises
# them as <{Operation}Response>, because botocore's model omits the root
# name; boto3 ignores the root, the AWS SDK for Rust checks it.
S3_ROOT_ELEMENTS = {
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketTagging": "Tagging",
    "GetObjectTagging": "Tagging",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketAcl": "AccessControlPolicy",
    "GetObjectAcl": "AccessControlPolicy",
    "GetBucketLogging": "BucketLoggingStatus",
    "GetBucketWebsite": "WebsiteConfiguration",
    "GetBucketAccelerateConfiguration": "AccelerateConfiguration",
    "GetBucketRequestPayment": "RequestPaymentConfiguration",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "ListBuckets": "ListAllMyBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListObjectVersions": "ListVersionsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "ListParts": "ListPartsResult",
    "DeleteObjects": "DeleteResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
}


def _s3_root_elements() -> None:
    from moto.core import serialize

    original = serialize.S3Serializer._serialized_result_to_response

    def serialized_result_to_response(self, resp, result, shape, serialized_result):
        resp = original(self, resp, result, shape, serialized_result)
        name = self.operation_model.name
        root = S3_ROOT_ELEMENTS.get(name)
        body = resp.get("body")
        if root and isinstance(body, str):
            wrong = f"{name}Response"
            body = body.replace(f"<{wrong}", f"<{root}", 1)
            body = body.replace(f"</{wrong}>", f"</{root}>", 1)
            resp["body"] = body
        return resp

    serialize.S3Serializer._serialized_result_to_response = serialized_result_to_response


def apply() -> None:
    """Install every extension into moto: the S3 fix above, then every
    `ext_*.py` module of this folder (one per service), each with an
    `apply()` of its own."""
    import importlib
    import pathlib

    _s3_root_elements()
    for path in sorted(pathlib.Path(__file__).parent.glob("ext_*.py")):
        importlib.import_module(path.stem).apply()
