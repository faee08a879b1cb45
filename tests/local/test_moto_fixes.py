"""The two moto fixes, against the running local AWS: without them these fail."""

from __future__ import annotations

from smartstack.aws import AwsTarget


def test_each_database_gets_its_own_resource_id(aws: AwsTarget) -> None:
    rds = aws.client("rds")
    for name in ("smartstack-dev-db", "smartstack-staging-db"):
        rds.create_db_instance(
            DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20, MasterUsername="smartstack", MasterUserPassword="x" * 16,
        )  # fmt: skip
    ids = {d["DBInstanceIdentifier"]: d["DbiResourceId"]
           for d in rds.describe_db_instances()["DBInstances"]}  # fmt: skip
    assert len(set(ids.values())) == 2
    found = rds.describe_db_instances(
        Filters=[{"Name": "dbi-resource-id", "Values": [ids["smartstack-staging-db"]]}]
    )["DBInstances"]
    assert [d["DBInstanceIdentifier"] for d in found] == ["smartstack-staging-db"]


def test_tags_sent_at_bucket_creation_are_kept(aws: AwsTarget) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(
        Bucket="smartstack-dev-data-test",
        CreateBucketConfiguration={"Tags": [{"Key": "Environment", "Value": "dev"}]},
    )
    tags = s3.get_bucket_tagging(Bucket="smartstack-dev-data-test")["TagSet"]
    assert tags == [{"Key": "Environment", "Value": "dev"}]
