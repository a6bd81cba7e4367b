//! Provider tests: apigateway.

use aws_sdk_apigateway::types::{Op, PatchOperation};
use drctl_core::{Attributes, OpContext};
use drctl_tests::PRIMARY;
use serde_json::{Value as Json, json};

use super::{Kit, attrs, out};

/// What crash recovery's `find` returns for these inputs.
async fn find(kit: &Kit, ctx: &OpContext, inputs: &Attributes) -> Option<String> {
    kit.provider(ctx).find(ctx, inputs).await.unwrap()
}

/// `inputs` with `key` set to `value`: another resource's identity.
fn with(inputs: &Attributes, key: &str, value: Json) -> Attributes {
    let mut other = inputs.clone();
    other.insert(key.to_owned(), value);
    other
}

#[tokio::test]
async fn rest_api_methods_deployment_and_stage() {
    let kit = Kit::new("prov-apigw").await;
    let region = PRIMARY;

    let actx = kit.ctx("primary/apigateway.rest_api/payment", region);
    let (api, ainputs) = kit
        .lifecycle(
            &actx,
            json!({"name": "payment-prov-apigw", "description": "payments", "endpoint_type": "REGIONAL", "tags": {"Name": "a"}}),
            Some(json!({"name": "payment-prov-apigw-v2", "description": "payments v2", "endpoint_type": "REGIONAL", "tags": {"Name": "b", "Team": "sre"}})),
        )
        .await;
    let api_id = out(&api, "id");
    assert_eq!(
        out(&api, "regional_domain_name"),
        format!("{api_id}.execute-api.{region}.amazonaws.com")
    );
    let account = kit.aws.account_id().await.unwrap();
    assert_eq!(
        out(&api, "execution_arn"),
        format!("arn:aws:execute-api:{region}:{account}:{api_id}")
    );
    let root = out(&api, "root_resource_id");
    // Found by its identity tags, though renamed since its create.
    assert_eq!(find(&kit, &actx, &ainputs).await, Some(api.id.clone()));
    let other = kit.ctx("primary/apigateway.rest_api/other", region);
    assert_eq!(find(&kit, &other, &ainputs).await, None);
    let other_env = OpContext {
        token: None,
        env: "prov-apigw-other".into(),
        ..actx.clone()
    };
    assert_eq!(find(&kit, &other_env, &ainputs).await, None);
    assert!(kit.listed(&actx, &api.id).await);
    assert!(!kit.listed(&other_env, &api.id).await);

    let hctx = kit.ctx("primary/apigateway.resource/health", region);
    let (health, hinputs) = kit
        .lifecycle(
            &hctx,
            json!({"rest_api_id": api_id, "parent_id": root, "path_part": "health"}),
            None,
        )
        .await;
    assert_eq!(out(&health, "path"), "/health");
    assert!(kit.listed(&hctx, &health.id).await);
    assert_eq!(find(&kit, &hctx, &hinputs).await, Some(health.id.clone()));
    let missing = with(&hinputs, "path_part", json!("missing"));
    assert_eq!(find(&kit, &hctx, &missing).await, None);
    let pctx = kit.ctx("primary/apigateway.resource/payments", region);
    let (payments, pinputs) = kit
        .lifecycle(
            &pctx,
            json!({"rest_api_id": api_id, "parent_id": root, "path_part": "payments"}),
            None,
        )
        .await;

    // A MOCK GET /health answering 200 with a fixed body.
    let mctx = kit.ctx("primary/apigateway.method/health-get", region);
    let mock =
        json!({"type": "MOCK", "request_templates": {"application/json": "{\"statusCode\": 200}"}});
    let method = |responses| {
        json!({"rest_api_id": api_id, "resource_id": health.id, "http_method": "GET", "authorization": "NONE",
               "integration": mock, "responses": responses})
    };
    let ok = |body: &str| json!({"response_templates": {"application/json": body}});
    let (get, ginputs) = kit
        .lifecycle(
            &mctx,
            method(json!({"200": ok("{\"status\": \"ok\"}")})),
            None,
        )
        .await;
    assert_eq!(out(&get, "id"), format!("{}/GET", health.id));
    assert!(kit.listed(&mctx, &get.id).await);
    assert_eq!(find(&kit, &mctx, &ginputs).await, Some(get.id.clone()));
    let put = with(&ginputs, "http_method", json!("PUT"));
    assert_eq!(find(&kit, &mctx, &put).await, None);

    // An AWS_PROXY POST /payments (a function ARN the emulator does not check).
    let uri = format!(
        "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/arn:aws:lambda:{region}:{account}:function:payment-prov-apigw/invocations"
    );
    let xctx = kit.ctx("primary/apigateway.method/payments-post", region);
    let (post, xinputs) = kit
        .lifecycle(
            &xctx,
            json!({"rest_api_id": api_id, "resource_id": payments.id, "http_method": "POST", "authorization": "NONE",
                   "integration": {"type": "AWS_PROXY", "integration_http_method": "POST", "uri": uri},
                   "responses": {}}),
            None,
        )
        .await;

    // A MOCK GET made an AWS_PROXY GET in place, as an environment applied
    // before `GET /health` had a function behind it plans it: Lambda is
    // invoked with POST whatever the method, and the MOCK's responses go.
    let vctx = kit.ctx("primary/apigateway.method/payments-get", region);
    let (proxied, vinputs) = kit
        .lifecycle(
            &vctx,
            json!({"rest_api_id": api_id, "resource_id": payments.id, "http_method": "GET", "authorization": "NONE",
                   "integration": mock, "responses": {"200": ok("{\"status\": \"ok\"}")}}),
            Some(
                json!({"rest_api_id": api_id, "resource_id": payments.id, "http_method": "GET", "authorization": "NONE",
                       "integration": {"type": "AWS_PROXY", "integration_http_method": "POST", "uri": uri},
                       "responses": {}}),
            ),
        )
        .await;
    assert_eq!(out(&proxied, "id"), format!("{}/GET", payments.id));

    let dctx = kit.ctx("primary/apigateway.deployment/payment", region);
    let deployment = |get_fp: &serde_json::Value| {
        json!({"rest_api_id": api_id, "description": "payment prov-apigw",
               "triggers": {"health-get": get_fp, "payments-post": post.outputs["fingerprint"]}})
    };
    let (dep, dinputs) = kit
        .lifecycle(&dctx, deployment(&get.outputs["fingerprint"]), None)
        .await;
    let first = out(&dep, "deployment_id");
    assert!(kit.listed(&dctx, &dep.id).await);
    assert_eq!(find(&kit, &dctx, &dinputs).await, Some(dep.id.clone()));
    let another = with(&dinputs, "description", json!("another"));
    assert_eq!(find(&kit, &dctx, &another).await, None);

    let sctx = kit.ctx("primary/apigateway.stage/prod", region);
    let stage = |deployment_id: &str, tags| {
        json!({"rest_api_id": api_id, "stage_name": "prod", "deployment_id": deployment_id,
               "throttling_rate_limit": 10000, "throttling_burst_limit": 5000, "tags": tags})
    };
    let (prod, sinputs) = kit
        .lifecycle(&sctx, stage(&first, json!({"Name": "s"})), None)
        .await;
    assert_eq!(
        out(&prod, "invoke_url"),
        format!("https://{api_id}.execute-api.{region}.amazonaws.com/prod")
    );
    assert_eq!(
        out(&prod, "arn"),
        format!("arn:aws:apigateway:{region}::/restapis/{api_id}/stages/prod")
    );
    assert_eq!(find(&kit, &sctx, &sinputs).await, Some(prod.id.clone()));
    assert!(kit.listed(&sctx, &prod.id).await);
    let test = with(&sinputs, "stage_name", json!("test"));
    assert_eq!(find(&kit, &sctx, &test).await, None);

    // The method changes (new body, one more status): a new fingerprint...
    let mp = kit.provider(&mctx);
    let changed = attrs(method(json!({
        "200": ok("{\"status\": \"fine\"}"),
        "500": ok("{\"status\": \"down\"}"),
    })));
    let moutputs = mp.update(&mctx, &get.id, &ginputs, &changed).await.unwrap();
    assert_ne!(moutputs["fingerprint"], get.outputs["fingerprint"]);
    let seen = mp.read(&mctx, &get.id, &changed).await.unwrap().unwrap();
    assert_eq!(seen.inputs, changed);
    assert_eq!(seen.outputs, moutputs);
    // ...and a status dropped again is deleted.
    let fewer = attrs(method(json!({"200": ok("{\"status\": \"fine\"}")})));
    mp.update(&mctx, &get.id, &changed, &fewer).await.unwrap();
    assert_eq!(kit.read(&mctx, &get.id, &fewer).await.unwrap(), fewer);
    // A new integration with the responses unchanged: PutIntegration drops
    // the integration responses (the emulators too), so the update puts
    // them again; and back.
    let mut reintegrated = fewer.clone();
    reintegrated.insert(
        "integration".into(),
        json!({"type": "MOCK", "request_templates": {"application/json": "{\"statusCode\": 200}", "text/plain": "{\"statusCode\": 200}"}}),
    );
    mp.update(&mctx, &get.id, &fewer, &reintegrated)
        .await
        .unwrap();
    assert_eq!(
        kit.read(&mctx, &get.id, &reintegrated).await.unwrap(),
        reintegrated
    );
    let moutputs = mp
        .update(&mctx, &get.id, &reintegrated, &fewer)
        .await
        .unwrap();
    assert_eq!(kit.read(&mctx, &get.id, &fewer).await.unwrap(), fewer);

    // ...so the deployment's triggers change: a new deployment...
    let dp = kit.provider(&dctx);
    let redeploy = attrs(deployment(&moutputs["fingerprint"]));
    let doutputs = dp
        .update(&dctx, &dep.id, &dinputs, &redeploy)
        .await
        .unwrap();
    let second = doutputs["deployment_id"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let seen = dp.read(&dctx, &dep.id, &redeploy).await.unwrap().unwrap();
    assert_eq!(seen.inputs, redeploy);
    assert_eq!(seen.outputs, doutputs);

    // ...that the stage moves to.
    let sp = kit.provider(&sctx);
    let moved = attrs(stage(&second, json!({"Name": "s2", "Team": "sre"})));
    sp.update(&sctx, &prod.id, &sinputs, &moved).await.unwrap();
    assert_eq!(kit.read(&sctx, &prod.id, &moved).await.unwrap(), moved);

    // Drift: throttling changed out of band is seen, and repaired.
    kit.aws
        .apigateway(region)
        .update_stage()
        .rest_api_id(&api_id)
        .stage_name("prod")
        .patch_operations(
            PatchOperation::builder()
                .op(Op::Replace)
                .path("/*/*/throttling/rateLimit")
                .value("20.5")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let seen = kit.read(&sctx, &prod.id, &moved).await.unwrap();
    assert_eq!(seen["throttling_rate_limit"], json!(20.5));
    sp.update(&sctx, &prod.id, &seen, &moved).await.unwrap();
    assert_eq!(kit.read(&sctx, &prod.id, &moved).await.unwrap(), moved);

    // Dependents first, as a destroy runs; none is found once deleted.
    kit.delete(&sctx, &prod, &moved).await;
    assert_eq!(find(&kit, &sctx, &moved).await, None);
    assert!(!kit.listed(&sctx, &prod.id).await);
    let dep_now = drctl_core::Applied {
        id: dep.id.clone(),
        outputs: doutputs,
    };
    assert_eq!(find(&kit, &dctx, &redeploy).await, Some(dep.id.clone()));
    kit.delete(&dctx, &dep_now, &redeploy).await;
    assert_eq!(find(&kit, &dctx, &redeploy).await, None);
    assert!(!kit.listed(&dctx, &dep.id).await);
    assert!(
        kit.aws
            .apigateway(region)
            .get_deployments()
            .rest_api_id(&api_id)
            .send()
            .await
            .unwrap()
            .items()
            .is_empty(),
        "every deployment of the resource is gone"
    );
    kit.delete(&mctx, &get, &fewer).await;
    assert_eq!(find(&kit, &mctx, &fewer).await, None);
    assert!(!kit.listed(&mctx, &get.id).await);
    kit.delete(&xctx, &post, &xinputs).await;
    kit.delete(&vctx, &proxied, &vinputs).await;
    assert_eq!(find(&kit, &vctx, &vinputs).await, None);
    kit.delete(&hctx, &health, &hinputs).await;
    assert_eq!(find(&kit, &hctx, &hinputs).await, None);
    assert!(!kit.listed(&hctx, &health.id).await);
    kit.delete(&pctx, &payments, &pinputs).await;
    kit.delete(&actx, &api, &ainputs).await;
    assert_eq!(find(&kit, &actx, &ainputs).await, None);
    assert!(!kit.listed(&actx, &api.id).await);
    // With the API gone, nothing in it is found either.
    assert_eq!(find(&kit, &pctx, &pinputs).await, None);
    assert_eq!(find(&kit, &xctx, &xinputs).await, None);
}

/// DeleteRestApi is limited to one call every 30 s per account
/// (TooManyRequestsException; tests/emulator/ext_apigateway.py keeps the
/// rule with a shorter window). A destroy deletes several APIs at once
/// (one per region, more in an account with other environments): each
/// delete waits its turn, longer than the SDK's own retries would.
#[tokio::test]
async fn rest_api_deletes_take_turns_under_the_accounts_quota() {
    let kit = Kit::new("prov-apigw-quota").await;
    let region = PRIMARY;
    let mut apis = Vec::new();
    for name in ["primary", "secondary", "probe"] {
        let ctx = kit.ctx(&format!("primary/apigateway.rest_api/{name}"), region);
        let inputs = attrs(json!({
            "name": format!("payment-prov-apigw-quota-{name}"),
            "description": "",
            "endpoint_type": "REGIONAL",
            "tags": {}
        }));
        let api = kit.provider(&ctx).create(&ctx, &inputs).await.unwrap();
        apis.push((ctx, api, inputs));
    }
    let delete = |i: usize| {
        let (ctx, api, inputs) = &apis[i];
        kit.provider(ctx).delete(ctx, &api.id, inputs, &api.outputs)
    };
    let (a, b, c) = tokio::join!(delete(0), delete(1), delete(2));
    for result in [a, b, c] {
        result.unwrap();
    }
    for (ctx, api, inputs) in &apis {
        assert!(kit.read(ctx, &api.id, inputs).await.is_none());
        assert_eq!(find(&kit, ctx, inputs).await, None);
    }
}

/// CreateDeployment of a REST API without a method fails
/// (BadRequestException "The REST API doesn't contain any methods", API
/// Gateway API reference, CreateDeployment; the emulator answers so too),
/// so each region's deployment waits for every method of its API: its
/// `triggers` take each method's fingerprint, which also redeploys the API
/// when a method changes.
#[tokio::test]
async fn a_deployment_follows_every_method_of_its_api() {
    let kit = Kit::new("prov-apigw-nomethod").await;
    let actx = kit.ctx("primary/apigateway.rest_api/payment", PRIMARY);
    let (api, ainputs) = kit
        .lifecycle(
            &actx,
            json!({"name": "payment-prov-apigw-nomethod", "description": "", "endpoint_type": "REGIONAL", "tags": {}}),
            None,
        )
        .await;
    let dctx = kit.ctx("primary/apigateway.deployment/payment", PRIMARY);
    let refused = kit
        .provider(&dctx)
        .create(
            &dctx,
            &attrs(json!({"rest_api_id": out(&api, "id"), "description": "payment prov-apigw-nomethod", "triggers": {}})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.code.as_deref(),
        Some("BadRequestException"),
        "{refused}"
    );
    kit.delete(&actx, &api, &ainputs).await;

    let settings = drctl_blueprint::EnvSettings::defaults("dev");
    let graph = drctl_core::DesiredGraph::new(
        drctl_blueprint::Blueprint {
            env: "dev",
            settings: &settings,
            account_id: "123456789012",
            weighted: drctl_blueprint::Role::Primary,
            zones: drctl_blueprint::Zones::placeholders(&settings),
        }
        .resources(),
    )
    .unwrap();
    for role in ["primary", "secondary"] {
        let deployment: drctl_core::Address = format!("{role}/apigateway.deployment/payment")
            .parse()
            .unwrap();
        let after = graph.dependencies(&deployment);
        let methods: Vec<_> = graph
            .resources()
            .map(|r| &r.address)
            .filter(|a| a.kind() == "apigateway.method" && a.to_string().starts_with(role))
            .collect();
        assert!(methods.len() >= 2, "{methods:?}");
        for method in methods {
            assert!(
                after.contains(method),
                "{deployment} does not wait for {method}"
            );
        }
    }
}
