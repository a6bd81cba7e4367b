//! Provider tests: backup (vault, plan, selection).

use drctl_core::{Applied, Attributes, OpContext};
use drctl_tests::proxy::{FaultProxy, Faults};
use drctl_tests::{PRIMARY, SECONDARY, emulator_for};
use serde_json::{Value as Json, json};

use super::{Kit, attrs, out};

const ROLE: &str = "arn:aws:iam::123456789012:role/payment-prov-backup";

/// A customer-managed key of `region`, for a vault.
async fn key(kit: &Kit, region: &str) -> String {
    let key = kit.aws.kms(region).create_key().send().await.unwrap();
    key.key_metadata().unwrap().arn().unwrap().to_owned()
}

fn plan_inputs(env: &str, vault: &str, copy_to: &str, days: i64, tags: Json) -> Json {
    json!({"name": format!("payment-{env}-primary-backup"), "rule_name": "scheduled",
           "target_vault_name": vault, "schedule_expression": "cron(0 * ? * * *)",
           "start_window_minutes": 60, "completion_window_minutes": 120,
           "delete_after_days": days, "copy_destination_vault_arn": copy_to,
           "copy_delete_after_days": 14, "tags": tags})
}

async fn vault(kit: &Kit, role: &str, region: &str) -> (OpContext, Applied, Attributes) {
    let ctx = kit.ctx(&format!("{role}/backup.vault/payment"), region);
    let name = format!("payment-{}-{role}-backup", kit.env);
    let key = key(kit, region).await;
    let (applied, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"name": name, "encryption_key_arn": key, "tags": {"Name": name}}),
            Some(json!({"name": name, "encryption_key_arn": key, "tags": {"Name": name, "Team": "sre"}})),
        )
        .await;
    (ctx, applied, inputs)
}

