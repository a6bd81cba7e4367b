//! Provider tests: iam and lambda.

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use drctl_blueprint::lambda_code::package;
use drctl_core::{Attributes, OpContext};
use drctl_tests::{PRIMARY, SECONDARY, emulator_for};
use serde_json::{Value as Json, json};

use super::{Kit, out};

const BASIC: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
const VPC_ACCESS: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";

fn trust(services: &[&str]) -> Json {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": services},
            "Action": "sts:AssumeRole"
        }]
    })
}

fn allow(actions: &[&str], resource: &str) -> Json {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]
    })
}

/// What crash recovery would adopt for `inputs` in `ctx`.
async fn find(kit: &Kit, ctx: &OpContext, inputs: &Attributes) -> Option<String> {
    kit.provider(ctx).find(ctx, inputs).await.unwrap()
}

fn role_inputs(name: &str) -> Json {
    json!({
        "name": name,
        "description": "Lambda execution role",
        "assume_role_policy": trust(&["lambda.amazonaws.com"]),
        "inline_policies": {},
        "managed_policy_arns": [BASIC],
        "tags": {}
    })
}

#[tokio::test]
async fn role_policies_update_and_drift() {
    let kit = Kit::new("prov-iam-role").await;
    let ctx = kit.ctx("global/iam.role/exec", PRIMARY);
    let name = "prov-iam-role-exec";
    let table = "arn:aws:dynamodb:*:*:table/payment-*";
    let (role, inputs) = kit
        .lifecycle(
            &ctx,
            json!({
                "name": name,
                "description": "Lambda execution role",
                "assume_role_policy": trust(&["lambda.amazonaws.com"]),
                "inline_policies": {
                    "dynamodb-write": allow(&["dynamodb:PutItem"], table),
                    "logs": allow(&["logs:CreateLogStream", "logs:PutLogEvents"], "*")
                },
                "managed_policy_arns": [BASIC, VPC_ACCESS],
                "tags": {"Name": "exec"}
            }),
            Some(json!({
                "name": name,
                "description": "Lambda and Step Functions execution role",
                "assume_role_policy": trust(&["lambda.amazonaws.com", "states.amazonaws.com"]),
                "inline_policies": {
                    "dynamodb-write": allow(&["dynamodb:PutItem", "dynamodb:UpdateItem"], table),
                    "sns-publish": allow(&["sns:Publish"], "*")
                },
                "managed_policy_arns": [VPC_ACCESS],
                "tags": {"Name": "exec2", "Team": "sre"}
            })),
        )
        .await;
    assert_eq!(role.id, name);
    assert_eq!(out(&role, "name"), name);
    assert!(
        out(&role, "arn").ends_with(&format!(":role/{name}")),
        "{role:?}"
    );
    assert!(!out(&role, "role_id").is_empty());
    // Crash recovery finds the role by its name.
    assert_eq!(find(&kit, &ctx, &inputs).await, Some(role.id.clone()));
    let mut other = inputs.clone();
    other.insert("name".into(), json!("prov-iam-role-never"));
    assert_eq!(find(&kit, &ctx, &other).await, None);

    // The identity tags are on the role, though not part of the inputs.
    let iam = kit.aws.iam();
    let tags = iam.list_role_tags().role_name(name).send().await.unwrap();
    let tags: Vec<_> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert!(tags.contains(&("drctl:env", "prov-iam-role")));
    assert!(tags.contains(&("drctl:address", "global/iam.role/exec")));

    // Drift: an inline policy changed and a managed policy detached out of
    // band.
    let tampered = allow(&["dynamodb:*"], "*");
    iam.put_role_policy()
        .role_name(name)
        .policy_name("dynamodb-write")
        .policy_document(tampered.to_string())
        .send()
        .await
        .unwrap();
    iam.detach_role_policy()
        .role_name(name)
        .policy_arn(VPC_ACCESS)
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &role.id, &inputs).await.unwrap();
    assert_eq!(seen["inline_policies"]["dynamodb-write"], tampered);
    assert_eq!(seen["managed_policy_arns"], json!([]));
    // An update from the observed inputs repairs both.
    kit.provider(&ctx)
        .update(&ctx, &role.id, &seen, &inputs)
        .await
        .unwrap();
    assert_eq!(kit.read(&ctx, &role.id, &inputs).await.unwrap(), inputs);

    // Policies added out of band do not keep the role from being deleted.
    iam.put_role_policy()
        .role_name(name)
        .policy_name("added-by-hand")
        .policy_document(allow(&["s3:GetObject"], "*").to_string())
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name(name)
        .policy_arn(BASIC)
        .send()
        .await
        .unwrap();
    kit.delete(&ctx, &role, &inputs).await;
    assert_eq!(find(&kit, &ctx, &inputs).await, None);
}

