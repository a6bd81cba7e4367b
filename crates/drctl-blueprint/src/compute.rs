//! One region's compute and API: the functions' execution role, the three
//! payment functions, and the REST API in front of them, whose GET /health
//! is what Route 53's health check of the primary calls.

use std::collections::BTreeMap;

use drctl_core::{Address, ResourceSpec, Value};
use serde_json::json;

use crate::Region;
use crate::data::Data;
use crate::lambda_code;
use crate::monitor::DB_PORT;
use crate::network::Network;
use crate::targets::{self, STAGE};
use crate::values::{Source, concat, map, policy, r as reference, set, trust};

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

/// The function (its index in `FUNCTIONS`) that answers GET /health: the
/// transaction function, the one a payment needs the session table through;
/// it checks the database and the table itself (its handler's `health`).
const HEALTH_FUNCTION: usize = 1;

pub(crate) struct Compute {
    pub api: Address,
    pub stage: Address,
}

pub(crate) fn build(r: &mut Region, net: &Network, data: &Data) -> Compute {
    // The functions exist with the database (both need the security groups).
    let functions = net
        .security_groups
        .as_ref()
        .zip(data.cluster.as_ref())
        .map(|(sgs, cluster)| functions(r, net, &sgs.lambda, cluster));
    api(r, functions.as_deref())
}

/// The functions' execution role and the payment functions, in the order
/// of `FUNCTIONS`.
fn functions(
    r: &mut Region,
    net: &Network,
    lambda_sg: &Address,
    cluster: &Address,
) -> Vec<Address> {
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
            .input(
                "assume_role_policy",
                trust("lambda.amazonaws.com", Source::Account(r.bp.account_id)),
            )
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
    for (i, (name, suffix, package, _)) in FUNCTIONS.into_iter().enumerate() {
        let code = lambda_code::package(package);
        let function_name = r.name(suffix);
        let mut environment = vec![
            ("ENVIRONMENT_SUFFIX", r.bp.env.into()),
            ("DR_ROLE", r.role.as_str().into()),
            ("TABLE_NAME", reference(table.output("table_name"))),
        ];
        if i == HEALTH_FUNCTION {
            // The function that reaches the database. Reads (and its GET
            // /health, as the health monitor's probe) go to the region's
            // reader endpoint, which answers whichever role the region's
            // cluster has; writes, and reads that must see them, go to
            // the global writer endpoint, which Aurora points at the
            // writer of whichever region writes, across a switchover or
            // failover (Aurora User Guide, "Connecting to Amazon Aurora
            // Global Database"). A regional cluster endpoint would be
            // inactive once its cluster is a reader.
            environment.extend([
                ("DB_HOST", reference(cluster.output("reader_endpoint"))),
                (
                    "DB_WRITER_HOST",
                    reference(targets::global_cluster().output("endpoint")),
                ),
                ("DB_PORT", DB_PORT.into()),
            ]);
        }
        let environment = Value::Map(
            environment
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        );
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

/// A method's integration and responses: a Lambda proxy to `function`
/// (Lambda is invoked with POST, whatever the method), or without one a
/// MOCK answering 200 with `{"status": "<mock_status>"}`.
fn integration(function: Option<&Address>, mock_status: &str) -> (Value, serde_json::Value) {
    match function {
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
            json!({"200": {"response_templates": {
                "application/json": format!("{{\"status\": \"{mock_status}\"}}")
            }}}),
        ),
    }
}

/// The REST API: a POST method per payment path, integrated with its
/// function (`functions`) or, without functions, a MOCK integration that
/// answers 200; GET /health, integrated with the transaction function
/// (which answers 200 only when it reaches the database and the session
/// table) or, without functions, a MOCK answering 200; the deployment and
/// the stage.
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
    let mut permissions = Vec::new();
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
        let (integration, responses) = integration(function, "accepted");
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
        permissions.push(
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
            ),
        );
    }
    // GET /health: what Route 53's health check of the primary and the
    // health monitors call. Through the transaction function, it fails
    // when the function, the database or the session table cannot answer;
    // a MOCK could only say that API Gateway answers.
    let health = resource(r, "health");
    let health_function = functions.map(|f| &f[HEALTH_FUNCTION]);
    let (integration, responses) = integration(health_function, "ok");
    let health_method = r.add(
        ResourceSpec::new(r.address("apigateway.method", "health-get"), r.region)
            .input("rest_api_id", api_id())
            .input("resource_id", health.output("id"))
            .input("http_method", "GET")
            .input("authorization", "NONE")
            .input("integration", integration)
            .input("responses", responses),
    );
    if let Some(function) = health_function {
        let name = FUNCTIONS[HEALTH_FUNCTION].0;
        // A statement of its own, for GET /health only. After the POST
        // method's statement: Lambda refuses concurrent changes to one
        // function's policy (ResourceConflictException).
        let mut spec = ResourceSpec::new(
            r.address("lambda.permission", &format!("{name}-health")),
            r.region,
        )
        .input("function_name", function.output("function_name"))
        .input("statement_id", "apigateway-invoke-health")
        .input("action", "lambda:InvokeFunction")
        .input("principal", "apigateway.amazonaws.com")
        .input(
            "source_arn",
            concat([
                reference(api.output("execution_arn")),
                "/*/GET/health".into(),
            ]),
        );
        if let Some(post) = permissions.get(HEALTH_FUNCTION) {
            spec = spec.after(post);
        }
        permissions.push(r.add(spec));
    }
    methods.insert(
        health_method.to_string(),
        reference(health_method.output("fingerprint")),
    );

    // A change to any method or integration redeploys the API. Deployed
    // once API Gateway may invoke the functions: until then GET /health
    // would answer 500, and Route 53 would take the primary for unhealthy.
    let mut deployment = ResourceSpec::new(r.address("apigateway.deployment", "payment"), r.region)
        .input("rest_api_id", api_id())
        .input("description", format!("drctl deployment of {}", r.bp.env))
        .input("triggers", Value::Map(methods));
    for permission in &permissions {
        deployment = deployment.after(permission);
    }
    let deployment = r.add(deployment);
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

