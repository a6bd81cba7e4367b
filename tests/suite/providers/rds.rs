//! Provider tests: rds.

use drctl_core::{Applied, Attributes, OpContext};
use drctl_tests::{PRIMARY, SECONDARY};
use serde_json::{Value as Json, json};

use super::{Kit, out};

/// A VPC with two subnets and a security group, as the clusters need.
struct Network {
    vpc: (OpContext, Applied, Attributes),
    subnets: Vec<(OpContext, Applied, Attributes)>,
    sg: (OpContext, Applied, Attributes),
}

impl Network {
    async fn new(kit: &Kit, region: &str, second_octet: u8) -> Network {
        let vpc = kit.vpc(region, &format!("10.{second_octet}.0.0/16")).await;
        let vpc_id = out(&vpc.1, "vpc_id");
        let mut subnets = Vec::new();
        for (i, az) in ["a", "b"].into_iter().enumerate() {
            let ctx = kit.ctx(&format!("primary/ec2.subnet/db-{az}"), region);
            let (a, inputs) = kit
                .lifecycle(
                    &ctx,
                    json!({"vpc_id": vpc_id, "cidr_block": format!("10.{second_octet}.{i}.0/24"),
                           "availability_zone": format!("{region}{az}"), "map_public_ip_on_launch": false, "tags": {}}),
                    None,
                )
                .await;
            subnets.push((ctx, a, inputs));
        }
        let ctx = kit.ctx("primary/ec2.security_group/db", region);
        let (a, inputs) = kit
            .lifecycle(
                &ctx,
                json!({"name": format!("prov-rds-db-{region}"), "description": "db", "vpc_id": vpc_id,
                       "ingress": {}, "egress": {}, "tags": {}}),
                None,
            )
            .await;
        Network {
            vpc,
            subnets,
            sg: (ctx, a, inputs),
        }
    }

    fn subnet_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.subnets.iter().map(|s| s.1.id.clone()).collect();
        ids.sort();
        ids
    }

    async fn delete(self, kit: &Kit) {
        kit.delete(&self.sg.0, &self.sg.1, &self.sg.2).await;
        for (ctx, a, inputs) in &self.subnets {
            kit.delete(ctx, a, inputs).await;
        }
        kit.delete(&self.vpc.0, &self.vpc.1, &self.vpc.2).await;
    }
}

/// What crash recovery's lookup finds for these inputs.
async fn find(kit: &Kit, ctx: &OpContext, inputs: &Attributes) -> Option<String> {
    kit.provider(ctx).find(ctx, inputs).await.unwrap()
}

/// Finds the resource by the inputs it was created with, and nothing under
/// a name never created.
async fn assert_findable(
    kit: &Kit,
    ctx: &OpContext,
    applied: &Applied,
    inputs: &Attributes,
    name_key: &str,
) {
    assert_eq!(
        find(kit, ctx, inputs).await.as_deref(),
        Some(applied.id.as_str()),
        "find {}",
        ctx.address
    );
    let mut other = inputs.clone();
    other.insert(name_key.into(), json!("prov-rds-never-created"));
    assert_eq!(find(kit, ctx, &other).await, None, "find {}", ctx.address);
}

/// No input or output carries a password: the only key that mentions one
/// is the flag handing the password to RDS.
fn assert_no_password(inputs: &Attributes, outputs: &Attributes) {
    for (k, v) in inputs.iter().chain(outputs.iter()) {
        if k.contains("password") {
            assert_eq!(
                (k.as_str(), v),
                ("manage_master_user_password", &json!(true))
            );
        }
    }
}

