"""The local AWS: the moto server with two fixes where it departs from AWS.

Run as ``python -m smartstack.local.moto_server -H 127.0.0.1 -p PORT``.  Each
fix makes moto behave as AWS does for a call the AWS provider relies on; with
stock moto 5.2.5 the stacks cannot coexist (see docs/local-platform.md):

* RDS: every instance gets the same ``DbiResourceId``.  The provider finds an
  instance by that id, so the second environment's database "disappears".
  AWS gives each instance its own; here it is derived from the identifier.
* S3: ``CreateBucket`` drops the tags sent in ``CreateBucketConfiguration``, so
  every plan shows a tag change.  AWS stores them.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict  # type: ignore[import-untyped]
from moto.rds import models as rds_models
from moto.s3 import responses as s3_responses


def _unique_dbi_resource_id() -> None:
    original = rds_models.DBInstance.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        seed = f"{self.account_id}/{self.region}/{self.db_instance_identifier}".encode()
        self.dbi_resource_id = "db-" + hashlib.sha1(seed).hexdigest()[:26].upper()

    setattr(rds_models.DBInstance, "__init__", init)  # noqa: B010 - patching a method


def _tags_at_bucket_creation() -> None:
    original = s3_responses.S3Response._bucket_response_put

    def put(self: Any, request: Any, bucket_name: str, querystring: Any) -> Any:
        result = original(self, request, bucket_name, querystring)
        if querystring or not self.body:
            return result
        try:
            config = xmltodict.parse(self.body).get("CreateBucketConfiguration") or {}
        except ExpatError:
            return result
        tags = (config.get("Tags") or {}).get("Tag") or []
        tags = [tags] if isinstance(tags, dict) else tags
        if tags:
            self.backend.put_bucket_tagging(bucket_name, {t["Key"]: t["Value"] for t in tags})
        return result

    setattr(s3_responses.S3Response, "_bucket_response_put", put)  # noqa: B010


def main() -> None:
    _unique_dbi_resource_id()
    _tags_at_bucket_creation()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
