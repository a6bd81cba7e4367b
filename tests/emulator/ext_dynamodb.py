"""DynamoDB global tables (version 2019.11.21) as AWS serves them, for moto 5.2.5.

What AWS does (DynamoDB API reference: UpdateTable ReplicaUpdates,
ReplicationGroupUpdate, TableDescription, DeleteTable, TagResource) and
moto 5.2.5 does not (it ignores ReplicaUpdates altogether):

- UpdateTable with ReplicaUpdates Create {RegionName} creates a replica: a
  table of the same name, key schema, indexes, billing mode and stream
  settings in that region. Adding or deleting the table's own region
  through ReplicaUpdates fails with ValidationException.
- DescribeTable in any member region lists the other members under
  Replicas (RegionName, ReplicaStatus ACTIVE) with GlobalTableVersion
  "2019.11.21".
- ReplicaUpdates Delete {RegionName} deletes the replica table and removes
  it from every member's Replicas.
- DeleteTable of a table that has recently sourced a replica fails with
  ValidationException ("Replica cannot be deleted because it has acted as
  a source region for new replica(s) being added to the table in the last
  24 hours"); replicas are removed first. Conservatively, this emulation
  refuses DeleteTable on any member while the global table has replicas.
- TagResource overwrites the value of a tag key that already exists (moto
  appends a second tag with the same key).
- A new replica has neither point-in-time recovery nor the table's tags:
  AWS does not carry them from the source table (DynamoDB Developer Guide,
  global tables, settings not synchronized across replicas; the Terraform
  AWS provider's replica `point_in_time_recovery` and `propagate_tags`
  default to false). UpdateContinuousBackups and TagResource are called in
  the replica's region, on the replica (its ARN names its region). The
  replicas made here start so (moto's defaults for a new table).
- UpdateTable with StreamSpecification StreamEnabled false on a member of
  a global table that has replicas fails with ValidationException
  "One or more parameter values were invalid: Disabling Stream is not
  allowed for a Global Table replica." (DynamoDB Developer Guide, "How
  global tables work", streams: replication uses the table's stream,
  NEW_AND_OLD_IMAGES); moto disables it.
- A stream disabled can be enabled again, which starts a new stream
  (DynamoDB Developer Guide, "Change data capture for DynamoDB Streams":
  "If you disable and then re-enable a stream on the table, a new stream
  is created with a different stream descriptor"); only enabling a stream
  that is enabled fails with ValidationException (API reference,
  UpdateTable StreamSpecification). moto 5.2.5 refuses to enable a stream
  on any table that ever had one (ResourceInUseException "Cannot enable
  stream").

- Encryption with a customer key (DynamoDB Developer Guide, "Encryption at
  rest: How it works", global tables; API reference,
  CreateReplicationGroupMemberAction KMSMasterKeyId, UpdateTable
  SSESpecification): a replica of a table encrypted with a customer key
  needs KMSMasterKeyId, a key of the replica's own region; without one
  UpdateTable fails with ValidationException "One or more parameter values
  were invalid: KMSMasterKeyId must be specified for each replica." (the
  answer AWS gives, quoted in hashicorp/terraform-provider-aws#17422). The
  replica is encrypted with that key (moto made every replica with the
  AWS owned key). UpdateTable SSESpecification changes the table's key
  (moto ignores it).

Replication of items is not emulated; drctl manages tables, not data.
"""

import copy

LOCAL_REGION = (
    "Cannot add, delete, or update the local region through ReplicaUpdates. "
    "Use CreateTable, DeleteTable, or UpdateTable as required."
)