/// A VPC with one subnet and one security group, made through the SDK.
async fn network(kit: &Kit, region: &str, cidr: &str) -> (String, String, String) {
    let ec2 = kit.aws.ec2(region);
    let vpc = ec2.create_vpc().cidr_block(cidr).send().await.unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block(cidr.replace(".0.0/16", ".1.0/24"))
        .send()
        .await
        .unwrap();
    let subnet_id = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();
    let sg = ec2
        .create_security_group()
        .group_name("prov-lambda-fn")
        .description("lambda")
        .vpc_id(&vpc_id)
        .send()
        .await
        .unwrap();
    (vpc_id, subnet_id, sg.group_id().unwrap().to_owned())
}

#[tokio::test]
async fn function_config_code_update_drift_and_permissions() {
    let kit = Kit::new("prov-lambda").await;
    let region = SECONDARY;
    let (vpc_id, subnet_id, sg_id) = network(&kit, region, "10.61.0.0/16").await;

    let rctx = kit.ctx("global/iam.role/lambda", PRIMARY);
    let (role, rinputs) = kit
        .lifecycle(&rctx, role_inputs("prov-lambda-exec"), None)
        .await;
    let role_arn = out(&role, "arn");

    let ctx = kit.ctx("secondary/lambda.function/payment-validation", region);
    let name = "prov-lambda-payment-validation";
    let v1 = package("payment-validation");
    let v2 = package("notification");
    let (function, inputs) = kit
        .lifecycle(
            &ctx,
            json!({
                "function_name": name,
                "runtime": "python3.12",
                "handler": "index.handler",
                "role_arn": role_arn,
                "timeout": 30,
                "memory_size": 256,
                "environment": {"ENVIRONMENT_SUFFIX": "prov-lambda", "DR_ROLE": "secondary"},
                "subnet_ids": [subnet_id],
                "security_group_ids": [sg_id],
                "code_zip_base64": v1.zip_base64,
                "code_sha256": v1.sha256_base64,
                "tags": {"Name": "pv"}
            }),
            // New code and configuration, and out of the VPC.
            Some(json!({
                "function_name": name,
                "runtime": "python3.12",
                "handler": "index.handler",
                "role_arn": role_arn,
                "timeout": 60,
                "memory_size": 512,
                "environment": {"ENVIRONMENT_SUFFIX": "prov-lambda", "DR_ROLE": "secondary", "TOPIC_ARN": "t"},
                "subnet_ids": [],
                "security_group_ids": [],
                "code_zip_base64": v2.zip_base64,
                "code_sha256": v2.sha256_base64,
                "tags": {"Name": "pv2", "Team": "sre"}
            })),
        )
        .await;
    let arn = out(&function, "arn");
    assert_eq!(function.id, name);
    assert_eq!(out(&function, "function_name"), name);
    assert!(arn.ends_with(&format!(":function:{name}")), "{arn}");
    assert_eq!(
        out(&function, "invoke_arn"),
        format!("arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations")
    );
    let lambda = kit.aws.lambda(region);
    let tags = lambda.list_tags().resource(&arn).send().await.unwrap();
    let tags = tags.tags().unwrap();
    assert_eq!(tags["drctl:env"], "prov-lambda");
    assert_eq!(tags["drctl:address"], ctx.address.to_string());
    // Crash recovery finds the function by its name.
    assert_eq!(find(&kit, &ctx, &inputs).await, Some(function.id.clone()));
    let mut other = inputs.clone();
    other.insert("function_name".into(), json!("prov-lambda-never"));
    assert_eq!(find(&kit, &ctx, &other).await, None);

    // Drift: code deployed and memory changed out of band.
    let v3 = package("failover");
    lambda
        .update_function_code()
        .function_name(name)
        .zip_file(Blob::new(v3.zip_bytes()))
        .send()
        .await
        .unwrap();
    // Lambda refuses an update while the last one is InProgress.
    until_updated(&lambda, name).await;
    lambda
        .update_function_configuration()
        .function_name(name)
        .memory_size(128)
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &function.id, &inputs).await.unwrap();
    assert_eq!(seen["code_sha256"], json!(v3.sha256_base64));
    assert_eq!(seen["memory_size"], json!(128));
    assert_eq!(seen["code_zip_base64"], inputs["code_zip_base64"]);
    kit.provider(&ctx)
        .update(&ctx, &function.id, &seen, &inputs)
        .await
        .unwrap();
    assert_eq!(kit.read(&ctx, &function.id, &inputs).await.unwrap(), inputs);

    // A package whose hash is not `code_sha256` is refused before any call.
    let mut wrong = inputs.clone();
    wrong.insert("code_sha256".into(), json!(v1.sha256_base64));
    let err = kit
        .provider(&ctx)
        .update(&ctx, &function.id, &inputs, &wrong)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");

    // Permissions: two statements, each read back by its Sid.
    let source = |stage: &str| {
        format!("arn:aws:execute-api:{region}:123456789012:abc123/{stage}/POST/payments")
    };
    let mut permissions = Vec::new();
    for sid in ["apigw-prod", "apigw-test"] {
        let pctx = kit.ctx(&format!("secondary/lambda.permission/{sid}"), region);
        let (p, pinputs) = kit
            .lifecycle(
                &pctx,
                json!({
                    "function_name": name,
                    "statement_id": sid,
                    "action": "lambda:InvokeFunction",
                    "principal": "apigateway.amazonaws.com",
                    "source_arn": source(sid)
                }),
                None,
            )
            .await;
        assert_eq!(p.id, format!("{name}/{sid}"));
        assert_eq!(out(&p, "statement_id"), sid);
        assert!(kit.listed(&pctx, &p.id).await);
        // Crash recovery finds the statement by function and Sid.
        assert_eq!(find(&kit, &pctx, &pinputs).await, Some(p.id.clone()));
        permissions.push((pctx, p, pinputs));
    }
    // AddPermission sent again after its response was lost: the identical
    // statement is there already, which is success (AWS answers
    // ResourceConflictException, as tests/emulator/ext_lambda.py does).
    let (pctx, p, pinputs) = &permissions[0];
    let again = kit.provider(pctx).create(pctx, pinputs).await.unwrap();
    assert_eq!(again.id, p.id);
    // Another statement under the same id is refused, naming what is there.
    let mut clash = pinputs.clone();
    clash.insert("source_arn".into(), json!(source("other")));
    let err = kit.provider(pctx).create(pctx, &clash).await.unwrap_err();
    assert_eq!(err.code.as_deref(), Some("StatementExists"), "{err}");
    assert!(err.to_string().contains("apigw-prod/POST"), "{err}");
    // Drift: a statement removed out of band is gone for drctl.
    let (pctx, p, pinputs) = &permissions[1];
    lambda
        .remove_permission()
        .function_name(name)
        .statement_id("apigw-test")
        .send()
        .await
        .unwrap();
    assert!(kit.read(pctx, &p.id, pinputs).await.is_none());
    kit.delete(pctx, p, pinputs).await;
    assert_eq!(find(&kit, pctx, pinputs).await, None);
    let (pctx, p, pinputs) = &permissions[0];
    let mut other = pinputs.clone();
    other.insert("statement_id".into(), json!("apigw-never"));
    assert_eq!(find(&kit, pctx, &other).await, None);
    kit.delete(pctx, p, pinputs).await;
    assert_eq!(find(&kit, pctx, pinputs).await, None);
    assert!(!kit.listed(pctx, &p.id).await);

    assert!(kit.listed(&ctx, &function.id).await);
    kit.delete(&ctx, &function, &inputs).await;
    assert_eq!(find(&kit, &ctx, &inputs).await, None);
    assert!(!kit.listed(&ctx, &function.id).await);
    // A permission of a function that is gone is gone too.
    kit.provider(pctx)
        .delete(pctx, &p.id, pinputs, &p.outputs)
        .await
        .unwrap();
    assert!(kit.read(pctx, &p.id, pinputs).await.is_none());

    // The role goes last: Lambda deletes the function's interfaces with it.
    delete_network_once_released(&kit, region, &vpc_id, &subnet_id, &sg_id).await;
    kit.delete(&rctx, &role, &rinputs).await;
}

