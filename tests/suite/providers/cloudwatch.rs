//! Provider tests: cloudwatch.

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use drctl_core::Applied;
use drctl_tests::{PRIMARY, SECONDARY};
use serde_json::{Value as Json, json};

use super::{Kit, attrs, out};

/// An SNS topic (through the sns provider) for alarm actions.
async fn topic(kit: &Kit, region: &str, name: &str) -> (Applied, Json) {
    let ctx = kit.ctx(&format!("primary/sns.topic/{name}"), region);
    let inputs =
        json!({"name": format!("payment-{}-{name}", kit.env), "display_name": "", "tags": {}});
    let (applied, _) = kit.lifecycle(&ctx, inputs.clone(), None).await;
    (applied, inputs)
}

async fn delete_topic(kit: &Kit, region: &str, name: &str, topic: &Applied, inputs: Json) {
    let ctx = kit.ctx(&format!("primary/sns.topic/{name}"), region);
    kit.delete(&ctx, topic, &attrs(inputs)).await;
}

#[tokio::test]
async fn single_metric_alarm_update_and_threshold_drift() {
    let kit = Kit::new("prov-alarm").await;
    let (alerts, alerts_in) = topic(&kit, PRIMARY, "alerts").await;
    let alerts_arn = out(&alerts, "arn");
    let ctx = kit.ctx("primary/cloudwatch.alarm/db-connections", PRIMARY);
    let name = "payment-prov-alarm-db-connections";
    let alarm = |threshold: f64, tags: Json| {
        json!({
            "alarm_name": name,
            "alarm_description": "Too many database connections",
            "comparison_operator": "GreaterThanThreshold",
            "threshold": threshold,
            "evaluation_periods": 3,
            "datapoints_to_alarm": 2,
            "treat_missing_data": "notBreaching",
            "alarm_actions": [alerts_arn],
            "ok_actions": [alerts_arn],
            "tags": tags,
            "metric": {
                "namespace": "AWS/RDS",
                "metric_name": "DatabaseConnections",
                "dimensions": {"DBInstanceIdentifier": "payment-prov-alarm"},
                "statistic": "Average",
                "period": 60
            }
        })
    };
    let (applied, inputs) = kit
        .lifecycle(
            &ctx,
            alarm(100.0, json!({"Name": "a"})),
            Some(alarm(150.0, json!({"Name": "b", "Team": "sre"}))),
        )
        .await;
    assert_eq!(applied.outputs["alarm_name"], json!(name));
    assert!(kit.listed(&ctx, &applied.id).await);
    let arn = out(&applied, "arn");
    assert!(arn.ends_with(&format!(":alarm:{name}")), "{arn}");
    let cw = kit.aws.cloudwatch(PRIMARY);
    let tags = cw
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let tags: Vec<_> = tags
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert!(tags.contains(&("drctl:env", "prov-alarm")));
    assert!(tags.contains(&("drctl:address", "primary/cloudwatch.alarm/db-connections")));

    // Drift: the threshold changed out of band (PutMetricAlarm overwrites).
    cw.put_metric_alarm()
        .alarm_name(name)
        .alarm_description("Too many database connections")
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .threshold(200.0)
        .evaluation_periods(3)
        .datapoints_to_alarm(2)
        .treat_missing_data("notBreaching")
        .alarm_actions(&alerts_arn)
        .ok_actions(&alerts_arn)
        .namespace("AWS/RDS")
        .metric_name("DatabaseConnections")
        .dimensions(
            Dimension::builder()
                .name("DBInstanceIdentifier")
                .value("payment-prov-alarm")
                .build(),
        )
        .statistic(Statistic::Average)
        .period(60)
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &applied.id, &inputs).await.unwrap();
    assert_eq!(seen["threshold"], json!(200.0));
    let p = kit.provider(&ctx);
    p.update(&ctx, &applied.id, &seen, &inputs).await.unwrap();
    assert_eq!(kit.read(&ctx, &applied.id, &inputs).await.unwrap(), inputs);

    // The threshold is a float: an integer is refused before any call.
    let mut integral = inputs.clone();
    integral.insert("threshold".into(), json!(5));
    let err = p
        .update(&ctx, &applied.id, &inputs, &integral)
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidInput"), "{err}");

    // Crash recovery finds the alarm by name.
    assert_eq!(
        p.find(&ctx, &inputs).await.unwrap(),
        Some(applied.id.clone())
    );
    let mut other = inputs.clone();
    other.insert(
        "alarm_name".into(),
        json!("payment-prov-alarm-never-created"),
    );
    assert_eq!(p.find(&ctx, &other).await.unwrap(), None);
    kit.delete(&ctx, &applied, &inputs).await;
    assert_eq!(p.find(&ctx, &inputs).await.unwrap(), None);
    assert!(!kit.listed(&ctx, &applied.id).await);
    delete_topic(&kit, PRIMARY, "alerts", &alerts, alerts_in).await;
}

