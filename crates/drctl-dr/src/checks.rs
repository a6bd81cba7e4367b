//! DR pre-checks: the checks that gate a planned switch, and the typical
//! durations of a switch's steps: pure functions of measured values, so that the
//! rules are unit-tested without AWS (the reads are in `status`, through
//! the [`crate::Cloud`] port).
//!
//! Every check names what it measured, the value, the threshold, whether
//! it passes and, when it does not, how to clear it. A planned switch
//! (switchover) refuses while a check fails that `--skip-check` does not
//! name; an unplanned failover runs whatever they say (the primary region
//! is down: reads of it fail, replication has stopped, its loss accepted)
//! and only shows them.

use serde::Serialize;
use serde_json::{Value, json};

/// The existing readiness rules (`drctl status` reasons) as one check.
pub const READINESS: &str = "readiness";
/// The Aurora global replication lag of the target cluster.
pub const LAG: &str = "aurora-replication-lag";
/// The DynamoDB session table's copy in the target region.
pub const REPLICA: &str = "dynamodb-replica";
/// The environment's CloudWatch alarms in the target region.
pub const ALARMS: &str = "target-alarms";

/// The checks `--skip-check` accepts. Readiness is not one of them: its
/// reasons (a writer elsewhere, a switch in progress) make a switchover
/// fail in AWS, not only take longer.
pub const SKIPPABLE: &[&str] = &[LAG, REPLICA, ALARMS];

/// One check with its measured value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub name: &'static str,
    /// What was measured: a cluster, a table in a region, alarms.
    pub subject: String,
    /// The measurement; `null` when it could not be measured.
    pub value: Value,
    pub threshold: Value,
    pub ok: bool,
    /// How to clear a failed check; `null` when it passes.
    pub remedy: Option<String>,
}

impl Check {
    fn new(name: &'static str, subject: String, value: Value, threshold: Value) -> Check {
        Check {
            name,
            subject,
            value,
            threshold,
            ok: true,
            remedy: None,
        }
    }

    fn failed(mut self, remedy: String) -> Check {
        self.ok = false;
        self.remedy = Some(remedy);
        self
    }

    /// The value as an operator reads it.
    pub fn value_text(&self) -> String {
        match (&self.value, self.name) {
            (Value::Null, _) => "unknown".to_owned(),
            // As f64: 120 s, not JSON's 120.0.
            (Value::Number(n), LAG) => format!("{} s", n.as_f64().unwrap_or_default()),
            (Value::Array(a), _) if a.is_empty() => "none".to_owned(),
            (Value::Array(a), _) => a
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join("; "),
            (Value::String(s), _) => s.clone(),
            (v, _) => v.to_string(),
        }
    }

    /// The threshold as an operator reads it.
    pub fn threshold_text(&self) -> String {
        match (&self.threshold, self.name) {
            (Value::Number(n), LAG) => format!("at most {n} s"),
            (Value::String(s), _) => s.clone(),
            (v, _) => v.to_string(),
        }
    }
}

/// A reading: `Ok(Some)` a value, `Ok(None)` nothing to read (no
/// datapoint, no replica), `Err` the read failed.
pub type Reading<T> = Result<Option<T>, String>;

/// The existing readiness rules: passes when `reasons` is empty.
pub fn readiness(env: &str, reasons: &[String]) -> Check {
    let check = Check::new(
        READINESS,
        format!("`{env}`"),
        json!(reasons),
        json!("no reason"),
    );
    if reasons.is_empty() {
        check
    } else {
        check.failed(format!(
            "fix each reason (`drctl status --env {env}` lists them); `drctl apply --env {env} --refresh` repairs drifted configuration"
        ))
    }
}

/// The replication lag of `cluster` (the switch's target, in `region`)
/// against `max_seconds`. No datapoint fails: a lag nobody measured may be
/// any lag.
pub fn lag(cluster: &str, region: &str, reading: Reading<f64>, max_seconds: u64) -> Check {
    let subject = format!("Aurora cluster {cluster} ({region}), AuroraGlobalDBRPOLag");
    let skip = format!("`--skip-check {LAG}` switches without this check");
    let value = match &reading {
        // Milliseconds in CloudWatch: three decimals keep all of it.
        Ok(Some(s)) => json!((s * 1000.0).round() / 1000.0),
        _ => Value::Null,
    };
    let check = Check::new(LAG, subject, value, json!(max_seconds));
    match reading {
        Ok(Some(s)) if s <= max_seconds as f64 => check,
        Ok(Some(s)) => check.failed(format!(
            "{cluster} is {s} s behind the writer, more than {max_seconds} s: a switchover blocks writes until it has caught up. Wait until the lag falls (it falls as the write load does; `drctl status` measures it again), or raise `max_replication_lag_seconds` in drctl.toml"
        )),
        Ok(None) => check.failed(format!(
            "CloudWatch has no AuroraGlobalDBRPOLag datapoint for {cluster} in {region} in the last 5 minutes: Aurora publishes it every minute for a secondary cluster of an Aurora PostgreSQL global database, so check that {cluster} is a secondary member and available; {skip}"
        )),
        Err(e) => check.failed(format!(
            "cannot read the lag of {cluster} from CloudWatch in {region} ({e}); {skip}"
        )),
    }
}

