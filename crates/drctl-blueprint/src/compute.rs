//! One region's compute and API: the functions' execution role, the three
//! payment functions, and the REST API in front of them.

use std::collections::BTreeMap;

use drctl_core::{Address, ResourceSpec, Value};
use serde_json::json;

use crate::lambda_code;
use crate::network::Network;
use crate::values::{concat, map, policy, r as reference, set, trust};
use crate::{Region, targets};

/// `(address name, function suffix, handler package, API path)`.
pub(crate) const FUNCTIONS: [(&str, &str, &str, &str); 3] = [
    ("validation", "validation", "payment-validation", "validate"),
    (
        "transaction",
        "transaction",
        "transaction-processing",
        "transaction",
    ),
    ("notification", "notification", "notification", "notify"),
];

pub(crate) const STAGE: &str = "prod";

pub(crate) struct Compute {
    pub api: Address,
    pub stage: Address,
}

pub(crate) fn build(r: &mut Region, net: &Network) -> Compute {
    let functions = net
        .security_groups
        .as_ref()
        .map(|sgs| functions(r, net, &sgs.lambda));
    api(r, functions.as_deref())
}

/// The functions' execution role and the payment functions, in the order
/// of `FUNCTIONS`.
fn functions(r: &mut Region, net: &Network, lambda_sg: &Address) -> Vec<Address> {
    let table = targets::session_table();
    // The table's ARN in this region (the global table has a replica here).
    let table_arn = format!(
        "arn:aws:dynamodb:{}:{}:table/SessionTable-{}",
        r.region, r.bp.account_id, r.bp.env
    );
    let role_name = r.name("lambda");
    let role = r.add(
        ResourceSpec::new(r.address("iam.role", "lambda"), r.region)
            .input("name", role_name.clone())
            .input(
                "description",
                format!("Payment functions of {} ({})", r.bp.env, r.role.as_str()),
            )
            .input("assume_role_policy", trust("lambda.amazonaws.com"))
            .input(
                "inline_policies",
                map([(
                    "session-table",
                    policy(vec![(
                        vec![
                            "dynamodb:GetItem",
                            "dynamodb:PutItem",
                            "dynamodb:UpdateItem",
                            "dynamodb:DeleteItem",
                            "dynamodb:Query",
                        ],
                        Value::Json(json!([table_arn, format!("{table_arn}/index/*")])),
                    )]),
                )]),
            )
            .input(
                "managed_policy_arns",
                json!(["arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"]),
            )
            .input("tags", r.tags(&role_name)),
    );

    let mut functions = Vec::new();
    for (name, suffix, package, _) in FUNCTIONS {
        let code = lambda_code::package(package);
        let function_name = r.name(suffix);
        let environment = map([
            ("ENVIRONMENT_SUFFIX", r.bp.env.into()),
            ("DR_ROLE", r.role.as_str().into()),
            ("TABLE_NAME", reference(table.output("table_name"))),
        ]);
        functions.push(
            r.add(
                ResourceSpec::new(r.address("lambda.function", name), r.region)
                    .input("function_name", function_name.clone())
                    .input("runtime", "python3.12")
                    .input("handler", "index.handler")
                    .input("role_arn", role.output("arn"))
                    .input("timeout", 30)
                    .input("memory_size", 256)
                    .input("environment", environment)
                    .input(
                        "subnet_ids",
                        set(net.subnets[1]
                            .iter()
                            .map(|s| reference(s.output("subnet_id")))),
                    )
                    .input(
                        "security_group_ids",
                        set([reference(lambda_sg.output("security_group_id"))]),
                    )
                    .input("code_zip_base64", code.zip_base64)
                    .input("code_sha256", code.sha256_base64)
                    .input("tags", r.tags(&function_name)),
            ),
        );
    }

    functions
}