#[cfg(test)]
mod tests {
    use drctl_core::DesiredGraph;
    use serde_json::{Value as Json, json};

    use super::{FUNCTIONS, HEALTH_FUNCTION};
    use crate::{Blueprint, EnvSettings, Role};

    /// The handler that answers GET /health, as embedded in its package.
    const HANDLER: &str = include_str!("../lambda/transaction-processing/index.py");

    fn graph(settings: &EnvSettings) -> DesiredGraph {
        let specs = Blueprint {
            env: "dev",
            settings,
            account_id: "123456789012",
            weighted: Role::Primary,
            zones: crate::Zones::placeholders(settings),
        }
        .resources();
        DesiredGraph::new(specs).unwrap()
    }

    fn input(graph: &DesiredGraph, address: &str, key: &str) -> Json {
        let spec = graph
            .get(&address.parse().unwrap())
            .unwrap_or_else(|| panic!("no {address}"));
        serde_json::to_value(&spec.inputs[key]).unwrap()
    }

    fn reference(address: &str, output: &str) -> Json {
        json!({"$ref": format!("{address}.{output}")})
    }

    /// Per region, GET /health invokes the transaction function (Lambda
    /// proxy), so it fails when that function cannot answer.
    #[test]
    fn health_is_a_proxy_integration_with_the_transaction_function() {
        assert_eq!(FUNCTIONS[HEALTH_FUNCTION].0, "transaction");
        let g = graph(&EnvSettings::defaults("dev"));
        for role in ["primary", "secondary"] {
            let method = format!("{role}/apigateway.method/health-get");
            assert_eq!(input(&g, &method, "http_method"), "GET");
            assert_eq!(
                input(&g, &method, "resource_id"),
                reference(&format!("{role}/apigateway.resource/health"), "id")
            );
            assert_eq!(
                input(&g, &method, "integration"),
                json!({
                    "type": "AWS_PROXY",
                    "integration_http_method": "POST",
                    "uri": reference(&format!("{role}/lambda.function/transaction"), "invoke_arn"),
                })
            );
            assert_eq!(input(&g, &method, "responses"), json!({}));
            // A change to it redeploys the API.
            let triggers = input(
                &g,
                &format!("{role}/apigateway.deployment/payment"),
                "triggers",
            );
            assert_eq!(triggers[&method], reference(&method, "fingerprint"));
        }
        // The handler answers that method and path (the proxy event's
        // `resource` is the API's resource path).
        assert!(HANDLER.contains(
            r#"event.get("httpMethod") == "GET" and event.get("resource") == "/health""#
        ));
    }

    /// API Gateway may invoke the function for GET /health, from this API
    /// only: a statement of its own beside the POST method's, added after
    /// it (one change at a time to a function's policy).
    #[test]
    fn the_function_lets_the_api_invoke_it_for_get_health() {
        let g = graph(&EnvSettings::defaults("dev"));
        for (role, region) in [("primary", "us-east-1"), ("secondary", "us-east-2")] {
            let function = format!("{role}/lambda.function/transaction");
            let api = format!("{role}/apigateway.rest_api/payment");
            let health = format!("{role}/lambda.permission/transaction-health");
            let post = format!("{role}/lambda.permission/transaction-api");
            let spec = g.get(&health.parse().unwrap()).unwrap();
            assert_eq!(spec.region, region);
            assert_eq!(
                input(&g, &health, "function_name"),
                reference(&function, "function_name")
            );
            assert_eq!(input(&g, &health, "action"), "lambda:InvokeFunction");
            assert_eq!(input(&g, &health, "principal"), "apigateway.amazonaws.com");
            assert_eq!(
                input(&g, &health, "source_arn"),
                json!({"$concat": [reference(&api, "execution_arn"), "/*/GET/health"]})
            );
            assert_eq!(
                input(&g, &post, "source_arn"),
                json!({"$concat": [reference(&api, "execution_arn"), "/*/POST/transaction"]})
            );
            assert_ne!(
                input(&g, &health, "statement_id"),
                input(&g, &post, "statement_id")
            );
            assert!(
                spec.depends_on.contains(&post.parse().unwrap()),
                "{:?}",
                spec.depends_on
            );
            // The API is deployed once it may invoke the functions.
            let deployment = g
                .get(
                    &format!("{role}/apigateway.deployment/payment")
                        .parse()
                        .unwrap(),
                )
                .unwrap();
            for permission in [&health, &post] {
                assert!(
                    deployment.depends_on.contains(&permission.parse().unwrap()),
                    "{permission}"
                );
            }
        }
    }