#[tokio::test]
async fn vault_plan_and_selection_lifecycle_drift_and_a_vault_emptied_before_delete() {
    let kit = Kit::new("prov-backup").await;
    let (vctx, primary, vinputs) = vault(&kit, "primary", PRIMARY).await;
    let (sctx, secondary, sinputs) = vault(&kit, "secondary", SECONDARY).await;
    assert_eq!(primary.id, "payment-prov-backup-primary-backup");
    assert_eq!(
        out(&secondary, "arn"),
        "arn:aws:backup:us-east-2:123456789012:backup-vault:payment-prov-backup-secondary-backup"
    );
    kit.found(&vctx, &primary, &vinputs).await;

    // The plan: created, its rule updated in place (a new version), tags.
    let pctx = kit.ctx("primary/backup.plan/payment", PRIMARY);
    let copy_to = out(&secondary, "arn");
    let (plan, pinputs) = kit
        .lifecycle(
            &pctx,
            plan_inputs(&kit.env, &primary.id, &copy_to, 7, json!({"Name": "p"})),
            Some(plan_inputs(
                &kit.env,
                &primary.id,
                &copy_to,
                9,
                json!({"Name": "p", "Team": "sre"}),
            )),
        )
        .await;
    let observed = kit
        .provider(&pctx)
        .read(&pctx, &plan.id, &pinputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(observed.outputs["plan_id"], json!(plan.id));
    assert_ne!(
        observed.outputs["version_id"], plan.outputs["version_id"],
        "UpdateBackupPlan makes a new version"
    );
    // Drift: the schedule changed out of band is seen, and put back.
    let backup = kit.aws.backup(PRIMARY);
    let current = backup
        .get_backup_plan()
        .backup_plan_id(&plan.id)
        .send()
        .await
        .unwrap();
    let document = current.backup_plan().unwrap();
    let rule = &document.rules()[0];
    let drifted = aws_sdk_backup::types::BackupRuleInput::builder()
        .rule_name(rule.rule_name())
        .target_backup_vault_name(rule.target_backup_vault_name())
        .schedule_expression("cron(0 5 ? * * *)")
        .start_window_minutes(60)
        .completion_window_minutes(120)
        .build()
        .unwrap();
    backup
        .update_backup_plan()
        .backup_plan_id(&plan.id)
        .backup_plan(
            aws_sdk_backup::types::BackupPlanInput::builder()
                .backup_plan_name(document.backup_plan_name())
                .rules(drifted)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let seen = kit.read(&pctx, &plan.id, &pinputs).await.unwrap();
    assert_eq!(seen["schedule_expression"], json!("cron(0 5 ? * * *)"));
    assert!(!seen.contains_key("copy_destination_vault_arn"));
    kit.provider(&pctx)
        .update(&pctx, &plan.id, &seen, &pinputs)
        .await
        .unwrap();
    assert_eq!(kit.read(&pctx, &plan.id, &pinputs).await.unwrap(), pinputs);
    kit.found(&pctx, &plan, &pinputs).await;

    // The selection: its plan's id in its own, found by name in the plan.
    let cluster = "arn:aws:rds:us-east-1:123456789012:cluster:payment-prov-backup-primary";
    let table = "arn:aws:dynamodb:us-east-1:123456789012:table/SessionTable-prov-backup";
    let selctx = kit.ctx("primary/backup.selection/payment", PRIMARY);
    let (selection, selinputs) = kit
        .lifecycle(
            &selctx,
            json!({"plan_id": plan.id, "name": "payment-prov-backup-primary-backup",
                   "iam_role_arn": ROLE, "resources": [table, cluster]}),
            None,
        )
        .await;
    assert_eq!(
        selection.id,
        format!("{}/{}", plan.id, out(&selection, "selection_id"))
    );
    kit.found(&selctx, &selection, &selinputs).await;

    // A vault holding recovery points (a backup and its copy): delete
    // removes them, then the vault.
    let job = backup
        .start_backup_job()
        .backup_vault_name(&primary.id)
        .resource_arn(table)
        .iam_role_arn(ROLE)
        .send()
        .await
        .unwrap();
    backup
        .start_copy_job()
        .recovery_point_arn(job.recovery_point_arn().unwrap())
        .source_backup_vault_name(&primary.id)
        .destination_backup_vault_arn(&copy_to)
        .iam_role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let refused = backup
        .delete_backup_vault()
        .backup_vault_name(&primary.id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_backup::error::ProvideErrorMetadata::code(&refused),
        Some("InvalidRequestException"),
        "AWS refuses to delete a vault holding recovery points"
    );

    kit.delete_listed(&selctx, &selection, &selinputs, true)
        .await;
    kit.delete_listed(&pctx, &plan, &pinputs, true).await;
    kit.delete_listed(&vctx, &primary, &vinputs, true).await;
    kit.delete_listed(&sctx, &secondary, &sinputs, true).await;
    let listed = kit
        .aws
        .backup(SECONDARY)
        .list_backup_vaults()
        .send()
        .await
        .unwrap();
    assert!(
        !listed
            .backup_vault_list()
            .iter()
            .any(|v| v.backup_vault_name() == Some(secondary.id.as_str())),
        "the copy's vault went with its recovery point"
    );
}

/// Inputs AWS Backup would refuse are refused before any call, naming the
/// input and the fix; a vault name taken by someone else is refused.
#[tokio::test]
async fn invalid_inputs_and_a_taken_vault_name_are_refused() {
    let kit = Kit::new("prov-backup-invalid").await;
    let pctx = kit.ctx("primary/backup.plan/payment", PRIMARY);
    let copy_to = "arn:aws:backup:us-east-2:123456789012:backup-vault:payment-x-secondary-backup";
    let mut bad = plan_inputs(&kit.env, "payment-x-primary-backup", copy_to, 7, json!({}));
    bad["schedule_expression"] = json!("cron(0/15 * ? * * *)");
    let err = kit
        .provider(&pctx)
        .create(&pctx, &attrs(bad))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");
    assert!(err.message.contains("60 minutes apart"), "{err}");
    let mut bad = plan_inputs(&kit.env, "payment-x-primary-backup", copy_to, 7, json!({}));
    bad["completion_window_minutes"] = json!(60);
    let err = kit
        .provider(&pctx)
        .create(&pctx, &attrs(bad))
        .await
        .unwrap_err();
    assert!(err.message.contains("completion_window_minutes"), "{err}");
    // Names AWS Backup refuses (InvalidParameterValueException, as the
    // emulator does) are refused before any call: a plan, rule or
    // selection name is 1 to 50 of letters, digits, `-_.`; a vault's 2 to
    // 50 of letters, digits, `-_`.
    let mut bad = plan_inputs(&kit.env, "payment-x-primary-backup", copy_to, 7, json!({}));
    bad["rule_name"] = json!("r".repeat(51));
    let err = kit
        .provider(&pctx)
        .create(&pctx, &attrs(bad))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");
    assert!(err.message.contains("`rule_name`"), "{err}");
    let vctx = kit.ctx("primary/backup.vault/payment", PRIMARY);
    let dotted = format!("payment.{}", kit.env);
    let err = kit
        .provider(&vctx)
        .create(&vctx, &attrs(json!({"name": dotted, "tags": {}})))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");
    let refused = kit
        .aws
        .backup(PRIMARY)
        .create_backup_vault()
        .backup_vault_name(&dotted)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_backup::error::ProvideErrorMetadata::code(&refused),
        Some("InvalidParameterValueException")
    );
    let plans = kit
        .aws
        .backup(PRIMARY)
        .list_backup_plans()
        .send()
        .await
        .unwrap();
    assert!(
        !plans
            .backup_plans_list()
            .iter()
            .any(|p| p.backup_plan_name().is_some_and(|n| n.contains(&kit.env))),
        "no call was made"
    );

    let name = "payment-prov-backup-invalid-taken";
    kit.aws
        .backup(PRIMARY)
        .create_backup_vault()
        .backup_vault_name(name)
        .send()
        .await
        .unwrap();
    let err = kit
        .provider(&vctx)
        .create(&vctx, &attrs(json!({"name": name, "tags": {}})))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("AlreadyExistsException"), "{err}");
    assert_eq!(
        kit.provider(&vctx)
            .find(&vctx, &attrs(json!({"name": name, "tags": {}})))
            .await
            .unwrap(),
        None
    );
    kit.aws
        .backup(PRIMARY)
        .delete_backup_vault()
        .backup_vault_name(name)
        .send()
        .await
        .unwrap();
}