#[tokio::test]
async fn metric_math_alarm_with_sorted_actions() {
    let kit = Kit::new("prov-math").await;
    let (a, a_in) = topic(&kit, SECONDARY, "alerts").await;
    let (b, b_in) = topic(&kit, SECONDARY, "pager").await;
    let mut actions = vec![out(&a, "arn"), out(&b, "arn")];
    actions.sort();
    let ctx = kit.ctx("secondary/cloudwatch.alarm/lambda-error-rate", SECONDARY);
    let name = "payment-prov-math-lambda-error-rate";
    let stat = |metric: &str| {
        json!({
            "namespace": "AWS/Lambda",
            "metric_name": metric,
            "dimensions": {"FunctionName": "payment-prov-math-api"},
            "stat": "Sum",
            "period": 300
        })
    };
    let alarm = |threshold: f64| {
        json!({
            "alarm_name": name,
            "alarm_description": "Lambda error rate above 5%",
            "comparison_operator": "GreaterThanThreshold",
            "threshold": threshold,
            "evaluation_periods": 1,
            "datapoints_to_alarm": 1,
            "treat_missing_data": "notBreaching",
            "alarm_actions": actions,
            "ok_actions": [],
            "tags": {"Name": "math"},
            "metrics": [
                {"id": "errors", "return_data": false, "metric_stat": stat("Errors")},
                {"id": "invocations", "return_data": false, "metric_stat": stat("Invocations")},
                {"id": "error_rate", "expression": "errors / invocations * 100", "label": "Error rate (%)", "return_data": true}
            ]
        })
    };
    // What AWS refuses of a metric-math alarm, the emulator refuses too: a
    // single-metric parameter beside `Metrics`, and queries of which not
    // exactly one returns data (ReturnData is true when absent), so drctl
    // must send `return_data: false` as given.
    let cw = kit.aws.cloudwatch(SECONDARY);
    let query = |id: &str, return_data: Option<bool>| {
        aws_sdk_cloudwatch::types::MetricDataQuery::builder()
            .id(id)
            .expression("SUM(METRICS())")
            .set_return_data(return_data)
            .build()
    };
    let rules = drctl_tests::EmulatorKind::from_env().enforces_extension_rules();
    for (queries, period) in [
        (vec![query("a", Some(true))], Some(300)),
        (vec![query("a", None), query("b", Some(true))], None),
        (vec![query("a", Some(false))], None),
    ]
    .into_iter()
    .filter(|_| rules)
    {
        let refused = cw
            .put_metric_alarm()
            .alarm_name("payment-prov-math-refused")
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .threshold(1.0)
            .evaluation_periods(1)
            .set_period(period)
            .set_metrics(Some(queries))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            aws_sdk_cloudwatch::error::ProvideErrorMetadata::code(&refused),
            Some("ValidationError")
        );
    }
    let (applied, inputs) = kit.lifecycle(&ctx, alarm(5.0), Some(alarm(2.5))).await;
    assert_eq!(applied.outputs["alarm_name"], json!(name));
    // Actions given in another order read back sorted.
    let mut reversed = inputs.clone();
    reversed.insert("alarm_actions".into(), json!([actions[1], actions[0]]));
    kit.provider(&ctx)
        .update(&ctx, &applied.id, &inputs, &reversed)
        .await
        .unwrap();
    assert_eq!(kit.read(&ctx, &applied.id, &inputs).await.unwrap(), inputs);
    // Drift: the alarm deleted out of band is seen as gone.
    kit.aws
        .cloudwatch(SECONDARY)
        .delete_alarms()
        .alarm_names(name)
        .send()
        .await
        .unwrap();
    assert!(kit.read(&ctx, &applied.id, &inputs).await.is_none());
    kit.delete(&ctx, &applied, &inputs).await;
    // Created again under the same name, it has only its new tags.
    let mut again = alarm(5.0);
    again["tags"] = json!({"Team": "payments"});
    let (applied, inputs) = kit.lifecycle(&ctx, again, None).await;
    kit.delete(&ctx, &applied, &inputs).await;
    delete_topic(&kit, SECONDARY, "alerts", &a, a_in).await;
    delete_topic(&kit, SECONDARY, "pager", &b, b_in).await;
}

#[tokio::test]
async fn dashboard_body_update_and_drift() {
    let kit = Kit::new("prov-dashboard").await;
    let ctx = kit.ctx("primary/cloudwatch.dashboard/payment", PRIMARY);
    let name = "payment-prov-dashboard";
    let body = |title: &str| {
        json!({
            "widgets": [{
                "type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
                "properties": {
                    "metrics": [["AWS/Lambda", "Errors", "FunctionName", "payment-prov-dashboard-api"]],
                    "region": PRIMARY, "stat": "Sum", "period": 300, "title": title
                }
            }]
        })
    };
    let (applied, inputs) = kit
        .lifecycle(
            &ctx,
            json!({"dashboard_name": name, "body": body("Errors")}),
            Some(json!({"dashboard_name": name, "body": body("Lambda errors")})),
        )
        .await;
    assert_eq!(applied.outputs["dashboard_name"], json!(name));
    assert!(kit.listed(&ctx, &applied.id).await);
    assert!(out(&applied, "arn").ends_with(&format!(":dashboard/{name}")));
    // Drift: the body replaced out of band.
    let tampered = json!({"widgets": []});
    kit.aws
        .cloudwatch(PRIMARY)
        .put_dashboard()
        .dashboard_name(name)
        .dashboard_body(tampered.to_string())
        .send()
        .await
        .unwrap();
    let seen = kit.read(&ctx, &applied.id, &inputs).await.unwrap();
    assert_eq!(seen["body"], tampered);
    let p = kit.provider(&ctx);
    p.update(&ctx, &applied.id, &seen, &inputs).await.unwrap();
    assert_eq!(kit.read(&ctx, &applied.id, &inputs).await.unwrap(), inputs);
    // Crash recovery finds the dashboard by name.
    assert_eq!(
        p.find(&ctx, &inputs).await.unwrap(),
        Some(applied.id.clone())
    );
    let mut other = inputs.clone();
    other.insert(
        "dashboard_name".into(),
        json!("payment-prov-dashboard-never-created"),
    );
    assert_eq!(p.find(&ctx, &other).await.unwrap(), None);
    kit.delete(&ctx, &applied, &inputs).await;
    assert_eq!(p.find(&ctx, &inputs).await.unwrap(), None);
    assert!(!kit.listed(&ctx, &applied.id).await);
}