/// Deletes the network `network` made, once Lambda has released the
/// interfaces of the functions that used it (DependencyViolation until
/// then; the emulator releases them seconds after the last function left).
async fn delete_network_once_released(
    kit: &Kit,
    region: &str,
    vpc_id: &str,
    subnet_id: &str,
    sg_id: &str,
) {
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    let ec2 = kit.aws.ec2(region);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match ec2.delete_security_group().group_id(sg_id).send().await {
            Ok(_) => break,
            Err(e)
                if e.code() == Some("DependencyViolation")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    ec2.delete_subnet()
        .subnet_id(subnet_id)
        .send()
        .await
        .unwrap();
    ec2.delete_vpc().vpc_id(vpc_id).send().await.unwrap();
}

/// Lambda deletes a VPC function's interfaces with the function's role some
/// time after the function: with the role kept, the function's security
/// group and subnet can be deleted once that is done; with the role deleted
/// first, the interfaces stay and hold them for good (the rule
/// `tests/emulator/ext_lambda_eni.py` enforces, which the blueprint's order
/// of destroy respects).
#[tokio::test]
async fn function_interfaces_hold_their_group_until_lambda_deletes_them_with_the_role() {
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    let kit = Kit::new("prov-lambda-eni").await;
    let region = SECONDARY;
    let code = package("payment-validation");
    let function = |name: &str, role_arn: &str, subnet: &str, sg: &str| {
        json!({
            "function_name": name,
            "runtime": "python3.12",
            "handler": "index.handler",
            "role_arn": role_arn,
            "timeout": 30,
            "memory_size": 256,
            "environment": {},
            "subnet_ids": [subnet],
            "security_group_ids": [sg],
            "code_zip_base64": code.zip_base64,
            "code_sha256": code.sha256_base64,
            "tags": {}
        })
    };
    let ec2 = kit.aws.ec2(region);
    for (case, cidr, role_first) in [
        ("kept", "10.62.0.0/16", false),
        ("gone", "10.63.0.0/16", true),
    ] {
        let (vpc_id, subnet_id, sg_id) = network(&kit, region, cidr).await;
        let rctx = kit.ctx(&format!("global/iam.role/{case}"), PRIMARY);
        let (role, rinputs) = kit
            .lifecycle(&rctx, role_inputs(&format!("prov-lambda-eni-{case}")), None)
            .await;
        let ctx = kit.ctx(&format!("secondary/lambda.function/{case}"), region);
        let (f, finputs) = kit
            .lifecycle(
                &ctx,
                function(
                    &format!("prov-lambda-eni-{case}"),
                    &out(&role, "arn"),
                    &subnet_id,
                    &sg_id,
                ),
                None,
            )
            .await;
        let interfaces = ec2
            .describe_network_interfaces()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("group-id")
                    .values(&sg_id)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(interfaces.network_interfaces().len(), 1, "{case}");
        // While it has interfaces, the group is in use.
        let refused = ec2
            .delete_security_group()
            .group_id(&sg_id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Some("DependencyViolation"), "{case}");
        kit.delete(&ctx, &f, &finputs).await;
        if role_first {
            kit.delete(&rctx, &role, &rinputs).await;
            // Well past the emulator's release: still held, for good.
            tokio::time::sleep(Duration::from_secs(5)).await;
            for refused in [
                ec2.delete_security_group()
                    .group_id(&sg_id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.code().map(str::to_owned)),
                ec2.delete_subnet()
                    .subnet_id(&subnet_id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.code().map(str::to_owned)),
            ] {
                assert_eq!(
                    refused,
                    Err(Some("DependencyViolation".to_owned())),
                    "{case}"
                );
            }
        } else {
            delete_network_once_released(&kit, region, &vpc_id, &subnet_id, &sg_id).await;
            kit.delete(&rctx, &role, &rinputs).await;
        }
    }
}

#[tokio::test]
async fn function_create_waits_for_a_role_still_propagating() {
    use drctl_tests::proxy::{FaultProxy, Faults};
    // Through a proxy, to count the CreateFunction calls.
    let proxy = FaultProxy::start(&emulator_for("prov-lambda-iam").endpoint, Faults::none()).await;
    let kit = Kit::with_endpoint("prov-lambda-iam", &proxy.endpoint).await;
    let role_name = "prov-lambda-iam-late";
    let rctx = kit.ctx("global/iam.role/late", PRIMARY);
    // The ARN of a role that does not exist yet: Lambda answers as it does
    // while a new role has not reached every IAM endpoint.
    let account = kit.aws.account_id().await.unwrap();
    let role_arn = format!("arn:aws:iam::{account}:role/{role_name}");
    let late = {
        let kit_providers = kit.providers.clone();
        let rctx = rctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let p = kit_providers.get("iam.role").unwrap();
            let inputs = super::attrs(role_inputs(role_name));
            p.create(&rctx, &inputs).await.unwrap()
        })
    };
    let ctx = kit.ctx("primary/lambda.function/notification", PRIMARY);
    let code = package("notification");
    let (function, inputs) = kit
        .lifecycle(
            &ctx,
            json!({
                "function_name": "prov-lambda-iam-notification",
                "runtime": "python3.12",
                "handler": "index.handler",
                "role_arn": role_arn,
                "timeout": 10,
                "memory_size": 128,
                "environment": {},
                "subnet_ids": [],
                "security_group_ids": [],
                "code_zip_base64": code.zip_base64,
                "code_sha256": code.sha256_base64,
                "tags": {}
            }),
            None,
        )
        .await;
    let role = late.await.unwrap();
    // The first CreateFunction came before the role existed and was
    // refused (a create that went through at once would be one call).
    let creates = proxy
        .counts
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.service == "lambda" && c.operation == "POST /2015-03-31/functions")
        .count();
    assert!(
        creates >= 2,
        "CreateFunction made {creates} time(s): the role did not exist at the first"
    );
    kit.delete(&ctx, &function, &inputs).await;
    kit.delete(&rctx, &role, &super::attrs(role_inputs(role_name)))
        .await;
}

