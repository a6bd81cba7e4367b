"""Route 53: a DELETE change must name a record set that exists, with its
current values, where moto 5.2.5 is lenient.

"To delete a resource record set, you must specify all the same values that
you specified when you created it" (Route 53 API Reference,
ChangeResourceRecordSets, `DELETE`); otherwise the whole batch is refused
with InvalidChangeBatch: "Tried to delete resource record set [name='...',
type='...'] but it was not found", or "... but the values provided do not
match the current values". moto checks the values only for record sets
with TTL and records: an alias set is deleted by name and type, one with a
SetIdentifier by the identifier alone (whatever its name), and a DELETE of a
set that does not exist succeeds.

Here a DELETE finds its set by name (case-insensitive, final dot optional),
type and SetIdentifier, and compares TTL, records, weight, health check,
failover, region and alias target (DNS name case-insensitive, final dot
optional) before moto applies the batch.
"""


def _name(n) -> str:
    return (n or "").lower().rstrip(".")


def _text(v) -> str | None:
    return None if v is None else str(v).lower()


def _alias(a) -> tuple | None:
    if not a:
        return None
    return (
        _name(a.get("DNSName")),
        a.get("HostedZoneId"),
        _text(a.get("EvaluateTargetHealth")),
    )


def _records(records) -> list:
    values = []
    for r in records or []:
        values.append(r.get("Value") if isinstance(r, dict) else r)
    return sorted(values)


def _values(ttl, records, weight, health, failover, region, alias) -> tuple:
    return (
        _text(ttl),
        _records(records),
        _text(weight),
        health or None,
        failover or None,
        region or None,
        _alias(alias),
    )


def _describe(rrset) -> str:
    what = f"name='{_name(rrset.get('Name'))}.', type='{rrset.get('Type')}'"
    if rrset.get("SetIdentifier"):
        what += f", set-identifier='{rrset['SetIdentifier']}'"
    return what


def apply() -> None:
    from moto.route53.exceptions import Route53ClientError
    from moto.route53.models import Route53Backend

    class InvalidChangeBatch(Route53ClientError):
        def __init__(self, message: str):
            super().__init__("InvalidChangeBatch", message)

    original = Route53Backend.change_resource_record_sets

    def change_resource_record_sets(self, zoneid, change_list):
        zone = self.get_hosted_zone(zoneid)
        for change in change_list:
            if change.get("Action") != "DELETE":
                continue
            wanted = change["ResourceRecordSet"]
            current = next(
                (
                    s
                    for s in zone.rrsets
                    if _name(s.name) == _name(wanted.get("Name"))
                    and s.type == wanted.get("Type")
                    and (s.set_identifier or None) == (wanted.get("SetIdentifier") or None)
                ),
                None,
            )
            if current is None:
                raise InvalidChangeBatch(
                    f"Tried to delete resource record set [{_describe(wanted)}] but it was not found"
                )
            have = _values(
                current.ttl,
                current.records,
                current.weight,
                current.health_check_id,
                current.failover,
                current.region,
                current.alias_target,
            )
            asked = _values(
                wanted.get("TTL"),
                wanted.get("ResourceRecords"),
                wanted.get("Weight"),
                wanted.get("HealthCheckId"),
                wanted.get("Failover"),
                wanted.get("Region"),
                wanted.get("AliasTarget"),
            )
            if have != asked:
                raise InvalidChangeBatch(
                    f"Tried to delete resource record set [{_describe(wanted)}] but the values provided do not match the current values"
                )
        return original(self, zoneid, change_list)

    Route53Backend.change_resource_record_sets = change_resource_record_sets