/// The REST API: a POST method per payment path, integrated with its
/// function (`functions`) or, without functions, a MOCK integration that
/// answers 200; GET /health; the deployment and the stage.
fn api(r: &mut Region, functions: Option<&[Address]>) -> Compute {
    let api_name = format!("payment-api-{}", r.bp.env);
    let api = r.add(
        ResourceSpec::new(r.address("apigateway.rest_api", "payment"), r.region)
            .input("name", api_name.clone())
            .input(
                "description",
                format!("Payment API of {} ({})", r.bp.env, r.role.as_str()),
            )
            .input("endpoint_type", "REGIONAL")
            .input("tags", r.tags(&api_name)),
    );
    let api_id = || reference(api.output("id"));

    let mut methods = BTreeMap::new();
    let resource = |r: &mut Region, path: &str| {
        r.add(
            ResourceSpec::new(r.address("apigateway.resource", path), r.region)
                .input("rest_api_id", api_id())
                .input("parent_id", api.output("root_resource_id"))
                .input("path_part", path),
        )
    };
    for (i, (name, _, _, path)) in FUNCTIONS.iter().enumerate() {
        let res = resource(r, path);
        let function = functions.map(|f| &f[i]);
        let (integration, responses) = match function {
            Some(function) => (
                map([
                    ("type", "AWS_PROXY".into()),
                    ("integration_http_method", "POST".into()),
                    ("uri", reference(function.output("invoke_arn"))),
                ]),
                json!({}),
            ),
            None => (
                Value::Json(
                    json!({"type": "MOCK", "request_templates": {"application/json": "{\"statusCode\": 200}"}}),
                ),
                json!({"200": {"response_templates": {"application/json": "{\"status\": \"accepted\"}"}}}),
            ),
        };
        let method = r.add(
            ResourceSpec::new(
                r.address("apigateway.method", &format!("{path}-post")),
                r.region,
            )
            .input("rest_api_id", api_id())
            .input("resource_id", res.output("id"))
            .input("http_method", "POST")
            .input("authorization", "NONE")
            .input("integration", integration)
            .input("responses", responses),
        );
        methods.insert(method.to_string(), reference(method.output("fingerprint")));
        let Some(function) = function else {
            continue;
        };
        r.add(
            ResourceSpec::new(
                r.address("lambda.permission", &format!("{name}-api")),
                r.region,
            )
            .input("function_name", function.output("function_name"))
            .input("statement_id", "apigateway-invoke")
            .input("action", "lambda:InvokeFunction")
            .input("principal", "apigateway.amazonaws.com")
            .input(
                "source_arn",
                concat([
                    reference(api.output("execution_arn")),
                    format!("/*/POST/{path}").into(),
                ]),
            ),
        );
    }
    let health = resource(r, "health");
    let health_method = r.add(
        ResourceSpec::new(r.address("apigateway.method", "health-get"), r.region)
            .input("rest_api_id", api_id())
            .input("resource_id", health.output("id"))
            .input("http_method", "GET")
            .input("authorization", "NONE")
            .input(
                "integration",
                json!({"type": "MOCK", "request_templates": {"application/json": "{\"statusCode\": 200}"}}),
            )
            .input(
                "responses",
                json!({"200": {"response_templates": {"application/json": "{\"status\": \"ok\"}"}}}),
            ),
    );
    methods.insert(
        health_method.to_string(),
        reference(health_method.output("fingerprint")),
    );

    // A change to any method or integration redeploys the API.
    let deployment = r.add(
        ResourceSpec::new(r.address("apigateway.deployment", "payment"), r.region)
            .input("rest_api_id", api_id())
            .input("description", format!("drctl deployment of {}", r.bp.env))
            .input("triggers", Value::Map(methods)),
    );
    let stage = r.add(
        ResourceSpec::new(targets::api_stage(r.role), r.region)
            .input("rest_api_id", api_id())
            .input("stage_name", STAGE)
            .input("deployment_id", deployment.output("deployment_id"))
            .input("throttling_rate_limit", 10000)
            .input("throttling_burst_limit", 5000)
            .input("tags", r.tags(&format!("{api_name}-{STAGE}"))),
    );
    Compute { api, stage }
}
