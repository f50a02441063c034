"""The batch document: the key list one Lambda invocation hands to one Batch (array) job.

Stored at ``layout.batch_key(batch_id)`` in the data bucket; the job receives only its S3 URI
(Batch parameters and Step Functions payloads are small). Child ``i`` of the array converts
``items[i * per_child:(i + 1) * per_child]``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from satrec.cloud.uploads import Upload
from satrec.errors import SatrecError, UsageError

BATCH_FORMAT = "satrec.batch"
BATCH_VERSION = 1
# AWS Batch array jobs have 2..10,000 children; one child runs as a plain job.
MAX_ARRAY_SIZE = 10_000


@dataclass(frozen=True)
class BatchDoc:
    batch_id: str
    per_child: int
    items: list[Upload]

    @property
    def children(self) -> int:
        return -(-len(self.items) // self.per_child) if self.items else 0

    def slice(self, index: int) -> list[Upload]:
        if not 0 <= index < max(self.children, 1):
            raise UsageError(f"array index {index} is outside this batch's {self.children} children")
        return self.items[index * self.per_child:(index + 1) * self.per_child]

    def to_dict(self) -> dict[str, Any]:
        return {"format": BATCH_FORMAT, "version": BATCH_VERSION, "batch_id": self.batch_id,
                "per_child": self.per_child, "items": [u.to_dict() for u in self.items]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> BatchDoc:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SatrecError(f"batch document is not valid JSON: {exc}") from None
        if data.get("format") != BATCH_FORMAT:
            raise SatrecError(f"not a satrec batch document (format {data.get('format')!r})")
        if int(data.get("version", 0)) > BATCH_VERSION:
            raise SatrecError(f"batch document version {data['version']} is newer than this satrec; upgrade satrec")
        return cls(batch_id=str(data["batch_id"]), per_child=int(data["per_child"]),
                   items=[Upload.from_dict(i) for i in data["items"]])


def make_batch(uploads: list[Upload], *, per_child: int) -> BatchDoc:
    """A batch whose id is a digest of its items: a re-delivered SQS batch rewrites the same document."""
    if per_child < 1:
        raise UsageError(f"keys per child must be at least 1, got {per_child}")
    per_child = max(per_child, -(-len(uploads) // MAX_ARRAY_SIZE))
    digest = hashlib.sha256()
    for upload in uploads:
        digest.update(json.dumps(upload.to_dict(), sort_keys=True).encode() + b"\n")
    return BatchDoc(batch_id=digest.hexdigest()[:32], per_child=per_child, items=list(uploads))