/// Every create's answer lost after AWS acted: the lookup that follows
/// an unanswered create adopts what it made, so one vault, one plan and
/// one selection exist (a resend would carry the same CreatorRequestId).
#[tokio::test(flavor = "multi_thread")]
async fn creates_whose_answers_are_lost_make_nothing_twice() {
    let env = "prov-backup-lost";
    let kit = Kit::new(env).await;
    let proxy = FaultProxy::start(
        &emulator_for(env).endpoint,
        Faults {
            lose_create_responses: 1.0,
            ..Faults::none()
        },
    )
    .await;
    let lossy = Kit::with_endpoint(env, &proxy.endpoint).await;
    let vctx = lossy.ctx("secondary/backup.vault/payment", SECONDARY);
    let vinputs = attrs(json!({"name": "payment-prov-backup-lost-secondary-backup", "tags": {}}));
    let vault = lossy.provider(&vctx).create(&vctx, &vinputs).await.unwrap();
    let pctx = lossy.ctx("secondary/backup.plan/payment", SECONDARY);
    let pinputs = attrs(plan_inputs(
        env,
        &vault.id,
        "arn:aws:backup:us-east-1:123456789012:backup-vault:payment-prov-backup-lost-primary-backup",
        7,
        json!({}),
    ));
    let plan = lossy.provider(&pctx).create(&pctx, &pinputs).await.unwrap();
    let selctx = lossy.ctx("secondary/backup.selection/payment", SECONDARY);
    let selinputs = attrs(
        json!({"plan_id": plan.id, "name": "s", "iam_role_arn": ROLE,
        "resources": ["arn:aws:dynamodb:us-east-2:123456789012:table/SessionTable-prov-backup-lost"]}),
    );
    let selection = lossy
        .provider(&selctx)
        .create(&selctx, &selinputs)
        .await
        .unwrap();
    assert_eq!(
        proxy.counts.lost_operations.lock().unwrap().as_slice(),
        [
            "backup:CreateBackupVault",
            "backup:CreateBackupPlan",
            "backup:CreateBackupSelection"
        ]
    );
    let backup = kit.aws.backup(SECONDARY);
    let plans = backup.list_backup_plans().send().await.unwrap();
    let ours: Vec<_> = plans
        .backup_plans_list()
        .iter()
        .filter(|p| p.backup_plan_name() == Some(pinputs["name"].as_str().unwrap()))
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0].backup_plan_id(), Some(plan.id.as_str()));
    let selections = backup
        .list_backup_selections()
        .backup_plan_id(&plan.id)
        .send()
        .await
        .unwrap();
    assert_eq!(selections.backup_selections_list().len(), 1);
    kit.found(&selctx, &selection, &selinputs).await;
    kit.found(&pctx, &plan, &pinputs).await;
    kit.found(&vctx, &vault, &vinputs).await;
    kit.delete(&selctx, &selection, &selinputs).await;
    kit.delete(&pctx, &plan, &pinputs).await;
    kit.delete(&vctx, &vault, &vinputs).await;
}
