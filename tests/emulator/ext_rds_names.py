"""RDS: an identifier already in use is refused, as AWS does.

moto 5.2.5 refuses only a duplicate DB instance; a second CreateDBSubnetGroup,
CreateDBCluster or CreateGlobalCluster with a name in use replaces the first.
AWS refuses each (RDS API Reference, Errors of each action):
- CreateDBSubnetGroup: DBSubnetGroupAlreadyExists ("DBSubnetGroupName is
  already used by an existing DB subnet group");
- CreateDBCluster: DBClusterAlreadyExistsFault ("The user already has a DB
  cluster with the given identifier");
- CreateGlobalCluster: GlobalClusterAlreadyExistsFault.
drctl meets these when a create's response was lost and the call is sent
again (tests/suite/faults.rs, lost create responses).
"""


def apply() -> None:
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend

    create_subnet_group = RDSBackend.create_subnet_group

    def create_subnet_group_once(self, subnet_name, *args, **kwargs):
        if subnet_name in self.subnet_groups:
            raise RDSClientError(
                "DBSubnetGroupAlreadyExists",
                f"DB subnet group {subnet_name} already exists.",
            )
        return create_subnet_group(self, subnet_name, *args, **kwargs)

    create_db_cluster = RDSBackend.create_db_cluster

    def create_db_cluster_once(self, kwargs):
        if kwargs["db_cluster_identifier"] in self.clusters:
            raise RDSClientError(
                "DBClusterAlreadyExistsFault",
                "The user already has a DB cluster with the given identifier.",
            )
        return create_db_cluster(self, kwargs)

    create_global_cluster = RDSBackend.create_global_cluster

    def create_global_cluster_once(self, global_cluster_identifier, *args, **kwargs):
        if global_cluster_identifier in self.global_clusters:
            raise RDSClientError(
                "GlobalClusterAlreadyExistsFault",
                f"Global cluster {global_cluster_identifier} already exists.",
            )
        return create_global_cluster(self, global_cluster_identifier, *args, **kwargs)

    RDSBackend.create_subnet_group = create_subnet_group_once
    RDSBackend.create_db_cluster = create_db_cluster_once
    RDSBackend.create_global_cluster = create_global_cluster_once
