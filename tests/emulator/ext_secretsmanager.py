"""Secrets Manager as AWS serves it, for moto 5.2.5.

- CreateSecret of a name whose secret is scheduled for deletion (within its
  recovery window) fails with InvalidRequestException: "You can't create
  this secret because a secret with this name is already scheduled for
  deletion." (Secrets Manager API reference, CreateSecret, Errors; User
  Guide, "Delete an AWS Secrets Manager secret"). moto answers with the
  deleted secret when the ClientRequestToken matches a version of it, and
  with ResourceExistsException otherwise.
"""


def apply() -> None:
    from moto.secretsmanager.exceptions import InvalidRequestException
    from moto.secretsmanager.models import SecretsManagerBackend

    original_create_secret = SecretsManagerBackend.create_secret

    def create_secret(self, name, *args, **kwargs):
        existing = self.secrets.get(name)
        if existing is not None and existing.is_deleted():
            raise InvalidRequestException(
                "You can't create this secret because a secret with this name is already scheduled for deletion."
            )
        return original_create_secret(self, name, *args, **kwargs)

    SecretsManagerBackend.create_secret = create_secret