/// The status of the session table's copy in `region` (the target's).
pub fn replica(env: &str, table: &str, region: &str, reading: Reading<String>) -> Check {
    let subject = format!("DynamoDB table {table} in {region}");
    let value = match &reading {
        Ok(Some(s)) => json!(s),
        Ok(None) => json!("missing"),
        Err(_) => Value::Null,
    };
    let check = Check::new(REPLICA, subject, value, json!("ACTIVE"));
    match reading {
        Ok(Some(s)) if s == "ACTIVE" => check,
        Ok(Some(s)) => check.failed(format!(
            "the copy of {table} in {region} is {s}: wait until it is ACTIVE (`drctl status --env {env}` shows it)"
        )),
        Ok(None) => check.failed(format!(
            "{table} has no replica in {region}: `drctl apply --env {env} --refresh` creates it"
        )),
        Err(e) => check.failed(format!(
            "cannot read {table} ({e}); `--skip-check {REPLICA}` switches without this check"
        )),
    }
}

/// The environment's alarms in `region`: fails when one is in ALARM
/// (OK and INSUFFICIENT_DATA pass: an alarm without data is not a fault).
pub fn alarms(region: &str, reading: Result<Vec<(String, String)>, String>) -> Check {
    let subject = format!("CloudWatch alarms of the environment in {region}");
    let threshold = json!("none in ALARM");
    match reading {
        Ok(states) => {
            let firing: Vec<&str> = states
                .iter()
                .filter(|(_, s)| s == "ALARM")
                .map(|(n, _)| n.as_str())
                .collect();
            let check = Check::new(ALARMS, subject, json!(firing), threshold);
            if firing.is_empty() {
                check
            } else {
                let first = firing[0];
                check.failed(format!(
                    "the target region is unhealthy: find why ({} in ALARM; `aws cloudwatch describe-alarms --region {region} --alarm-names {first}` gives the reason), fix it and wait for OK; if the alarm does not concern the switch, `--skip-check {ALARMS}`",
                    firing.join(", ")
                ))
            }
        }
        Err(e) => Check::new(ALARMS, subject, Value::Null, threshold).failed(format!(
            "cannot read the alarms in {region} ({e}); `--skip-check {ALARMS}` switches without this check"
        )),
    }
}

/// How a check counts for a switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Passes, or fails and refuses the switch.
    Gates,
    /// Named by `--skip-check`: shown, not gating.
    Skipped,
    /// An unplanned failover: shown, not gating.
    Shown,
}

impl Gate {
    pub fn label(self) -> &'static str {
        match self {
            Gate::Gates => "",
            Gate::Skipped => " (skipped)",
            Gate::Shown => " (not gating: unplanned)",
        }
    }
}

pub fn gate(check: &Check, planned: bool, skip: &[String]) -> Gate {
    if !planned {
        Gate::Shown
    } else if skip.iter().any(|s| s == check.name) {
        Gate::Skipped
    } else {
        Gate::Gates
    }
}

/// The checks that refuse a switch: failed and gating.
pub fn refusals<'a>(checks: &'a [Check], planned: bool, skip: &[String]) -> Vec<&'a Check> {
    checks
        .iter()
        .filter(|c| !c.ok && gate(c, planned, skip) == Gate::Gates)
        .collect()
}

/// What a step of a switch typically takes, and where that comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    pub duration: &'static str,
    pub source: &'static str,
}

