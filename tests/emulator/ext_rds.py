"""RDS global database operations as AWS serves them, for moto 5.2.5.

What AWS does (RDS API reference) and moto 5.2.5 does not:

- ModifyGlobalCluster changes a global cluster's DeletionProtection; moto
  does not implement the operation.
- DescribeGlobalClusters with a GlobalClusterIdentifier returns that global
  cluster or fails with GlobalClusterNotFoundFault; moto ignores the
  identifier and returns every global cluster.
- DeleteGlobalCluster of an unknown identifier fails with
  GlobalClusterNotFoundFault (moto: an internal error), and of a protected
  one with InvalidParameterCombination.
- RemoveFromGlobalCluster is called in the member's own region (the
  DbClusterIdentifier is the member's ARN) and detaches it: the cluster no
  longer carries the GlobalClusterIdentifier. moto looks the global cluster
  up in the caller's region only, so a secondary in another region is never
  detached, and every failure is silently ignored.
- RemoveFromGlobalCluster of the writer (primary) member while the global
  database has another member is refused: the secondaries are removed
  first, the primary last (Aurora User Guide, "Removing a cluster from an
  Amazon Aurora global database": "You can't detach (remove) the primary
  Aurora DB cluster ... until after you remove all secondary clusters";
  "Deleting an Amazon Aurora global database"). The guide names no error
  code: here InvalidGlobalClusterStateFault, which the API reference lists
  for the call. moto detaches it.
- ModifyDBSubnetGroup updates the group in place; moto removes the group
  from its backend and never puts it back.

- DeleteDBCluster removes the cluster's automated backups unless
  DeleteAutomatedBackups is false ("The default is to remove automated
  backups immediately after the DB cluster is deleted"); moto keeps them,
  and as it names them `rds:<cluster>-<minute>`, re-creating a cluster of
  the same name within the minute fails with
  DBClusterSnapshotAlreadyExistsFault.

- SwitchoverGlobalCluster (planned, no data loss) and FailoverGlobalCluster
  (AllowDataLoss for an unplanned failover, or Switchover) make the
  TargetDbClusterIdentifier (a member's ARN) the writer of the global
  cluster and the former writer a reader; moto implements neither. AWS
  refuses an unknown global cluster (GlobalClusterNotFoundFault), a target
  that is not a member (DBClusterNotFoundFault) or is already the writer
  (InvalidDBClusterStateFault), a global cluster that is not `available`
  (InvalidGlobalClusterStateFault: among others, one whose switchover or
  failover is still in progress), and AllowDataLoss with Switchover
  (InvalidParameterCombination).
- Both are asynchronous (RDS API reference, FailoverState: "This data type
  is empty unless a switchover or failover operation is scheduled or is in
  progress"; Status `pending` while "the global cluster's primary DB
  cluster and the specified secondary DB cluster are being verified before
  the operation starts", then `switching-over` / `failing-over`; Aurora
  User Guide, "Using switchover or failover in Amazon Aurora Global
  Database": Aurora waits for the target to be synchronized, then the
  clusters take their new roles). Here the call leaves the global cluster
  `switching-over` (a switchover) or `failing-over` (AllowDataLoss) with
  FailoverState {Status `pending`, FromDbClusterArn the writer,
  ToDbClusterArn the target, IsDataLossAllowed}; the first
  DescribeGlobalClusters that returns it shows that, the second shows
  FailoverState Status `switching-over` / `failing-over`, both with the
  members' IsWriter unchanged; the third finds the switch done: the target
  is the writer, the global cluster `available`, FailoverState gone.
- Region: the Aurora User Guide's procedures call SwitchoverGlobalCluster
  in the primary's region ("`--region` - Specify the AWS Region where the
  primary DB cluster of the Aurora global database is running",
  "Performing switchovers for Amazon Aurora global databases") and
  FailoverGlobalCluster with AllowDataLoss in the target's ("the AWS
  Region where the secondary DB cluster that you want to be the new
  primary for the Aurora global database is running", "Performing managed
  failovers for Aurora global databases"); FailoverGlobalCluster without
  AllowDataLoss is a switchover (API reference), in the primary's region
  (earlier editions of the guide, "Performing managed planned failovers").
  What AWS answers to a call from another region is not documented: here
  it is refused with InvalidParameterValue (the emulator's choice of code
  and wording), after the documented refusals.

- DeleteDBInstance of the last instance of a global database's writer
  (primary) cluster while the global database has another member fails
  with InvalidDBClusterStateFault: "Cannot delete the last instance of the
  master cluster. Delete the replica cluster before deleting the last
  master cluster instance." (Aurora User Guide, "Deleting an Amazon Aurora
  global database",
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-deleting.html;
  the primary's instances go last). The writer is whichever member
  IsWriter names, so after a switchover or failover the cluster of the
  blueprint's secondary role. moto deletes it.

- DeleteDBInstance is asynchronous: the instance is `deleting` until it
  is gone (the AWS CLI waiter `db-instance-deleted`), and a second
  DeleteDBInstance meanwhile fails with InvalidDBInstanceState "... is
  already being deleted" (the Terraform AWS provider tolerates it, #5624);
  a new instance of its name is refused (DBInstanceAlreadyExists). moto
  deletes at once. Here the first DescribeDBInstances of it after the
  delete shows it `deleting`, and it is gone at the next.

- ManageMasterUserPassword is not supported for "DB clusters that are part
  of an Aurora global database" (Aurora User Guide, "Limitations for
  Secrets Manager integration with Amazon RDS"): CreateDBCluster with both
  it and a GlobalClusterIdentifier, and CreateGlobalCluster from a source
  cluster that manages its password, fail with
  InvalidParameterCombination. moto creates both.
- CreateDBCluster's MasterUserPassword "Must contain from 8 to 41
  characters" and "Can contain any printable ASCII character except" `/`,
  `"` or `@` (RDS API reference, CreateDBCluster), and cannot be given
  with ManageMasterUserPassword; moto only refuses one shorter than 8.
- Engine upgrades of a global database (Aurora User Guide, "Upgrading an
  Amazon Aurora global database"): a major version upgrade is made on the
  global cluster, ModifyGlobalCluster with EngineVersion and
  AllowMajorVersionUpgrade ("Must be enabled if you specify a value for the
  EngineVersion parameter that's a different major version than the
  global cluster's current version", API reference), and upgrades every
  member; ModifyGlobalCluster refuses a minor version (InvalidParameterValue,
  "only supports Major Version Upgrades", as the Terraform AWS provider
  relies on). A minor upgrade is ModifyDBCluster of each member, "all of
  the secondary clusters before you upgrade the primary cluster" (the
  primary's is refused while a secondary runs an older version: "upgrade
  global replicas first"); a member's ModifyDBCluster to another major
  version is refused. The global cluster reports the version all its
  members run. No version is ever lowered (InvalidParameterCombination).
  moto does not implement ModifyGlobalCluster and lets a member change its
  version freely. Here upgrades are immediate; AWS reports `upgrading`
  meanwhile.

Global clusters live in moto's us-east-1 backend (see RDSResponse.
global_backend); their members are DBCluster objects of any region.
"""


