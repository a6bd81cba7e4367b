"""Fails the payment stack over to the secondary region.

Invoked by the Step Functions failover state machine. It moves all Route 53
weight to the secondary record set, then promotes the secondary Aurora
cluster of the global cluster: a planned switchover by default, or an
unplanned failover (data loss allowed) when the event says
`"unplanned": true`. Returns a status dict for the state machine.
"""

import os

import boto3

ENVIRONMENT_SUFFIX = os.environ.get("ENVIRONMENT_SUFFIX", "")
DR_ROLE = os.environ.get("DR_ROLE", "")


def shift_traffic(route53, zone_id, record_name, primary_set, secondary_set):
    """Sets the primary weight to 0 and the secondary's to 100, keeping each
    record set's type, TTL, records and health check as they are."""
    sets = route53.list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName=record_name
    )["ResourceRecordSets"]
    wanted = {primary_set: 0, secondary_set: 100}
    changes = []
    for record in sets:
        if record["Name"].rstrip(".") != record_name.rstrip("."):
            continue
        identifier = record.get("SetIdentifier")
        if identifier in wanted:
            updated = dict(record)
            updated["Weight"] = wanted[identifier]
            changes.append({"Action": "UPSERT", "ResourceRecordSet": updated})
    if len(changes) != 2:
        raise RuntimeError(
            f"weighted records {primary_set!r} and {secondary_set!r} of {record_name} not found"
        )
    change = route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Comment": "drctl failover to secondary", "Changes": changes},
    )
    return change["ChangeInfo"]["Id"]


def promote_secondary(rds, global_cluster_id, secondary_cluster_arn, unplanned):
    if unplanned:
        rds.failover_global_cluster(
            GlobalClusterIdentifier=global_cluster_id,
            TargetDbClusterIdentifier=secondary_cluster_arn,
            AllowDataLoss=True,
        )
        return "failover"
    rds.switchover_global_cluster(
        GlobalClusterIdentifier=global_cluster_id,
        TargetDbClusterIdentifier=secondary_cluster_arn,
    )
    return "switchover"


def handler(event, context):
    event = event or {}
    unplanned = event.get("unplanned") is True
    change_id = shift_traffic(
        boto3.client("route53"),
        os.environ["HOSTED_ZONE_ID"],
        os.environ["RECORD_NAME"],
        os.environ["PRIMARY_SET_ID"],
        os.environ["SECONDARY_SET_ID"],
    )
    operation = promote_secondary(
        boto3.client("rds"),
        os.environ["GLOBAL_CLUSTER_ID"],
        os.environ["SECONDARY_CLUSTER_ARN"],
        unplanned,
    )
    return {
        "status": "FAILOVER_STARTED",
        "environment": ENVIRONMENT_SUFFIX,
        "invokedBy": DR_ROLE,
        "route53ChangeId": change_id,
        "databaseOperation": operation,
        "unplanned": unplanned,
    }