/// Waits, as any client of Lambda must, until the function's last update
/// is no longer `InProgress` (tests/emulator/ext_lambda.py).
async fn until_updated(lambda: &aws_sdk_lambda::Client, name: &str) {
    use aws_sdk_lambda::types::LastUpdateStatus;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let c = lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .unwrap();
        if c.last_update_status() != Some(&LastUpdateStatus::InProgress) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} still updating"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Lambda's states are asynchronous (tests/emulator/ext_lambda.py): a new
/// function is `Pending`, an updated one `InProgress`, and either refuses
/// another update (ResourceConflictException). Create returns once the
/// function is `Active`; update waits out an update still in progress (one
/// made out of band), waits between its configuration and code updates,
/// and returns once its last update is `Successful`.
#[tokio::test]
async fn function_create_and_update_wait_for_lambdas_asynchronous_states() {
    use aws_sdk_lambda::types::{LastUpdateStatus, State};
    let kit = Kit::new("prov-lambda-states").await;
    let rctx = kit.ctx("global/iam.role/states", PRIMARY);
    let (role, rinputs) = kit
        .lifecycle(&rctx, role_inputs("prov-lambda-states-exec"), None)
        .await;
    let ctx = kit.ctx("primary/lambda.function/states", PRIMARY);
    let name = "prov-lambda-states-fn";
    let (v1, v2) = (package("payment-validation"), package("notification"));
    let inputs = super::attrs(json!({
        "function_name": name,
        "runtime": "python3.12",
        "handler": "index.handler",
        "role_arn": out(&role, "arn"),
        "timeout": 10,
        "memory_size": 128,
        "environment": {},
        "subnet_ids": [],
        "security_group_ids": [],
        "code_zip_base64": v1.zip_base64,
        "code_sha256": v1.sha256_base64,
        "tags": {}
    }));
    let p = kit.provider(&ctx);
    let function = p.create(&ctx, &inputs).await.unwrap();
    let lambda = kit.aws.lambda(PRIMARY);
    let config = || async {
        lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .unwrap()
    };
    let c = config().await;
    assert_eq!(
        c.state(),
        Some(&State::Active),
        "create returned while {c:?}"
    );

    // An update made out of band is still InProgress when drctl's starts.
    lambda
        .update_function_configuration()
        .function_name(name)
        .timeout(20)
        .send()
        .await
        .unwrap();
    let mut updated = inputs.clone();
    updated.insert("memory_size".into(), json!(256));
    updated.insert("code_zip_base64".into(), json!(v2.zip_base64));
    updated.insert("code_sha256".into(), json!(v2.sha256_base64));
    p.update(&ctx, &function.id, &inputs, &updated)
        .await
        .unwrap();
    let c = config().await;
    assert_eq!(
        c.last_update_status(),
        Some(&LastUpdateStatus::Successful),
        "update returned while {c:?}"
    );
    assert_eq!(
        kit.read(&ctx, &function.id, &updated).await.unwrap(),
        updated
    );

    kit.delete(&ctx, &function, &updated).await;
    kit.delete(&rctx, &role, &rinputs).await;
}