/// The steps' typical durations on AWS.
pub const CHECKS_TIME: Expected = Expected {
    duration: "seconds",
    source: "read-only calls: ListResourceRecordSets, DescribeGlobalClusters, DescribeDBClusters, DescribeTable, GetBucketReplication, GetBucketVersioning, ListMetrics, GetMetricData, DescribeAlarms",
};
pub const SWITCHOVER_TIME: Expected = Expected {
    duration: "1-5 min",
    source: "Aurora User Guide, \"Using switchover or failover in an Amazon Aurora global database\": a switchover first waits for the target to be synchronized (the lag), writes blocked, then promotes it",
};
pub const FAILOVER_TIME: Expected = Expected {
    duration: "1-2 min",
    source: "Aurora User Guide, same page: a failover promotes the secondary without waiting for replication (RTO typically minutes)",
};
pub const RECORD_TIME: Expected = Expected {
    duration: "< 1 s",
    source: "a write of the state file (or object)",
};
pub const FENCE_TIME: Expected = Expected {
    duration: "1-3 min, then resolvers' cached answers (the alias target's TTL)",
    source: "CloudWatch User Guide, \"Evaluating an alarm\" (a one-minute alarm is evaluated every minute); Route 53 Developer Guide, \"How Amazon Route 53 determines whether a health check is healthy\" (a health check on a CloudWatch alarm follows the alarm's data stream) and \"How Amazon Route 53 chooses records when health checking is configured\"",
};
pub const WEIGHTS_TIME: Expected = Expected {
    duration: "~60 s, then resolvers' cached answers (the alias target's TTL)",
    source: "Route 53 API reference, GetChange (INSYNC: every Route 53 name server has the change) and Route 53 FAQ (updates propagate within 60 seconds under normal conditions); alias records take the target's TTL",
};

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn lag_at_or_below_the_threshold_passes() {
        for s in [0.0, 0.4, 60.0] {
            let c = lag("c", "us-east-2", Ok(Some(s)), 60);
            assert!(c.ok, "{c:?}");
            assert_eq!(c.remedy, None);
            assert_eq!(c.value, json!(s));
            assert_eq!(c.threshold, json!(60));
        }
    }

    #[test]
    fn lag_above_the_threshold_fails_and_says_how_to_clear_it() {
        let c = lag("payment-x-secondary", "us-east-2", Ok(Some(120.5)), 60);
        assert!(!c.ok);
        assert_eq!(c.value, json!(120.5));
        assert_eq!(c.value_text(), "120.5 s");
        assert_eq!(lag("c", "r", Ok(Some(120.0)), 60).value_text(), "120 s");
        assert_eq!(c.threshold_text(), "at most 60 s");
        let r = c.remedy.unwrap();
        assert!(
            r.contains("120.5 s behind the writer, more than 60 s"),
            "{r}"
        );
        assert!(r.contains("max_replication_lag_seconds"), "{r}");
    }

    #[test]
    fn unknown_lag_fails() {
        let c = lag("c", "us-east-2", Ok(None), 60);
        assert!(!c.ok);
        assert_eq!(c.value, Value::Null);
        assert_eq!(c.value_text(), "unknown");
        assert!(
            c.remedy
                .unwrap()
                .contains("--skip-check aurora-replication-lag")
        );
        let c = lag("c", "us-east-2", Err("AccessDenied".into()), 60);
        assert!(!c.ok);
        assert!(c.remedy.unwrap().contains("AccessDenied"));
    }

    #[test]
    fn a_replica_not_active_fails() {
        assert!(replica("e", "t", "us-east-2", Ok(Some("ACTIVE".into()))).ok);
        for (reading, value, says) in [
            (
                Ok(Some("UPDATING".to_owned())),
                json!("UPDATING"),
                "is UPDATING: wait until it is ACTIVE",
            ),
            (
                Ok(None),
                json!("missing"),
                "no replica in us-east-2: `drctl apply --env e --refresh`",
            ),
            (
                Err("timeout".to_owned()),
                Value::Null,
                "cannot read t (timeout)",
            ),
        ] {
            let c = replica("e", "t", "us-east-2", reading);
            assert!(!c.ok);
            assert_eq!(c.value, value);
            let r = c.remedy.unwrap();
            assert!(r.contains(says), "{r}");
        }
    }

    #[test]
    fn an_alarm_in_alarm_fails() {
        let states = |s: &[(&str, &str)]| {
            Ok(s.iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect())
        };
        let c = alarms(
            "us-east-2",
            states(&[("a", "OK"), ("b", "INSUFFICIENT_DATA")]),
        );
        assert!(c.ok, "{c:?}");
        assert_eq!(c.value, json!([]));
        assert_eq!(c.value_text(), "none");
        let c = alarms("us-east-2", states(&[("a", "OK"), ("api-5xx", "ALARM")]));
        assert!(!c.ok);
        assert_eq!(c.value, json!(["api-5xx"]));
        let r = c.remedy.unwrap();
        assert!(r.contains("api-5xx in ALARM"), "{r}");
        assert!(r.contains("--alarm-names api-5xx"), "{r}");
        assert!(r.contains("--skip-check target-alarms"), "{r}");
        let c = alarms("us-east-2", Err("throttled".into()));
        assert!(!c.ok);
        assert_eq!(c.value, Value::Null);
    }

    #[test]
    fn readiness_carries_the_reasons() {
        assert!(readiness("e", &[]).ok);
        let c = readiness("e", &["bucket b has no replication configuration".into()]);
        assert!(!c.ok);
        assert_eq!(
            c.value,
            json!(["bucket b has no replication configuration"])
        );
        assert!(c.remedy.unwrap().contains("drctl apply --env e --refresh"));
    }

    #[test]
    fn planned_switches_refuse_failed_checks_not_skipped() {
        let checks = [
            readiness("e", &[]),
            lag("c", "r", Ok(Some(90.0)), 60),
            replica("e", "t", "r", Ok(Some("ACTIVE".into()))),
            alarms("r", Ok(vec![("a".into(), "ALARM".into())])),
        ];
        let names = |v: Vec<&Check>| v.into_iter().map(|c| c.name).collect::<Vec<_>>();
        assert_eq!(names(refusals(&checks, true, &[])), [LAG, ALARMS]);
        assert_eq!(names(refusals(&checks, true, &skip(&[ALARMS]))), [LAG]);
        assert_eq!(gate(&checks[3], true, &skip(&[ALARMS])), Gate::Skipped);
        // Unplanned: every check shown, none refuses.
        assert!(refusals(&checks, false, &[]).is_empty());
        assert_eq!(gate(&checks[1], false, &[]), Gate::Shown);
    }
}