    /// The transaction function is told where its region's database is
    /// (the reader endpoint answers whichever role the cluster has, as for
    /// the health monitor), and where the global database's writer is
    /// (the global writer endpoint, not a regional cluster endpoint: it
    /// follows the writer across a switchover or failover, in both
    /// regions); the other functions are not, so they do not wait for the
    /// cluster. Every variable the handler reads is set.
    #[test]
    fn the_health_function_knows_the_database_endpoint() {
        let g = graph(&EnvSettings::defaults("dev"));
        for role in ["primary", "secondary"] {
            let env = input(
                &g,
                &format!("{role}/lambda.function/transaction"),
                "environment",
            );
            let cluster = format!("{role}/rds.cluster/payment");
            assert_eq!(env["DB_HOST"], reference(&cluster, "reader_endpoint"));
            assert_eq!(
                env["DB_WRITER_HOST"],
                reference("global/rds.global_cluster/payment", "endpoint")
            );
            assert_eq!(env["DB_PORT"], "5432");
            assert_eq!(
                env["DB_PORT"],
                input(
                    &g,
                    &format!("{role}/lambda.function/health-monitor"),
                    "environment"
                )["DB_PORT"]
            );
            for name in [
                "DB_HOST",
                "DB_WRITER_HOST",
                "DB_PORT",
                "TABLE_NAME",
                "ENVIRONMENT_SUFFIX",
                "DR_ROLE",
            ] {
                assert!(
                    HANDLER.contains(&format!("os.environ[\"{name}\"]"))
                        || HANDLER.contains(&format!("os.environ.get(\"{name}\"")),
                    "{name}"
                );
                assert!(env.get(name).is_some(), "{name} is not set");
            }
            for other in ["validation", "notification"] {
                let env = input(
                    &g,
                    &format!("{role}/lambda.function/{other}"),
                    "environment",
                );
                assert!(env.get("DB_HOST").is_none(), "{other}");
                assert!(env.get("DB_WRITER_HOST").is_none(), "{other}");
            }
        }
    }

    /// No function of the blueprint (payment functions, the health
    /// monitor, the failover function) is given a regional cluster's
    /// `endpoint`, inactive in the region whose cluster reads: writes go
    /// through the global writer endpoint, reads to a reader endpoint.
    #[test]
    fn no_function_writes_through_a_regional_cluster_endpoint() {
        let g = graph(&EnvSettings::defaults("dev"));
        let mut writers = 0;
        for spec in g.resources().filter(|s| s.kind() == "lambda.function") {
            let Some(env) = spec.inputs.get("environment") else {
                continue;
            };
            let env = serde_json::to_value(env).unwrap();
            for (name, value) in env.as_object().unwrap() {
                if let Some(r) = value["$ref"].as_str() {
                    assert!(
                        !(r.contains("/rds.cluster/") && r.ends_with(".endpoint")),
                        "{}: {name} = {r}",
                        spec.address
                    );
                }
                if name == "DB_WRITER_HOST" {
                    assert_eq!(
                        value,
                        &reference("global/rds.global_cluster/payment", "endpoint")
                    );
                    writers += 1;
                }
            }
        }
        assert_eq!(writers, 2, "the transaction function of each region");
    }

    /// Without functions, GET /health stays a MOCK answering 200, with no
    /// permission to invoke anything.
    #[test]
    fn without_functions_health_is_a_mock() {
        let mut settings = EnvSettings::defaults("dev");
        settings.databases_and_functions = false;
        let g = graph(&settings);
        for role in ["primary", "secondary"] {
            let method = format!("{role}/apigateway.method/health-get");
            assert_eq!(input(&g, &method, "integration")["type"], "MOCK");
            assert_eq!(
                input(&g, &method, "responses")["200"]["response_templates"]["application/json"],
                r#"{"status": "ok"}"#
            );
            let permission = format!("{role}/lambda.permission/transaction-health");
            assert!(g.get(&permission.parse().unwrap()).is_none());
        }
    }
}