/// A refresh copies into state only the environment variables drctl set,
/// as drctl set them: a variable added outside drctl (a password pasted
/// into the console) or a value changed there may be a secret, so it is
/// recorded as changed, without its value, and the apply puts drctl's
/// environment back. Another environment's state naming the function (or
/// a permission of it) cannot delete it: the function's `drctl:*` tags
/// are not that environment's.
#[tokio::test]
async fn a_refresh_never_copies_variables_set_outside_drctl_and_another_environment_cannot_delete()
{
    let env = "prov-lambda-own";
    let kit = Kit::new(env).await;
    let rctx = kit.ctx("global/iam.role/lambda", PRIMARY);
    let (role, rinputs) = kit
        .lifecycle(&rctx, role_inputs("prov-lambda-own-exec"), None)
        .await;
    let ctx = kit.ctx("primary/lambda.function/payment-validation", PRIMARY);
    let name = "prov-lambda-own-validation";
    let code = package("payment-validation");
    let (function, inputs) = kit
        .lifecycle(
            &ctx,
            json!({
                "function_name": name,
                "runtime": "python3.12",
                "handler": "index.handler",
                "role_arn": out(&role, "arn"),
                "timeout": 10,
                "memory_size": 128,
                "environment": {"DR_ROLE": "primary", "TABLE_NAME": "SessionTable-prov"},
                "subnet_ids": [],
                "security_group_ids": [],
                "code_zip_base64": code.zip_base64,
                "code_sha256": code.sha256_base64,
                "tags": {}
            }),
            None,
        )
        .await;
    let lambda = kit.aws.lambda(PRIMARY);
    lambda
        .update_function_configuration()
        .function_name(name)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("DR_ROLE", "primary")
                .variables("TABLE_NAME", "s3cr3t-table-override")
                .variables("DB_PASSWORD", "hunter2-pasted-in-the-console")
                .build(),
        )
        .send()
        .await
        .unwrap();
    until_updated(&lambda, name).await;
    let seen = kit.read(&ctx, &function.id, &inputs).await.unwrap();
    let recorded = serde_json::to_string(&seen).unwrap();
    assert!(!recorded.contains("hunter2"), "{recorded}");
    assert!(!recorded.contains("s3cr3t"), "{recorded}");
    let changed = "(changed outside drctl: value not recorded)";
    assert_eq!(
        seen["environment"],
        json!({"DR_ROLE": "primary", "TABLE_NAME": changed, "DB_PASSWORD": changed})
    );
    kit.provider(&ctx)
        .update(&ctx, &function.id, &seen, &inputs)
        .await
        .unwrap();
    assert_eq!(kit.read(&ctx, &function.id, &inputs).await.unwrap(), inputs);

    // Another environment's state names this function and a permission
    // of it: neither delete runs.
    let pctx = kit.ctx("primary/lambda.permission/apigw", PRIMARY);
    let (permission, pinputs) = kit
        .lifecycle(
            &pctx,
            json!({
                "function_name": name,
                "statement_id": "apigw",
                "action": "lambda:InvokeFunction",
                "principal": "apigateway.amazonaws.com",
                "source_arn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/payments"
            }),
            None,
        )
        .await;
    let theirs = Kit::with_endpoint("prov-lambda-other", &emulator_for(env).endpoint).await;
    let tpctx = theirs.ctx("primary/lambda.permission/apigw", PRIMARY);
    let err = theirs
        .provider(&tpctx)
        .delete(&tpctx, &permission.id, &pinputs, &permission.outputs)
        .await
        .unwrap_err();
    super::assert_not_owned(err, &format!("whose parent is function {name}"));
    assert!(kit.read(&pctx, &permission.id, &pinputs).await.is_some());
    let tctx = theirs.ctx("primary/lambda.function/payment-validation", PRIMARY);
    let err = theirs
        .provider(&tctx)
        .delete(&tctx, &function.id, &inputs, &function.outputs)
        .await
        .unwrap_err();
    super::assert_not_owned(err, "belongs to environment `prov-lambda-own`");
    assert!(kit.read(&ctx, &function.id, &inputs).await.is_some());

    kit.delete(&pctx, &permission, &pinputs).await;
    kit.delete(&ctx, &function, &inputs).await;
    kit.delete(&rctx, &role, &rinputs).await;
}