def apply() -> None:
    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    def others(table: Table) -> set:
        # Regions of the other members of the table's global table.
        if not hasattr(table, "replica_regions"):
            table.replica_regions = set()
        return table.replica_regions

    def member(account: str, region: str, name: str) -> Table:
        return dynamodb_backends[account][region].tables[name]

    def customer_key(table: Table):
        # The table's key when it is a customer key, not DynamoDB's.
        spec = table.sse_specification or {}
        key = spec.get("KMSMasterKeyId")
        if not spec.get("Enabled") or not key:
            return None
        from moto.kms import kms_backends

        kms = kms_backends[table.account_id][table.region_name]
        if kms.alias_exists("alias/aws/dynamodb") and key == kms.describe_key(
            "alias/aws/dynamodb"
        ).arn:
            return None
        return key

    def key_region(key: str):
        parts = key.split(":")
        return parts[3] if key.startswith("arn:") and len(parts) > 3 else None

    def create_replica(table: Table, region: str, key=None) -> None:
        if region == table.region_name:
            raise MockValidationException(LOCAL_REGION)
        if customer_key(table) and not key:
            raise MockValidationException(
                "One or more parameter values were invalid: "
                "KMSMasterKeyId must be specified for each replica."
            )
        if key and key_region(key) not in (None, region):
            raise MockValidationException(
                f"One or more parameter values were invalid: KMSMasterKeyId {key} "
                f"is not a key of the replica's region {region}."
            )
        target = dynamodb_backends[table.account_id][region]
        if region in others(table) or table.name in target.tables:
            raise MockValidationException(
                f"Failed to create a the new replica of table with name: '{table.name}' "
                "because one or more replicas already existed as tables."
            )
        stream = table.stream_specification or {}
        replica = target.create_table(
            table.name,
            schema=copy.deepcopy(table.schema),
            throughput=None
            if table.billing_mode == "PAY_PER_REQUEST"
            else copy.deepcopy(table.throughput),
            attr=copy.deepcopy(table.attr),
            global_indexes=[
                {"IndexName": i.name, "KeySchema": i.schema, "Projection": i.projection}
                for i in table.global_indexes
            ],
            indexes=[
                {"IndexName": i.name, "KeySchema": i.schema, "Projection": i.projection}
                for i in table.indexes
            ],
            streams=copy.deepcopy(stream) if stream.get("StreamEnabled") else None,
            billing_mode=table.billing_mode,
            sse_specification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}
            if key
            else None,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )
        group = {table.region_name} | others(table)
        for r in group:
            others(member(table.account_id, r, table.name)).add(region)
        others(replica).update(group)

    def delete_replica(table: Table, region: str) -> None:
        if region == table.region_name:
            raise MockValidationException(LOCAL_REGION)
        if region not in others(table):
            raise MockValidationException(
                f"Replica in region {region} of table {table.name} does not exist"
            )
        dynamodb_backends[table.account_id][region].tables.pop(table.name, None)
        for r in {table.region_name} | others(table):
            if r != region:
                others(member(table.account_id, r, table.name)).discard(region)

    original_update_table = DynamoHandler.update_table

    def update_table(self: DynamoHandler):
        sse = self.body.get("SSESpecification")
        if sse is not None:
            table = self.dynamodb_backend.get_table(self.body["TableName"])
            if sse.get("Enabled"):
                table.sse_specification = {
                    "Enabled": True,
                    "SSEType": "KMS",
                    "KMSMasterKeyId": sse.get("KMSMasterKeyId")
                    or table._get_default_encryption_key(
                        table.account_id, table.region_name
                    ),
                }
            else:
                table.sse_specification = None
            if set(self.body) <= {"TableName", "SSESpecification"}:
                return DynamoResult(table.describe())
        stream = self.body.get("StreamSpecification") or {}
        if "StreamEnabled" in stream and not stream["StreamEnabled"]:
            if others(self.dynamodb_backend.get_table(self.body["TableName"])):
                raise MockValidationException(
                    "One or more parameter values were invalid: Disabling Stream is "
                    "not allowed for a Global Table replica."
                )
        updates = self.body.get("ReplicaUpdates") or []
        if not updates:
            return original_update_table(self)
        table = self.dynamodb_backend.get_table(self.body["TableName"])
        for update in updates:
            if "Create" in update:
                create_replica(
                    table,
                    update["Create"]["RegionName"],
                    update["Create"].get("KMSMasterKeyId"),
                )
            elif "Delete" in update:
                delete_replica(table, update["Delete"]["RegionName"])
        if set(self.body) - {"TableName", "ReplicaUpdates", "SSESpecification"}:
            return original_update_table(self)
        return DynamoResult(table.describe())

    original_describe = Table.describe

    def describe(self: Table, base_key: str = "TableDescription"):
        result = original_describe(self, base_key=base_key)
        regions = sorted(others(self))
        if regions:
            result[base_key]["Replicas"] = [
                {"RegionName": r, "ReplicaStatus": "ACTIVE"} for r in regions
            ]
            result[base_key]["GlobalTableVersion"] = "2019.11.21"
        return result

    original_delete_table = DynamoDBBackend.delete_table

    def delete_table(self: DynamoDBBackend, name: str) -> Table:
        if others(self.get_table(name)):
            raise MockValidationException(
                "Replica cannot be deleted because it has acted as a source region "
                "for new replica(s) being added to the table in the last 24 hours."
            )
        return original_delete_table(self, name)

    def tag_resource(self: DynamoDBBackend, arn: str, tags: dict) -> None:
        for table in self.tables.values():
            if table.table_arn == arn:
                table.tags = [t for t in table.tags if t["Key"] not in tags] + [
                    {"Key": k, "Value": v} for k, v in tags.items()
                ]

    def update_table_streams(self: DynamoDBBackend, table: Table, spec: dict) -> None:
        enabling = spec.get("StreamEnabled") or spec.get("StreamViewType")
        if enabling and (table.stream_specification or {}).get("StreamEnabled"):
            raise MockValidationException("Table already has an enabled stream")
        table.set_stream_specification(spec)

    DynamoHandler.update_table = update_table
    DynamoDBBackend.update_table_streams = update_table_streams
    Table.describe = describe
    DynamoDBBackend.delete_table = delete_table
    DynamoDBBackend.tag_resource = tag_resource
