"""S3 CopyObject honours x-amz-copy-source-if-match.

AWS (S3 API reference, CopyObject, "x-amz-copy-source-if-match") copies the
object only if its ETag matches the header, and otherwise answers 412
PreconditionFailed. moto 5.2.5 checks only x-amz-copy-source-if-none-match,
so a copy conditional on the version a process read would copy a newer one.
drctl's S3 state backend backs up the state it read this way.
"""


def apply() -> None:
    from moto.s3 import responses
    from moto.s3.exceptions import PreconditionFailed
    from urllib.parse import parse_qs, unquote, urlparse

    original = responses.S3Response.copy_object

    def copy_object(self):
        expected = self.headers.get("x-amz-copy-source-if-match")
        if expected:
            source = self.headers.get("x-amz-copy-source")
            if isinstance(source, bytes):
                source = source.decode("utf-8")
            parsed = urlparse(source)
            bucket, key = unquote(parsed.path).lstrip("/").split("/", 1)
            version = parse_qs(parsed.query).get("versionId", [None])[0]
            current = self.backend.get_object(bucket, key, version_id=version)
            if current is not None and expected.strip('"') != current.etag.strip('"'):
                raise PreconditionFailed(failed_condition="x-amz-copy-source-If-Match")
        return original(self)

    responses.S3Response.copy_object = copy_object