def apply() -> None:
    import threading

    from moto.core.responses import ActionResult
    from moto.rds import models
    from moto.rds.exceptions import (
        DBClusterNotFoundError,
        InvalidParameterCombination,
        InvalidParameterValue,
        RDSClientError,
    )
    from moto.rds.responses import RDSResponse

    def not_found(identifier: str) -> RDSClientError:
        return RDSClientError(
            "GlobalClusterNotFoundFault",
            f"Global cluster {identifier} not found",
        )

    def global_cluster(self: RDSResponse, identifier: str):
        found = self.global_backend.global_clusters.get(identifier)
        if found is None:
            raise not_found(identifier)
        return found

    def describe_global_clusters(self: RDSResponse) -> ActionResult:
        identifier = self.params.get("GlobalClusterIdentifier")
        if identifier:
            clusters = [global_cluster(self, identifier)]
            # Only a describe of this global cluster moves its switch on: a
            # listing of every global cluster (another environment's
            # refresh, in a shared emulator) shows it as it is, so the
            # describes a test counts are its own.
            advance_switch(clusters[0])
        else:
            clusters = self.global_backend.describe_global_clusters()
        return ActionResult({"GlobalClusters": clusters})

    def version(text: str) -> tuple:
        return tuple(int(p) for p in str(text).split("."))

    def modify_global_cluster(self: RDSResponse) -> ActionResult:
        cluster = global_cluster(self, self.params["GlobalClusterIdentifier"])
        wanted = self.params.get("EngineVersion")
        if wanted and wanted != cluster.engine_version:
            current = cluster.engine_version
            if version(wanted) < version(current):
                raise InvalidParameterCombination(
                    f"Cannot upgrade {cluster.engine} from {current} to {wanted}"
                )
            if version(wanted)[0] == version(current)[0]:
                raise InvalidParameterValue(
                    "The global cluster only supports Major Version Upgrades; upgrade the minor version of each member cluster."
                )
            if not self.params.get("AllowMajorVersionUpgrade"):
                raise InvalidParameterCombination(
                    "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version."
                )
        if self.params.get("DeletionProtection") is not None:
            cluster.deletion_protection = self.params["DeletionProtection"]
        if wanted:
            cluster.engine_version = wanted
            for member in cluster.members:
                member.engine_version = wanted
        return ActionResult({"GlobalCluster": cluster})

    def delete_global_cluster(self: RDSResponse) -> ActionResult:
        identifier = self.params["GlobalClusterIdentifier"]
        cluster = global_cluster(self, identifier)
        if cluster.deletion_protection:
            raise InvalidParameterCombination(
                "Cannot delete protected Global Cluster, please disable deletion protection and try again."
            )
        cluster = self.global_backend.delete_global_cluster(identifier)
        return ActionResult({"GlobalCluster": cluster})

    def remove_from_global_cluster(self: RDSResponse) -> ActionResult:
        cluster = global_cluster(self, self.params["GlobalClusterIdentifier"])
        member_arn = self.params["DbClusterIdentifier"]
        member = next(
            (m for m in cluster.members if m.db_cluster_arn == member_arn), None
        )
        if member is None:
            raise DBClusterNotFoundError(
                member_arn,
                f"{member_arn} is not a member of {cluster.global_cluster_identifier}",
            )
        if member.is_writer and len(cluster.members) > 1:
            # "You can't detach (remove) the primary Aurora DB cluster from
            # an Aurora global database until after you remove all secondary
            # clusters" (Aurora User Guide, "Removing a cluster from an
            # Amazon Aurora global database",
            # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-detaching.html).
            # The code is one the API reference lists for the call; the
            # wording is the emulator's.
            raise RDSClientError(
                "InvalidGlobalClusterStateFault",
                f"{member_arn} is the primary cluster of {cluster.global_cluster_identifier}: "
                "remove its secondary clusters before the primary.",
            )
        cluster.members.remove(member)
        member.global_cluster_identifier = None
        member.is_writer = False
        return ActionResult({"GlobalCluster": cluster})

    # A switchover or failover in progress: the global cluster's
    # `_drctl_switch` (the target member, how many DescribeGlobalClusters
    # naming it have shown it), advanced by each of those.
    switch_lock = threading.Lock()

    def advance_switch(cluster) -> None:
        with switch_lock:
            switch = cluster.__dict__.get("_drctl_switch")
            if switch is None:
                return
            switch["shown"] += 1
            if switch["shown"] == 2:
                cluster.failover_state = dict(cluster.failover_state, Status=cluster.status)
            elif switch["shown"] >= 3:
                for member in cluster.members:
                    member.is_writer = member is switch["target"]
                cluster.status = "available"
                del cluster.__dict__["_drctl_switch"]
                cluster.__dict__.pop("failover_state", None)

    def region_of(arn: str) -> str:
        # arn:aws:rds:REGION:ACCOUNT:cluster:ID
        parts = arn.split(":")
        return parts[3] if len(parts) > 3 else ""

    def make_writer(self: RDSResponse, operation: str) -> ActionResult:
        # API_SwitchoverGlobalCluster.html / API_FailoverGlobalCluster.html
        cluster = global_cluster(self, self.params["GlobalClusterIdentifier"])
        data_loss = bool(self.params.get("AllowDataLoss"))
        if data_loss and self.params.get("Switchover"):
            raise InvalidParameterCombination(
                "AllowDataLoss and Switchover cannot be specified together."
            )
        target_arn = self.params["TargetDbClusterIdentifier"]
        target = next(
            (m for m in cluster.members if m.db_cluster_arn == target_arn), None
        )
        if target is None:
            raise DBClusterNotFoundError(
                target_arn,
                f"{target_arn} is not a member of {cluster.global_cluster_identifier}",
            )
        if cluster.status != "available" or "_drctl_switch" in cluster.__dict__:
            raise RDSClientError(
                "InvalidGlobalClusterStateFault",
                f"Global cluster {cluster.global_cluster_identifier} is {cluster.status}",
            )
        if target.is_writer:
            raise RDSClientError(
                "InvalidDBClusterStateFault",
                f"{target_arn} is already the primary cluster of {cluster.global_cluster_identifier}",
            )
        writer = next((m for m in cluster.members if m.is_writer), None)
        from_arn = writer.db_cluster_arn if writer is not None else None
        failover = operation == "FailoverGlobalCluster" and data_loss
        called_in = region_of(target_arn) if failover else region_of(from_arn or "")
        if self.region != called_in:
            whose = "the target's" if failover else "the primary DB cluster's"
            raise InvalidParameterValue(
                f"{operation}{' with AllowDataLoss' if failover else ''} is called in "
                f"{whose} region ({called_in}), not {self.region}."
            )
        with switch_lock:
            cluster.status = "failing-over" if failover else "switching-over"
            cluster.failover_state = {
                "Status": "pending",
                "FromDbClusterArn": from_arn,
                "ToDbClusterArn": target_arn,
                "IsDataLossAllowed": failover,
            }
            cluster.__dict__["_drctl_switch"] = {"target": target, "shown": 0}
        return ActionResult({"GlobalCluster": cluster})

    def switchover_global_cluster(self: RDSResponse) -> ActionResult:
        return make_writer(self, "SwitchoverGlobalCluster")

    def failover_global_cluster(self: RDSResponse) -> ActionResult:
        return make_writer(self, "FailoverGlobalCluster")

    RDSResponse.switchover_global_cluster = switchover_global_cluster
    RDSResponse.failover_global_cluster = failover_global_cluster
    RDSResponse.describe_global_clusters = describe_global_clusters
    RDSResponse.modify_global_cluster = modify_global_cluster
    RDSResponse.delete_global_cluster = delete_global_cluster
    RDSResponse.remove_from_global_cluster = remove_from_global_cluster

    original_modify_subnet_group = models.RDSBackend.modify_db_subnet_group

    def modify_db_subnet_group(self, subnet_name, description, subnets):
        group = original_modify_subnet_group(self, subnet_name, description, subnets)
        self.subnet_groups[group.name] = group
        return group

    models.RDSBackend.modify_db_subnet_group = modify_db_subnet_group

    original_delete_db_cluster = models.RDSBackend.delete_db_cluster

    def delete_db_cluster(self, cluster_identifier, snapshot_name=None):
        cluster = original_delete_db_cluster(self, cluster_identifier, snapshot_name)
        for snapshot_id in [
            sid
            for sid, snap in self.cluster_snapshots.items()
            if snap.snapshot_type == "automated" and snap.cluster.db_cluster_identifier == cluster_identifier
        ]:
            del self.cluster_snapshots[snapshot_id]
        return cluster

    models.RDSBackend.delete_db_cluster = delete_db_cluster

    original_modify_db_cluster = models.RDSBackend.modify_db_cluster

    def modify_db_cluster(self, kwargs):
        wanted = kwargs.get("engine_version")
        cluster = self.clusters.get(kwargs.get("db_cluster_identifier"))
        regions = models.rds_backends[self.account_id]
        shared = next(
            (
                g
                for g in regions["us-east-1"].global_clusters.values()
                if cluster is not None and cluster in g.members
            ),
            None,
        )
        if wanted and shared is not None and wanted != cluster.engine_version:
            if version(wanted) < version(cluster.engine_version):
                raise InvalidParameterCombination(
                    f"Cannot upgrade {cluster.engine} from {cluster.engine_version} to {wanted}"
                )
            if version(wanted)[0] != version(cluster.engine_version)[0]:
                raise InvalidParameterCombination(
                    "The DB cluster is part of a global database: upgrade its major version with ModifyGlobalCluster."
                )
            behind = [
                m for m in shared.members
                if m is not cluster and version(m.engine_version) < version(wanted)
            ]
            if cluster.is_writer and behind:
                raise InvalidParameterValue(
                    "The primary cluster of a global database cannot be upgraded before its secondaries: upgrade global replicas first."
                )
        result = original_modify_db_cluster(self, kwargs)
        if shared is not None and all(
            m.engine_version == cluster.engine_version for m in shared.members
        ):
            shared.engine_version = cluster.engine_version
        return result

    models.RDSBackend.modify_db_cluster = modify_db_cluster

    original_create_db_cluster = models.RDSBackend.create_db_cluster

    def create_db_cluster(self, kwargs):
        managed = kwargs.get("manage_master_user_password")
        if managed and kwargs.get("global_cluster_identifier"):
            raise InvalidParameterCombination(
                "ManageMasterUserPassword is not supported for DB clusters that are part of an Aurora global database."
            )
        password = kwargs.get("master_user_password")
        if password is not None:
            if managed:
                raise InvalidParameterCombination(
                    "MasterUserPassword can't be specified if ManageMasterUserPassword is turned on."
                )
            if not 8 <= len(password) <= 41:
                raise InvalidParameterValue(
                    "The parameter MasterUserPassword is not a valid password because it is not 8 to 41 characters long."
                )
            if any(c in '/"@' or not 32 <= ord(c) <= 126 for c in password):
                raise InvalidParameterValue(
                    "The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '\"' are allowed."
                )
        return original_create_db_cluster(self, kwargs)

    models.RDSBackend.create_db_cluster = create_db_cluster

    original_create_global_cluster = models.RDSBackend.create_global_cluster

    def create_global_cluster(self, *args, **kwargs):
        source = kwargs.get("source_db_cluster_identifier")
        if source:
            cluster = self.describe_db_clusters(db_cluster_identifier=source)[0]
            if cluster.manage_master_user_password:
                raise InvalidParameterCombination(
                    "ManageMasterUserPassword is not supported for DB clusters that are part of an Aurora global database."
                )
        return original_create_global_cluster(self, *args, **kwargs)

    models.RDSBackend.create_global_cluster = create_global_cluster

    original_delete_db_instance = models.RDSBackend.delete_db_instance

    def delete_db_instance(self, db_instance_identifier, *args, **kwargs):
        database = self.databases.get(db_instance_identifier)
        cluster = getattr(database, "cluster", None)
        if cluster is not None and cluster.is_writer and len(cluster.members) == 1:
            regions = models.rds_backends[self.account_id]
            global_clusters = regions["us-east-1"].global_clusters.values()
            shared = next((g for g in global_clusters if cluster in g.members), None)
            if shared is not None and len(shared.members) > 1:
                raise RDSClientError(
                    "InvalidDBClusterStateFault",
                    "Cannot delete the last instance of the master cluster. Delete the "
                    "replica cluster before deleting the last master cluster instance.",
                )
        return original_delete_db_instance(self, db_instance_identifier, *args, **kwargs)

    models.RDSBackend.delete_db_instance = delete_db_instance

    # Deletion takes a while: the instance is `deleting` meanwhile (shown
    # by the first DescribeDBInstances of it, gone at the next), and a
    # second DeleteDBInstance is refused.
    def deleting(backend) -> dict:
        return backend.__dict__.setdefault("_drctl_deleting", {})

    checked_delete_db_instance = models.RDSBackend.delete_db_instance

    def delete_db_instance_async(self, db_instance_identifier, *args, **kwargs):
        if db_instance_identifier in deleting(self):
            raise RDSClientError(
                "InvalidDBInstanceState",
                f"Instance {db_instance_identifier} is already being deleted.",
            )
        database = checked_delete_db_instance(self, db_instance_identifier, *args, **kwargs)
        deleting(self)[db_instance_identifier] = database
        return database

    models.RDSBackend.delete_db_instance = delete_db_instance_async

    original_describe_db_instances = models.RDSBackend.describe_db_instances

    def describe_db_instances(self, db_instance_identifier=None, filters=None):
        database = deleting(self).pop(db_instance_identifier, None)
        if database is not None and not filters:
            return [database]
        return original_describe_db_instances(self, db_instance_identifier, filters)

    models.RDSBackend.describe_db_instances = describe_db_instances

    original_create_db_instance = models.RDSBackend.create_db_instance

    def create_db_instance(self, db_kwargs, *args, **kwargs):
        identifier = db_kwargs.get("db_instance_identifier")
        if identifier in deleting(self):
            raise RDSClientError(
                "DBInstanceAlreadyExists", f"DB instance already exists: {identifier}"
            )
        return original_create_db_instance(self, db_kwargs, *args, **kwargs)

    models.RDSBackend.create_db_instance = create_db_instance
