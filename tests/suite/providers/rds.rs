//! Provider tests: rds.

use drctl_core::{Applied, Attributes, OpContext};
use drctl_tests::{PRIMARY, SECONDARY, emulator_for};
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

/// No input or output carries the password: the only key that mentions
/// one names the secret that holds it, and no value contains it.
fn assert_no_password(inputs: &Attributes, outputs: &Attributes, password: &str) {
    for (k, v) in inputs.iter().chain(outputs.iter()) {
        if k.contains("password") {
            assert_eq!(k, "master_password_secret_arn");
            assert!(v.as_str().unwrap().starts_with("arn:aws:secretsmanager:"));
        }
        assert!(!v.to_string().contains(password), "{k} = {v}");
    }
}

/// The secret's value, as only a test reads it.
async fn secret_value(kit: &Kit, name: &str) -> Json {
    let out = kit
        .aws
        .secretsmanager(PRIMARY)
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .unwrap();
    serde_json::from_str(out.secret_string().unwrap()).unwrap()
}

/// The manual snapshots of a cluster, by identifier.
async fn cluster_snapshots(kit: &Kit, region: &str, cluster: &str) -> Vec<String> {
    let out = kit
        .aws
        .rds(region)
        .describe_db_cluster_snapshots()
        .db_cluster_identifier(cluster)
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    out.db_cluster_snapshots()
        .iter()
        .filter_map(|s| s.db_cluster_snapshot_identifier().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn master_password_secret_is_generated_adopted_and_restored() {
    let kit = Kit::new("prov-rds-secret").await;
    let ctx = kit.ctx("primary/secretsmanager.secret/db-master", PRIMARY);
    let name = "prov-rds-db-master";
    let inputs = |description: &str, replicas: Json, tags: Json| {
        json!({"name": name, "description": description, "username": "payment_admin",
               "cluster_identifier": "prov-rds-primary", "replica_regions": replicas, "tags": tags})
    };
    // Replication to the secondary region is added in place.
    let (secret, sinputs) = kit
        .lifecycle(
            &ctx,
            inputs("db", json!([]), json!({"Name": "a"})),
            Some(inputs(
                "payment db",
                json!([SECONDARY]),
                json!({"Name": "b", "Team": "sre"}),
            )),
        )
        .await;
    let arn = out(&secret, "arn").to_owned();
    assert!(
        arn.starts_with("arn:aws:secretsmanager:us-east-1:"),
        "{arn}"
    );
    assert_findable(&kit, &ctx, &secret, &sinputs, "name").await;

    // What Secrets Manager generated: a password RDS accepts (8 to 41
    // characters, none of / " @ or space), in the keys RDS rotation reads.
    let value = secret_value(&kit, name).await;
    let password = value["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 32);
    assert!(!password.contains(['/', '"', '@', ' ']), "{password}");
    assert_eq!(value["username"], json!("payment_admin"));
    assert_eq!(value["engine"], json!("postgres"));
    assert_eq!(value["dbClusterIdentifier"], json!("prov-rds-primary"));
    // The replica in the secondary region holds the same value.
    let replica = kit
        .aws
        .secretsmanager(SECONDARY)
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .unwrap();
    let replica: Json = serde_json::from_str(replica.secret_string().unwrap()).unwrap();
    assert_eq!(replica["password"], json!(password));
    assert_no_password(&sinputs, &secret.outputs, &password);
    let seen = kit.read(&ctx, &secret.id, &sinputs).await.unwrap();
    assert_no_password(&seen, &secret.outputs, &password);

    // A create resent after a lost answer finds the version its token
    // made and adopts it; the value stays the first one.
    let again = kit.provider(&ctx).create(&ctx, &sinputs).await.unwrap();
    assert_eq!(again, secret);
    assert_eq!(secret_value(&kit, name).await["password"], json!(password));
    // The same name made for another address is not adopted.
    let other = kit.ctx("primary/secretsmanager.secret/other", PRIMARY);
    let err = kit
        .provider(&other)
        .create(&other, &sinputs)
        .await
        .unwrap_err();
    assert_eq!(
        err.code.as_deref(),
        Some("ResourceExistsException"),
        "{err}"
    );

    // Deleted (its replica first: a replicated secret cannot be deleted),
    // it is scheduled for deletion (recoverable, as it holds the only copy
    // of the password), gone for read and find; a create of the same name
    // restores and adopts it, password and replica included, where
    // CreateSecret alone fails (tests/emulator/ext_secretsmanager.py).
    kit.delete(&ctx, &secret, &sinputs).await;
    assert_eq!(find(&kit, &ctx, &sinputs).await, None);
    let described = kit
        .aws
        .secretsmanager(PRIMARY)
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .unwrap();
    assert!(described.deleted_date().is_some());
    let restored = kit.provider(&ctx).create(&ctx, &sinputs).await.unwrap();
    assert_eq!(restored, secret);
    assert_eq!(secret_value(&kit, name).await["password"], json!(password));
    assert_eq!(
        kit.read(&ctx, &restored.id, &sinputs).await.unwrap(),
        sinputs
    );
    kit.delete(&ctx, &restored, &sinputs).await;
}

/// An engine version change is an in-place update of the global cluster
/// and its members, never a replacement; a delete shows the final snapshot
/// it leaves.
#[test]
fn engine_upgrade_plans_an_update_and_a_delete_names_its_final_snapshot() {
    use drctl_core::planner::{plan_apply, plan_destroy};
    use drctl_core::{Action, DesiredGraph, ResourceSpec, ResourceState, State};

    let schemas = drctl_aws::schemas();
    let global: drctl_core::Address = "global/rds.global_cluster/payment".parse().unwrap();
    let cluster: drctl_core::Address = "primary/rds.cluster/payment".parse().unwrap();
    let mut state = State::new("dev");
    for (a, version) in [(&global, "14.9"), (&cluster, "14.9")] {
        state.resources.insert(
            a.clone(),
            ResourceState {
                kind: a.kind().to_owned(),
                region: PRIMARY.into(),
                id: "payment".into(),
                inputs: serde_json::from_value(json!({"engine_version": version})).unwrap(),
                outputs: serde_json::from_value(
                    json!({"final_snapshot_identifier": "payment-dev-primary-final-20261202052703"}),
                )
                .unwrap(),
                dependencies: Default::default(),
            },
        );
    }
    let desired = DesiredGraph::new(vec![
        ResourceSpec::new(global.clone(), PRIMARY).input("engine_version", "14.12"),
        ResourceSpec::new(cluster.clone(), PRIMARY).input("engine_version", "14.12"),
    ])
    .unwrap();
    let changes = plan_apply(&desired, &state, &schemas);
    assert!(
        changes.iter().all(|c| c.action == Action::Update),
        "{changes:#?}"
    );
    let destroy = plan_destroy(&state, &schemas);
    let deleted = destroy.iter().find(|c| c.address == cluster).unwrap();
    assert_eq!(
        deleted.leaves.get("final_snapshot_identifier"),
        Some(&json!("payment-dev-primary-final-20261202052703"))
    );
    // A global cluster has no snapshot of its own.
    assert!(
        destroy
            .iter()
            .find(|c| c.address == global)
            .unwrap()
            .leaves
            .is_empty()
    );
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
    assert!(kit.listed(&gctx, &global.id).await);

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
        assert!(kit.listed(&ctx, &g.id).await);
        groups.push((ctx, g, inputs));
    }

    // The master password: generated into a secret of the primary region.
    let secret_ctx = kit.ctx("primary/secretsmanager.secret/db-master", PRIMARY);
    let (secret, secret_inputs) = kit
        .lifecycle(
            &secret_ctx,
            json!({"name": "prov-rds-master", "description": "db", "username": "payment",
                   "cluster_identifier": "prov-rds-primary", "replica_regions": [SECONDARY], "tags": {}}),
            None,
        )
        .await;
    let password = secret_value(&kit, "prov-rds-master").await["password"]
        .as_str()
        .unwrap()
        .to_owned();

    // The primary cluster, its password read from the secret at create
    // (an RDS-managed password is refused for a global database's
    // cluster: tests/emulator/ext_rds.py). Its delete takes a final
    // snapshot.
    let pctx = kit.ctx("primary/rds.cluster/payment", PRIMARY);
    let primary_inputs = |retention: i64, tags: Json| {
        json!({"cluster_identifier": "prov-rds-primary", "engine": "aurora-postgresql", "engine_version": "14.9",
               "global_cluster_identifier": global_id, "db_subnet_group_name": format!("prov-rds-{PRIMARY}"),
               "vpc_security_group_ids": [net1.sg.1.id], "storage_encrypted": true,
               "backup_retention_period": retention, "preferred_backup_window": "03:00-04:00",
               "master_username": "payment", "master_password_secret_arn": out(&secret, "arn"),
               "skip_final_snapshot": false, "tags": tags})
    };
    let (primary, mut pinputs) = kit
        .lifecycle(
            &pctx,
            primary_inputs(7, json!({"Name": "p"})),
            Some(primary_inputs(14, json!({"Name": "p", "Team": "sre"}))),
        )
        .await;
    assert!(!out(&primary, "endpoint").is_empty());
    assert!(!out(&primary, "reader_endpoint").is_empty());
    assert_no_password(&pinputs, &primary.outputs, &password);
    let primary_snapshot = out(&primary, "final_snapshot_identifier").to_owned();
    let stamp = primary_snapshot
        .strip_prefix("prov-rds-primary-final-")
        .unwrap_or_else(|| panic!("{primary_snapshot}"));
    assert!(
        stamp.len() == 14 && stamp.chars().all(|c| c.is_ascii_digit()),
        "{primary_snapshot}"
    );
    assert_findable(&kit, &pctx, &primary, &pinputs, "cluster_identifier").await;
    assert!(kit.listed(&pctx, &primary.id).await);

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
    assert!(kit.listed(&ictx, &instance.id).await);

    // The secondary joins the global cluster as a reader: no credentials.
    // Skipping its final snapshot is switched on in place.
    let sctx = kit.ctx("secondary/rds.cluster/payment", SECONDARY);
    let secondary_inputs = |window: &str, skip: bool| {
        json!({"cluster_identifier": "prov-rds-secondary", "engine": "aurora-postgresql", "engine_version": "14.9",
               "global_cluster_identifier": global_id, "db_subnet_group_name": format!("prov-rds-{SECONDARY}"),
               "vpc_security_group_ids": [net2.sg.1.id], "storage_encrypted": true, "kms_key_id": "alias/aws/rds",
               "backup_retention_period": 7, "preferred_backup_window": window, "skip_final_snapshot": skip,
               "tags": {}})
    };
    let (secondary, mut sinputs) = kit
        .lifecycle(
            &sctx,
            secondary_inputs("03:00-04:00", false),
            Some(secondary_inputs("04:00-05:00", true)),
        )
        .await;
    assert!(
        out(&secondary, "final_snapshot_identifier").starts_with("prov-rds-secondary-final-"),
        "{:?}",
        secondary.outputs
    );
    let skipped = kit
        .provider(&sctx)
        .read(&sctx, &secondary.id, &sinputs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(skipped.outputs["final_snapshot_identifier"], json!(""));
    assert!(!sinputs.keys().any(|k| k.starts_with("master_")));
    assert_no_password(&sinputs, &secondary.outputs, &password);
    assert_findable(&kit, &sctx, &secondary, &sinputs, "cluster_identifier").await;
    assert!(kit.listed(&sctx, &secondary.id).await);
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

    // Engine upgrades are made by the global cluster's update, in place:
    // a minor one member by member (ModifyDBCluster, the secondary first),
    // a major one by ModifyGlobalCluster (tests/emulator/ext_rds.py holds
    // AWS's rules); the members' own update only waits for the version.
    let upgrade = |from: &Attributes, version: &str| {
        let mut to = from.clone();
        to.insert("engine_version".into(), json!(version));
        to
    };
    let rds1 = kit.aws.rds(PRIMARY);
    let versions = || async {
        let g = rds1
            .describe_global_clusters()
            .global_cluster_identifier(global_id)
            .send()
            .await
            .unwrap();
        let p = rds1
            .describe_db_clusters()
            .db_cluster_identifier("prov-rds-primary")
            .send()
            .await
            .unwrap();
        let s = kit
            .aws
            .rds(SECONDARY)
            .describe_db_clusters()
            .db_cluster_identifier("prov-rds-secondary")
            .send()
            .await
            .unwrap();
        [
            g.global_clusters()[0].engine_version().unwrap().to_owned(),
            p.db_clusters()[0].engine_version().unwrap().to_owned(),
            s.db_clusters()[0].engine_version().unwrap().to_owned(),
        ]
    };
    let mut ginputs = ginputs;
    for version in ["14.12", "15.4"] {
        let next = upgrade(&ginputs, version);
        kit.provider(&gctx)
            .update(&gctx, &global.id, &ginputs, &next)
            .await
            .unwrap();
        ginputs = next;
        assert_eq!(versions().await, [version; 3].map(str::to_owned));
        assert_eq!(
            kit.read(&gctx, &global.id, &ginputs).await.unwrap(),
            ginputs
        );
        for (ctx, id, inputs) in [
            (&pctx, &primary.id, &mut pinputs),
            (&sctx, &secondary.id, &mut sinputs),
        ] {
            let next = upgrade(inputs, version);
            kit.provider(ctx)
                .update(ctx, id, inputs, &next)
                .await
                .unwrap();
            *inputs = next;
            assert_eq!(kit.read(ctx, id, inputs).await.unwrap(), *inputs);
        }
    }
    // A minor upgrade AWS applies by itself (each member, the secondary
    // first) is not drift to undo.
    for (region, id) in [
        (SECONDARY, "prov-rds-secondary"),
        (PRIMARY, "prov-rds-primary"),
    ] {
        kit.aws
            .rds(region)
            .modify_db_cluster()
            .db_cluster_identifier(id)
            .engine_version("15.7")
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(
        kit.read(&gctx, &global.id, &ginputs).await.unwrap(),
        ginputs
    );
    assert_eq!(
        kit.read(&pctx, &primary.id, &pinputs).await.unwrap(),
        pinputs
    );
    // Asking for an older version fails, saying why; nothing changes.
    let err = kit
        .provider(&gctx)
        .update(&gctx, &global.id, &ginputs, &upgrade(&ginputs, "14.12"))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("EngineVersionDowngrade"), "{err}");
    assert!(err.message.contains("cannot downgrade"), "{err}");
    assert_eq!(versions().await, ["15.7"; 3].map(str::to_owned));

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
    // says so; tests/emulator/ext_rds.py too). (The provider's delete of
    // it would detach the secondary first: `dr_destroy`.)
    let e = kit
        .aws
        .rds(PRIMARY)
        .delete_db_instance()
        .db_instance_identifier(&instance.id)
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_rds::error::ProvideErrorMetadata::code(&e),
        Some("InvalidDBClusterStateFault"),
        "{e:?}"
    );

    // Teardown in the order the blueprint's graph gives (the secondary
    // cluster follows the primary's writer); each delete leaves nothing
    // behind.
    kit.delete(&sctx, &secondary, &sinputs).await;
    // A run stopped right after its DeleteDBInstance (killed while it
    // waited): the instance is `deleting` and AWS refuses a second
    // DeleteDBInstance, so the next run's delete only waits.
    let rds = kit.aws.rds(PRIMARY);
    for expected in [None, Some("InvalidDBInstanceState")] {
        let result = rds
            .delete_db_instance()
            .db_instance_identifier(&instance.id)
            .skip_final_snapshot(true)
            .send()
            .await;
        assert_eq!(
            result
                .as_ref()
                .err()
                .and_then(aws_sdk_rds::error::ProvideErrorMetadata::code),
            expected,
            "{result:?}"
        );
    }
    kit.delete(&ictx, &instance, &iinputs).await;
    kit.delete(&pctx, &primary, &pinputs).await;
    kit.delete(&gctx, &global, &ginputs).await;
    kit.delete(&secret_ctx, &secret, &secret_inputs).await;
    // The primary's delete left the snapshot the plan named; the
    // secondary's, skipped, none.
    assert_eq!(
        cluster_snapshots(&kit, PRIMARY, "prov-rds-primary").await,
        vec![primary_snapshot.clone()]
    );
    assert_eq!(
        cluster_snapshots(&kit, SECONDARY, "prov-rds-secondary").await,
        Vec::<String>::new()
    );
    kit.aws
        .rds(PRIMARY)
        .delete_db_cluster_snapshot()
        .db_cluster_snapshot_identifier(&primary_snapshot)
        .send()
        .await
        .unwrap();
    for (ctx, g, inputs) in &groups {
        kit.delete(ctx, g, inputs).await;
    }
    // Nothing left for recovery to adopt.
    assert_eq!(find(&kit, &ictx, &iinputs).await, None);
    assert_eq!(find(&kit, &sctx, &sinputs).await, None);
    assert_eq!(find(&kit, &pctx, &pinputs).await, None);
    assert_eq!(find(&kit, &gctx, &ginputs).await, None);
    for (ctx, g, inputs) in &groups {
        assert_eq!(find(&kit, ctx, inputs).await, None);
        assert!(!kit.listed(ctx, &g.id).await);
    }
    for (ctx, id) in [
        (&ictx, &instance.id),
        (&sctx, &secondary.id),
        (&pctx, &primary.id),
        (&gctx, &global.id),
    ] {
        assert!(!kit.listed(ctx, id).await, "{} listed", ctx.address);
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

/// A secret with its region's customer key, and its replica with its
/// own region's: a replica does not inherit the key
/// (tests/emulator/ext_secretsmanager.py). Changing the replica's key makes
/// the replica again; changing the secret's re-encrypts it in place.
#[tokio::test]
async fn secret_and_its_replica_each_with_their_region_key() {
    let kit = Kit::new("prov-secret-key").await;
    let mut keys = Vec::new();
    for region in [PRIMARY, SECONDARY, SECONDARY, PRIMARY] {
        let made = kit.aws.kms(region).create_key().send().await.unwrap();
        keys.push(made.key_metadata().unwrap().arn().unwrap().to_owned());
    }
    let ctx = kit.ctx("primary/secretsmanager.secret/db-master", PRIMARY);
    let name = "prov-secret-key-db-master";
    let spec = |key: &str, replica_key: &str| {
        json!({"name": name, "description": "db", "username": "payment_admin",
               "cluster_identifier": "prov-secret-key-primary", "replica_regions": [SECONDARY],
               "kms_key_id": key, "replica_kms_key_ids": {SECONDARY: replica_key}, "tags": {}})
    };
    let (secret, inputs) = kit
        .lifecycle(
            &ctx,
            spec(&keys[0], &keys[1]),
            Some(spec(&keys[3], &keys[2])),
        )
        .await;
    // Listed in its region; its replica is its, not listed on its own.
    assert!(kit.listed(&ctx, &secret.id).await);
    let replica_ctx = kit.ctx("primary/secretsmanager.secret/db-master", SECONDARY);
    assert!(!kit.listed(&replica_ctx, &secret.id).await);
    let described = kit
        .aws
        .secretsmanager(PRIMARY)
        .describe_secret()
        .secret_id(name)
        .send()
        .await
        .unwrap();
    assert_eq!(described.kms_key_id(), Some(keys[3].as_str()));
    let replica = &described.replication_status()[0];
    assert_eq!(
        (replica.region(), replica.kms_key_id()),
        (Some(SECONDARY), Some(keys[2].as_str()))
    );
    // A key for a region that is no replica is refused before any call.
    let mut bad = inputs.clone();
    bad.insert(
        "replica_kms_key_ids".into(),
        json!({SECONDARY: keys[2], "eu-west-1": keys[2]}),
    );
    let err = kit
        .provider(&ctx)
        .update(&ctx, &secret.id, &inputs, &bad)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");
    assert_eq!(kit.read(&ctx, &secret.id, &inputs).await.unwrap(), inputs);
    kit.delete(&ctx, &secret, &inputs).await;
    assert!(!kit.listed(&ctx, &secret.id).await);
}

/// A create that meets its secret's name scheduled for deletion restores
/// it and takes its password: only when the secret was made for this
/// address of this environment (its `drctl:*` tags). Another
/// environment's deleted secret of that name, or one no drctl environment
/// made, is left scheduled for deletion, and the create is refused naming
/// it; nothing of its value reaches this environment.
#[tokio::test]
async fn a_deleted_secret_is_restored_only_for_the_address_that_made_it() {
    let env = "prov-secret-own";
    let kit = Kit::new(env).await;
    let theirs = Kit::with_endpoint("prov-secret-other", &emulator_for(env).endpoint).await;
    let sm = kit.aws.secretsmanager(PRIMARY);
    let inputs = |name: &str| {
        super::attrs(
            json!({"name": name, "description": "db", "username": "payment_admin",
               "cluster_identifier": "prov-secret-primary", "replica_regions": [], "tags": {}}),
        )
    };

    // Another environment's secret, deleted (scheduled) by its destroy.
    let name = "prov-secret-own-db-master";
    let tctx = theirs.ctx("primary/secretsmanager.secret/db-master", PRIMARY);
    let theirs_secret = theirs
        .provider(&tctx)
        .create(&tctx, &inputs(name))
        .await
        .unwrap();
    theirs.delete(&tctx, &theirs_secret, &inputs(name)).await;
    let ctx = kit.ctx("primary/secretsmanager.secret/db-master", PRIMARY);
    let err = kit
        .provider(&ctx)
        .create(&ctx, &inputs(name))
        .await
        .unwrap_err();
    super::assert_not_owned(err, "belongs to environment `prov-secret-other`");
    let described = sm.describe_secret().secret_id(name).send().await.unwrap();
    assert!(
        described.deleted_date().is_some(),
        "still scheduled for deletion"
    );

    // One no drctl environment made.
    let foreign = "prov-secret-own-foreign";
    sm.create_secret()
        .name(foreign)
        .secret_string("{\"password\":\"not-ours\"}")
        .send()
        .await
        .unwrap();
    sm.delete_secret()
        .secret_id(foreign)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    let err = kit
        .provider(&ctx)
        .create(&ctx, &inputs(foreign))
        .await
        .unwrap_err();
    super::assert_not_owned(err, "carries no drctl:env tag");
    let described = sm
        .describe_secret()
        .secret_id(foreign)
        .send()
        .await
        .unwrap();
    assert!(
        described.deleted_date().is_some(),
        "still scheduled for deletion"
    );

    // This address's own deleted secret is restored.
    let own = "prov-secret-own-mine";
    let secret = kit.provider(&ctx).create(&ctx, &inputs(own)).await.unwrap();
    kit.delete(&ctx, &secret, &inputs(own)).await;
    let restored = kit.provider(&ctx).create(&ctx, &inputs(own)).await.unwrap();
    assert_eq!(restored, secret);
    kit.delete(&ctx, &restored, &inputs(own)).await;
    for name in [name, foreign, own] {
        sm.delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await
            .ok();
    }
}
