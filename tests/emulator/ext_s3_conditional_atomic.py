"""S3 conditional writes are atomic.

AWS (S3 User Guide, "How to prevent object overwrites with conditional
writes"; S3 API reference, PutObject, `If-Match` / `If-None-Match`) compares
the key's current ETag (or its absence) and writes in one step: of
concurrent conditional writes to one key, one succeeds and the others answer
412 PreconditionFailed or 409 ConditionalRequestConflict. Conditional
deletes (S3 User Guide, "How to perform conditional deletes"; DeleteObject,
`If-Match`) likewise. moto 5.2.5 checks the condition, then writes, in a
threaded server without a lock, so two requests can both pass the check:
two runs taking over a lapsed lock lease would both win. Every PutObject
and DeleteObject is serialised here, so the check and the write of one
request happen with no other write of the key in between.
"""

import threading


def apply() -> None:
    from moto.s3 import responses

    one_write_at_a_time = threading.RLock()

    def serialised(original):
        def write(self):
            with one_write_at_a_time:
                return original(self)

        return write

    for name in ("put_object", "delete_object"):
        setattr(
            responses.S3Response,
            name,
            serialised(getattr(responses.S3Response, name)),
        )