#[tokio::test]
async fn aurora_global_database_across_two_regions() {
    let kit = Kit::new("prov-rds").await;
    let net1 = Network::new(&kit, PRIMARY, 60).await;
    let net2 = Network::new(&kit, SECONDARY, 61).await;

    // The global cluster; deletion protection is switched off in place.
    let gctx = kit.ctx("primary/rds.global_cluster/payment", PRIMARY);
    let global_id = "prov-rds-global";
    let global_inputs = |protected: bool| {
        json!({"global_cluster_identifier": global_id, "engine": "aurora-postgresql", "engine_version": "14.9",
               "storage_encrypted": true, "deletion_protection": protected})
    };
    let (global, ginputs) = kit
        .lifecycle(&gctx, global_inputs(true), Some(global_inputs(false)))
        .await;
    assert!(out(&global, "arn").contains(global_id));
    assert_findable(&kit, &gctx, &global, &ginputs, "global_cluster_identifier").await;

    // Subnet groups: the primary's grows from one subnet to two.
    let mut groups = Vec::new();
    for (region, net) in [(PRIMARY, &net1), (SECONDARY, &net2)] {
        let ctx = kit.ctx("primary/rds.db_subnet_group/payment", region);
        let name = format!("prov-rds-{region}");
        let ids = net.subnet_ids();
        let (g, inputs) = kit
            .lifecycle(
                &ctx,
                json!({"name": name, "description": "payment db", "subnet_ids": [ids[0]], "tags": {"Name": "a"}}),
                Some(
                    json!({"name": name, "description": "payment database", "subnet_ids": ids, "tags": {"Name": "b", "Team": "sre"}}),
                ),
            )
            .await;
        assert_eq!(g.outputs["name"], json!(name));
        assert_findable(&kit, &ctx, &g, &inputs, "name").await;
        groups.push((ctx, g, inputs));
    }

    // The primary cluster, with an RDS-managed master password.
    let pctx = kit.ctx("primary/rds.cluster/payment", PRIMARY);
    let primary_inputs = |retention: i64, tags: Json| {
        json!({"cluster_identifier": "prov-rds-primary", "engine": "aurora-postgresql", "engine_version": "14.9",
               "global_cluster_identifier": global_id, "db_subnet_group_name": format!("prov-rds-{PRIMARY}"),
               "vpc_security_group_ids": [net1.sg.1.id], "storage_encrypted": true,
               "backup_retention_period": retention, "preferred_backup_window": "03:00-04:00",
               "master_username": "payment", "manage_master_user_password": true, "tags": tags})
    };
    let (primary, pinputs) = kit
        .lifecycle(
            &pctx,
            primary_inputs(7, json!({"Name": "p"})),
            Some(primary_inputs(14, json!({"Name": "p", "Team": "sre"}))),
        )
        .await;
    assert!(
        out(&primary, "master_user_secret_arn").starts_with("arn:aws:secretsmanager:us-east-1:"),
        "{:?}",
        primary.outputs
    );
    assert!(!out(&primary, "endpoint").is_empty());
    assert!(!out(&primary, "reader_endpoint").is_empty());
    assert_no_password(&pinputs, &primary.outputs);
    assert_findable(&kit, &pctx, &primary, &pinputs, "cluster_identifier").await;

    // Its writer instance; the class changes in place.
    let ictx = kit.ctx("primary/rds.instance/payment-1", PRIMARY);
    let instance_inputs = |class: &str| {
        json!({"instance_identifier": "prov-rds-primary-1", "cluster_identifier": "prov-rds-primary",
               "instance_class": class, "engine": "aurora-postgresql", "publicly_accessible": false, "tags": {"Name": "i"}})
    };
    let (instance, iinputs) = kit
        .lifecycle(
            &ictx,
            instance_inputs("db.r6g.large"),
            Some(instance_inputs("db.r6g.xlarge")),
        )
        .await;
    assert!(!out(&instance, "endpoint").is_empty());
    assert_findable(&kit, &ictx, &instance, &iinputs, "instance_identifier").await;

    // The secondary joins the global cluster as a reader: no master user.
    let sctx = kit.ctx("secondary/rds.cluster/payment", SECONDARY);
    let secondary_inputs = |window: &str| {
        json!({"cluster_identifier": "prov-rds-secondary", "engine": "aurora-postgresql", "engine_version": "14.9",
               "global_cluster_identifier": global_id, "db_subnet_group_name": format!("prov-rds-{SECONDARY}"),
               "vpc_security_group_ids": [net2.sg.1.id], "storage_encrypted": true, "kms_key_id": "alias/aws/rds",
               "backup_retention_period": 7, "preferred_backup_window": window, "tags": {}})
    };
    let (secondary, sinputs) = kit
        .lifecycle(
            &sctx,
            secondary_inputs("03:00-04:00"),
            Some(secondary_inputs("04:00-05:00")),
        )
        .await;
    assert_eq!(secondary.outputs["master_user_secret_arn"], json!(""));
    assert_no_password(&sinputs, &secondary.outputs);
    assert_findable(&kit, &sctx, &secondary, &sinputs, "cluster_identifier").await;
    let members = kit
        .aws
        .rds(PRIMARY)
        .describe_global_clusters()
        .global_cluster_identifier(global_id)
        .send()
        .await
        .unwrap();
    let mut member_arns: Vec<&str> = members.global_clusters()[0]
        .global_cluster_members()
        .iter()
        .filter_map(|m| m.db_cluster_arn())
        .collect();
    member_arns.sort();
    assert_eq!(
        member_arns,
        vec![out(&primary, "arn"), out(&secondary, "arn")]
    );

    // Drift: backup retention changed out of band, then repaired.
    kit.aws
        .rds(PRIMARY)
        .modify_db_cluster()
        .db_cluster_identifier("prov-rds-primary")
        .backup_retention_period(1)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    let seen = kit.read(&pctx, &primary.id, &pinputs).await.unwrap();
    assert_eq!(seen["backup_retention_period"], json!(1));
    kit.provider(&pctx)
        .update(&pctx, &primary.id, &seen, &pinputs)
        .await
        .unwrap();
    assert_eq!(
        kit.read(&pctx, &primary.id, &pinputs).await.unwrap(),
        pinputs
    );

    // The global cluster refuses to go while clusters are attached.
    let err = kit
        .provider(&gctx)
        .delete(&gctx, &global.id, &ginputs, &global.outputs)
        .await
        .unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("GlobalClusterHasMembers"),
        "{err}"
    );

    // The primary's last instance cannot go while a secondary exists (AWS
    // says so; tests/emulator/ext_rds.py too).
    let err = kit
        .provider(&ictx)
        .delete(&ictx, &instance.id, &iinputs, &instance.outputs)
        .await
        .unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("InvalidDBClusterStateFault"),
        "{err}"
    );

    // Teardown in the order the blueprint's graph gives (the secondary
    // cluster follows the primary's writer); each delete leaves nothing
    // behind.
    kit.delete(&sctx, &secondary, &sinputs).await;
    kit.delete(&ictx, &instance, &iinputs).await;
    kit.delete(&pctx, &primary, &pinputs).await;
    kit.delete(&gctx, &global, &ginputs).await;
    for (ctx, g, inputs) in &groups {
        kit.delete(ctx, g, inputs).await;
    }
    // Nothing left for recovery to adopt.
    assert_eq!(find(&kit, &ictx, &iinputs).await, None);
    assert_eq!(find(&kit, &sctx, &sinputs).await, None);
    assert_eq!(find(&kit, &pctx, &pinputs).await, None);
    assert_eq!(find(&kit, &gctx, &ginputs).await, None);
    for (ctx, _, inputs) in &groups {
        assert_eq!(find(&kit, ctx, inputs).await, None);
    }
    for region in [PRIMARY, SECONDARY] {
        let clusters = kit
            .aws
            .rds(region)
            .describe_db_clusters()
            .send()
            .await
            .unwrap();
        assert!(
            clusters.db_clusters().iter().all(|c| !c
                .db_cluster_identifier()
                .unwrap_or_default()
                .starts_with("prov-rds")),
            "{region}: {clusters:?}"
        );
    }
    net1.delete(&kit).await;
    net2.delete(&kit).await;
}
