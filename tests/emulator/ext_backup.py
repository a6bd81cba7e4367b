"""AWS Backup: what drctl calls that moto 5.2.5 lacks, and AWS's rules where
moto is lenient. Each as the AWS Backup API Reference documents it
(https://docs.aws.amazon.com/aws-backup/latest/devguide/api-reference.html,
one page per operation, cited by name below).

Added operations (moto 5.2.5 has plans, vaults, tags and vault lock only):
- CreateBackupSelection, GetBackupSelection, DeleteBackupSelection,
  ListBackupSelections; UpdateBackupPlan (the rules replaced, a new
  VersionId, "UpdateBackupPlan").
- StartBackupJob and StartCopyJob, each COMPLETED at once with a recovery
  point (in the job's vault; the copy's in the destination vault, of any
  region), so tests can fill vaults; ListBackupJobs and ListCopyJobs with
  their ByState / ByResourceArn / ByBackupVaultName (ByDestinationVaultArn)
  filters, newest first; ListRecoveryPointsByBackupVault,
  DeleteRecoveryPoint (the point goes at once). Recovery point ARNs take
  AWS Backup's own form, `arn:aws:backup:<region>:<account>:recovery-point:<id>`
  (what AWS Backup gives resources it manages fully, DynamoDB with
  advanced features among them).

AWS's rules moto does not keep:
- DeleteBackupVault: "A vault can be deleted only if it is empty"
  ("DeleteBackupVault"): InvalidRequestException while it holds recovery
  points; ResourceNotFoundException for a vault that does not exist (moto
  answers success).
- DeleteBackupPlan: "Deletes a backup plan. A backup plan can only be
  deleted after all associated selections of resources have been deleted"
  ("DeleteBackupPlan"): InvalidRequestException while it has selections.
- CreatorRequestId "identifies the request and allows failed requests to be
  retried without the risk of running the operation twice"
  ("CreateBackupVault", "CreateBackupPlan", "CreateBackupSelection"): a
  create repeated with the same id answers the first one's result and
  makes nothing; moto makes a second plan or selection, or refuses the
  vault as existing.
- Names: a vault's is `^[a-zA-Z0-9\\-\\_]{2,50}$` ("CreateBackupVault");
  plan, rule and selection names are "1 to 50 alphanumeric or '-_.'
  characters" (BackupPlanInput, BackupRuleInput, BackupSelection);
  InvalidParameterValueException otherwise. moto takes any name.
- A plan name is taken only by plans not deleted: moto refuses the name of
  a deleted plan for ever.
- StartWindowMinutes "must be at least 60 minutes" (BackupRuleInput):
  InvalidParameterValueException below; moto takes any value.
- DescribeBackupVault returns NumberOfRecoveryPoints and CreatorRequestId
  ("DescribeBackupVault"); moto 5.2.5 omits both.
- ListTags is `GET /tags/{resourceArn}` ("ListTags"; the AWS SDK for Rust
  sends no trailing slash): moto 5.2.5 reads the ARN from the path's
  second-last segment, so without the slash it answers no tags.
"""

import json
import re
from urllib.parse import unquote

VAULT_NAME = re.compile(r"^[a-zA-Z0-9\-\_]{2,50}$")
OTHER_NAME = re.compile(r"^[a-zA-Z0-9\-\_\.]{1,50}$")
MIN_START_WINDOW = 60


def _state(backend):
    """drctl's additions to one region's backend, made on first use."""
    if not hasattr(backend, "drctl"):
        backend.drctl = {
            "selections": {},  # plan id -> selection id -> selection
            "points": {},  # vault name -> ARN -> recovery point
            "backup_jobs": [],
            "copy_jobs": [],
            "requests": {},  # (operation, CreatorRequestId) -> answer
        }
    return backend.drctl


def _error(code, message):
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(code, message)


def _check_plan(document):
    if not OTHER_NAME.match(document.get("BackupPlanName") or ""):
        raise _error(
            "InvalidParameterValueException",
            "BackupPlanName must contain 1 to 50 alphanumeric or '-_.' characters",
        )
    for rule in document.get("Rules") or []:
        if not OTHER_NAME.match(rule.get("RuleName") or ""):
            raise _error(
                "InvalidParameterValueException",
                "RuleName must contain 1 to 50 alphanumeric or '-_.' characters",
            )
        start = rule.get("StartWindowMinutes")
        if start is not None and start < MIN_START_WINDOW:
            raise _error(
                "InvalidParameterValueException",
                "StartWindowMinutes must be at least 60 minutes",
            )


def _normalise_rules(document):
    from moto.moto_api._internal import mock_random

    for rule in document.get("Rules") or []:
        rule.setdefault("ScheduleExpression", "cron(0 5 ? * * *)")
        rule.setdefault("StartWindowMinutes", 480)
        rule.setdefault("CompletionWindowMinutes", 10080)
        rule.setdefault("ScheduleExpressionTimezone", "Etc/UTC")
        rule["RuleId"] = str(mock_random.uuid4())


