"""Secrets Manager as AWS serves it, for moto 5.2.5.

- CreateSecret of a name whose secret is scheduled for deletion (within its
  recovery window) fails with InvalidRequestException: "You can't create
  this secret because a secret with this name is already scheduled for
  deletion." (Secrets Manager API reference, CreateSecret, Errors; User
  Guide, "Delete an AWS Secrets Manager secret"). moto answers with the
  deleted secret when the ClientRequestToken matches a version of it, and
  with ResourceExistsException otherwise.
- A replica is encrypted with the KmsKeyId its ReplicaRegionType names, and
  only with `aws/secretsmanager` of its region when it names none
  (Secrets Manager API reference, ReplicaRegionType; a replica does not
  inherit the primary's key, KMS keys being regional). moto reports the
  default key for every replica.
"""


def apply() -> None:
    from moto.secretsmanager.exceptions import InvalidRequestException
    from moto.secretsmanager.models import FakeSecret, SecretsManagerBackend

    original_create_secret = SecretsManagerBackend.create_secret

    def create_secret(self, name, *args, **kwargs):
        existing = self.secrets.get(name)
        if existing is not None and existing.is_deleted():
            raise InvalidRequestException(
                "You can't create this secret because a secret with this name is already scheduled for deletion."
            )
        return original_create_secret(self, name, *args, **kwargs)

    SecretsManagerBackend.create_secret = create_secret

    original_create_replicas = FakeSecret.create_replicas

    def create_replicas(self, replica_regions, force_overwrite):
        replicas = original_create_replicas(self, replica_regions, force_overwrite)
        for replica, config in zip(replicas, replica_regions or []):
            if config.get("KmsKeyId"):
                replica.config["KmsKeyId"] = config["KmsKeyId"]
        return replicas

    FakeSecret.create_replicas = create_replicas