def _vaults_and_plans() -> None:
    from moto.backup.models import BackupBackend, Vault

    create_vault = BackupBackend.create_backup_vault

    def create_vault_as_aws(self, backup_vault_name, backup_vault_tags, encryption_key_arn, creator_request_id):
        key = ("vault", creator_request_id)
        requests = _state(self)["requests"]
        if creator_request_id and key in requests and requests[key] in self.vaults:
            return self.vaults[requests[key]]
        if not VAULT_NAME.match(backup_vault_name or ""):
            raise _error(
                "InvalidParameterValueException",
                "BackupVaultName must match ^[a-zA-Z0-9\\-\\_]{2,50}$",
            )
        vault = create_vault(self, backup_vault_name, backup_vault_tags, encryption_key_arn, creator_request_id)
        if creator_request_id:
            requests[key] = backup_vault_name
        return vault

    def delete_vault_as_aws(self, backup_vault_name):
        if backup_vault_name not in self.vaults:
            raise _error("ResourceNotFoundException", f"Backup vault {backup_vault_name} not found")
        if _state(self)["points"].get(backup_vault_name):
            raise _error(
                "InvalidRequestException",
                "Backup vault cannot be deleted because it contains recovery points",
            )
        self.vaults.pop(backup_vault_name)

    BackupBackend.create_backup_vault = create_vault_as_aws
    BackupBackend.delete_backup_vault = delete_vault_as_aws

    # DescribeBackupVault serialises the vault's attributes by the model's
    # member names.
    Vault.number_of_recovery_points = property(
        lambda self: len(_state(self.drctl_backend)["points"].get(self.backup_vault_name, {}))
        if hasattr(self, "drctl_backend")
        else 0
    )
    vault_init = Vault.__init__

    def vault_init_with_backend(self, *args, **kwargs):
        vault_init(self, *args, **kwargs)
        self.drctl_backend = kwargs["backend"]

    Vault.__init__ = vault_init_with_backend

    create_plan = BackupBackend.create_backup_plan

    def create_plan_as_aws(self, backup_plan, backup_plan_tags, creator_request_id):
        key = ("plan", creator_request_id)
        requests = _state(self)["requests"]
        if creator_request_id and key in requests:
            plan = self.plans.get(requests[key])
            if plan is not None and plan.deletion_date is None:
                return plan
        _check_plan(backup_plan)
        # Deleted plans keep their place in moto's dict; their names are free.
        deleted = {pid: p for pid, p in self.plans.items() if p.deletion_date is not None}
        for pid in deleted:
            self.plans.pop(pid)
        try:
            plan = create_plan(self, backup_plan, backup_plan_tags, creator_request_id)
        finally:
            self.plans.update(deleted)
        if creator_request_id:
            requests[key] = plan.backup_plan_id
        return plan

    def delete_plan_as_aws(self, backup_plan_id):
        plan = self.plans.get(backup_plan_id)
        if plan is None or plan.deletion_date is not None:
            raise _error("ResourceNotFoundException", "Failed reading Backup plan with provided version")
        if _state(self)["selections"].get(backup_plan_id):
            raise _error(
                "InvalidRequestException",
                "Related backup plan selections must be deleted prior to backup plan deletion",
            )
        from moto.core.utils import unix_time

        plan.deletion_date = unix_time()
        return plan.backup_plan_id, plan.backup_plan_arn, plan.deletion_date, plan.version_id

    BackupBackend.create_backup_plan = create_plan_as_aws
    BackupBackend.delete_backup_plan = delete_plan_as_aws


def _live_plan(backend, plan_id):
    plan = backend.plans.get(plan_id)
    if plan is None or plan.deletion_date is not None:
        raise _error("ResourceNotFoundException", f"Backup plan {plan_id} not found")
    return plan


def _point(backend, vault, resource_arn, resource_type, iam_role_arn, source_vault_arn=None):
    from moto.core.utils import unix_time
    from moto.moto_api._internal import mock_random

    arn = f"arn:aws:backup:{backend.region_name}:{backend.account_id}:recovery-point:{mock_random.uuid4()}"
    now = unix_time()
    point = {
        "RecoveryPointArn": arn,
        "BackupVaultName": vault.backup_vault_name,
        "BackupVaultArn": vault.backup_vault_arn,
        "ResourceArn": resource_arn,
        "ResourceType": resource_type,
        "IamRoleArn": iam_role_arn,
        "Status": "COMPLETED",
        "CreationDate": now,
        "CompletionDate": now,
        "IsEncrypted": True,
    }
    if vault.encryption_key_arn:
        point["EncryptionKeyArn"] = vault.encryption_key_arn
    if source_vault_arn:
        point["SourceBackupVaultArn"] = source_vault_arn
    _state(backend)["points"].setdefault(vault.backup_vault_name, {})[arn] = point
    return point


def _resource_type(arn):
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    return {"rds": "Aurora", "dynamodb": "DynamoDB"}.get(service, service)


def _responses() -> None:
    from moto.backup import urls
    from moto.backup.models import backup_backends
    from moto.backup.responses import BackupResponse
    from moto.core.utils import unix_time
    from moto.moto_api._internal import mock_random

    for path in (
        "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$",
        "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<arn>.+)$",
        "{0}/backup-jobs/?$",
        "{0}/copy-jobs/?$",
    ):
        urls.url_paths[path] = BackupResponse.dispatch

    def parts(self):
        return [unquote(p) for p in self.path.split("?")[0].strip("/").split("/")]

    def query(self, key):
        values = self.querystring.get(key)
        return values[0] if values else None

    def body(self):
        return json.loads(self.body) if self.body else {}

    def update_backup_plan(self):
        plan_id = parts(self)[2]
        plan = _live_plan(self.backup_backend, plan_id)
        document = body(self)["BackupPlan"]
        _check_plan(document)
        _normalise_rules(document)
        plan.backup_plan = document
        plan.version_id = mock_random.get_random_string(length=48)
        return json.dumps(
            {
                "BackupPlanId": plan.backup_plan_id,
                "BackupPlanArn": plan.backup_plan_arn,
                "CreationDate": plan.creation_date,
                "VersionId": plan.version_id,
            }
        )

    def create_backup_selection(self):
        backend = self.backup_backend
        plan_id = parts(self)[2]
        params = body(self)
        state = _state(backend)
        request = params.get("CreatorRequestId")
        key = ("selection", plan_id, request)
        if request and key in state["requests"]:
            earlier = state["selections"].get(plan_id, {}).get(state["requests"][key])
            if earlier is not None:
                return json.dumps(
                    {k: earlier[k] for k in ("SelectionId", "BackupPlanId", "CreationDate")}
                )
        _live_plan(backend, plan_id)
        selection = params.get("BackupSelection") or {}
        if not OTHER_NAME.match(selection.get("SelectionName") or ""):
            raise _error(
                "InvalidParameterValueException",
                "SelectionName must contain 1 to 50 alphanumeric or '-_.' characters",
            )
        if not (selection.get("IamRoleArn") or "").startswith("arn:"):
            raise _error("InvalidParameterValueException", "IamRoleArn is not a valid ARN")
        selection_id = str(mock_random.uuid4())
        stored = {
            "SelectionId": selection_id,
            "BackupPlanId": plan_id,
            "CreationDate": unix_time(),
            "CreatorRequestId": request,
            "BackupSelection": selection,
        }
        state["selections"].setdefault(plan_id, {})[selection_id] = stored
        if request:
            state["requests"][key] = selection_id
        return json.dumps({k: stored[k] for k in ("SelectionId", "BackupPlanId", "CreationDate")})

    def selection_of(self):
        _, _, plan_id, _, selection_id = parts(self)[:5]
        found = _state(self.backup_backend)["selections"].get(plan_id, {}).get(selection_id)
        if found is None:
            raise _error("ResourceNotFoundException", f"Backup selection {selection_id} not found")
        return plan_id, selection_id, found

    def get_backup_selection(self):
        _, _, found = selection_of(self)
        return json.dumps({k: v for k, v in found.items() if v is not None})

    def delete_backup_selection(self):
        plan_id, selection_id, _ = selection_of(self)
        _state(self.backup_backend)["selections"][plan_id].pop(selection_id)
        return "{}"

    def list_backup_selections(self):
        plan_id = parts(self)[2]
        _live_plan(self.backup_backend, plan_id)
        listed = [
            {
                "SelectionId": s["SelectionId"],
                "SelectionName": s["BackupSelection"].get("SelectionName"),
                "BackupPlanId": plan_id,
                "CreationDate": s["CreationDate"],
                "CreatorRequestId": s["CreatorRequestId"],
                "IamRoleArn": s["BackupSelection"].get("IamRoleArn"),
            }
            for s in _state(self.backup_backend)["selections"].get(plan_id, {}).values()
        ]
        return json.dumps({"BackupSelectionsList": [{k: v for k, v in s.items() if v is not None} for s in listed]})

    def vault_named(backend, name):
        if name not in backend.vaults:
            raise _error("ResourceNotFoundException", f"Backup vault {name} not found")
        return backend.vaults[name]

    def list_recovery_points_by_backup_vault(self):
        name = parts(self)[1]
        vault_named(self.backup_backend, name)
        points = _state(self.backup_backend)["points"].get(name, {})
        return json.dumps({"RecoveryPoints": list(points.values())})

    def delete_recovery_point(self):
        segments = self.path.split("?")[0].split("/recovery-points/")
        name = unquote(segments[0].rstrip("/").split("/")[-1])
        arn = unquote(segments[1])
        vault_named(self.backup_backend, name)
        points = _state(self.backup_backend)["points"].get(name, {})
        if arn not in points:
            raise _error("ResourceNotFoundException", f"Recovery point {arn} not found")
        points.pop(arn)
        return "{}"

    def start_backup_job(self):
        backend = self.backup_backend
        params = body(self)
        vault = vault_named(backend, params["BackupVaultName"])
        resource_arn = params["ResourceArn"]
        point = _point(backend, vault, resource_arn, _resource_type(resource_arn), params["IamRoleArn"])
        job = {
            "BackupJobId": str(mock_random.uuid4()),
            "AccountId": backend.account_id,
            "BackupVaultName": vault.backup_vault_name,
            "BackupVaultArn": vault.backup_vault_arn,
            "RecoveryPointArn": point["RecoveryPointArn"],
            "ResourceArn": resource_arn,
            "ResourceType": point["ResourceType"],
            "IamRoleArn": params["IamRoleArn"],
            "State": "COMPLETED",
            "CreationDate": point["CreationDate"],
            "CompletionDate": point["CompletionDate"],
        }
        _state(backend)["backup_jobs"].append(job)
        return json.dumps(
            {
                "BackupJobId": job["BackupJobId"],
                "RecoveryPointArn": job["RecoveryPointArn"],
                "CreationDate": job["CreationDate"],
            }
        )

    def start_copy_job(self):
        backend = self.backup_backend
        params = body(self)
        source = vault_named(backend, params["SourceBackupVaultName"])
        source_point = _state(backend)["points"].get(source.backup_vault_name, {}).get(params["RecoveryPointArn"])
        if source_point is None:
            raise _error("ResourceNotFoundException", f"Recovery point {params['RecoveryPointArn']} not found")
        destination_arn = params["DestinationBackupVaultArn"]
        _, _, _, region, account, _, name = destination_arn.split(":", 6)
        destination_backend = backup_backends[account][region]
        destination = vault_named(destination_backend, name)
        copied = _point(
            destination_backend,
            destination,
            source_point["ResourceArn"],
            source_point["ResourceType"],
            params["IamRoleArn"],
            source.backup_vault_arn,
        )
        job = {
            "CopyJobId": str(mock_random.uuid4()),
            "AccountId": backend.account_id,
            "SourceBackupVaultArn": source.backup_vault_arn,
            "SourceRecoveryPointArn": params["RecoveryPointArn"],
            "DestinationBackupVaultArn": destination_arn,
            "DestinationRecoveryPointArn": copied["RecoveryPointArn"],
            "ResourceArn": source_point["ResourceArn"],
            "ResourceType": source_point["ResourceType"],
            "IamRoleArn": params["IamRoleArn"],
            "State": "COMPLETED",
            "CreationDate": copied["CreationDate"],
            "CompletionDate": copied["CompletionDate"],
        }
        # Copy jobs are listed in the source's region (ListCopyJobs).
        _state(backend)["copy_jobs"].append(job)
        return json.dumps({"CopyJobId": job["CopyJobId"], "CreationDate": job["CreationDate"], "IsParent": False})

    def jobs(self, key, vault_key, vault_filter):
        state_filter = query(self, "state")
        resource = query(self, "resourceArn")
        vault = query(self, vault_filter)
        listed = [
            j
            for j in reversed(_state(self.backup_backend)[key])
            if (state_filter is None or j["State"] == state_filter)
            and (resource is None or j["ResourceArn"] == resource)
            and (vault is None or j[vault_key] == vault)
        ]
        return listed

    def list_backup_jobs(self):
        return json.dumps({"BackupJobs": jobs(self, "backup_jobs", "BackupVaultName", "backupVaultName")})

    def list_copy_jobs(self):
        return json.dumps(
            {"CopyJobs": jobs(self, "copy_jobs", "DestinationBackupVaultArn", "destinationVaultArn")}
        )

    def list_tags(self):
        path = self.path.split("?")[0]
        resource_arn = unquote(path.split("/tags/", 1)[1].rstrip("/"))
        return json.dumps({"Tags": self.backup_backend.list_tags(resource_arn=resource_arn)})

    for handler in (
        list_tags,
        update_backup_plan,
        create_backup_selection,
        get_backup_selection,
        delete_backup_selection,
        list_backup_selections,
        list_recovery_points_by_backup_vault,
        delete_recovery_point,
        start_backup_job,
        start_copy_job,
        list_backup_jobs,
        list_copy_jobs,
    ):
        setattr(BackupResponse, handler.__name__, handler)


def apply() -> None:
    _vaults_and_plans()
    _responses()
