//! The record of one apply or destroy: every operation with its start and
//! end (offsets from the start of the run), its outcome, and the
//! dependencies between operations; from it the critical path, the slowest
//! operations and the JSON report.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use drctl_core::executor::{Event, Report};
use drctl_core::operations::{OpKind, OperationGraph};
use drctl_core::{Address, ResourceChange, State};
use serde_json::json;

pub const REPORT_FORMAT_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpStatus {
    /// Has not started (yet, or ever: the run was stopped).
    NotStarted,
    Running,
    Succeeded,
    Failed,
    /// Never started because something it waits on failed.
    Skipped,
    /// Nothing to call once its inputs were known (an update that
    /// resolved to no change, a delete of something already gone).
    Unchanged,
}

impl OpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OpStatus::NotStarted => "not_started",
            OpStatus::Running => "running",
            OpStatus::Succeeded => "succeeded",
            OpStatus::Failed => "failed",
            OpStatus::Skipped => "skipped",
            OpStatus::Unchanged => "unchanged",
        }
    }
}

pub fn kind_str(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Create => "create",
        OpKind::Update => "update",
        OpKind::Delete => "delete",
    }
}

#[derive(Clone, Debug)]
pub struct OpRecord {
    pub address: Address,
    pub region: String,
    pub kind: OpKind,
    /// Half of a replacement (delete then create of one address).
    pub replacing: bool,
    /// Operations that must succeed before this one.
    pub waits_on: Vec<usize>,
    pub status: OpStatus,
    pub start: Option<Duration>,
    pub end: Option<Duration>,
    pub error: Option<String>,
}

impl OpRecord {
    pub fn duration(&self) -> Option<Duration> {
        Some(self.end?.saturating_sub(self.start?))
    }

    /// "create", "update", "delete", or "replace (delete)" / "replace (create)".
    pub fn action_label(&self) -> String {
        if self.replacing {
            format!("replace ({})", kind_str(self.kind))
        } else {
            kind_str(self.kind).to_owned()
        }
    }
}

#[derive(Clone, Debug)]
pub struct RunLog {
    pub ops: Vec<OpRecord>,
    index: HashMap<(Address, OpKind), usize>,
    /// Wall time of the whole run, once finished.
    pub elapsed: Option<Duration>,
}

impl RunLog {
    /// The operations the executor will derive from `changes` against the
    /// `state` it starts from (same rules, same dependencies).
    pub fn new(changes: &[ResourceChange], state: &State) -> Self {
        let graph = OperationGraph::build(changes, state);
        let mut index = HashMap::new();
        let ops = graph
            .operations
            .iter()
            .zip(graph.waits_on)
            .enumerate()
            .map(|(i, (op, waits_on))| {
                let change = &changes[op.change];
                index.insert((change.address.clone(), op.kind), i);
                OpRecord {
                    address: change.address.clone(),
                    region: change.region.clone(),
                    kind: op.kind,
                    replacing: op.replacing,
                    waits_on,
                    status: OpStatus::NotStarted,
                    start: None,
                    end: None,
                    error: None,
                }
            })
            .collect();
        Self {
            ops,
            index,
            elapsed: None,
        }
    }

    /// Records `event`, which happened `at` after the start of the run.
    /// Returns the index of the operation it is about, if one.
    pub fn observe(&mut self, event: &Event, at: Duration) -> Option<usize> {
        match event {
            Event::Started { address, kind, .. } => {
                let i = *self.index.get(&(address.clone(), *kind))?;
                let op = &mut self.ops[i];
                op.status = OpStatus::Running;
                op.start = Some(at);
                Some(i)
            }
            Event::Finished {
                address,
                kind,
                elapsed,
                error,
            } => {
                let i = *self.index.get(&(address.clone(), *kind))?;
                let op = &mut self.ops[i];
                // The executor measures the call itself; the event may
                // reach us a little later.
                let start = op.start.unwrap_or(at.saturating_sub(*elapsed));
                op.start = Some(start);
                op.end = Some(start + *elapsed);
                op.status = if error.is_some() {
                    OpStatus::Failed
                } else {
                    OpStatus::Succeeded
                };
                op.error = error.clone();
                Some(i)
            }
            Event::Skipped { address, .. } => {
                let mut first = None;
                for (i, op) in self.ops.iter_mut().enumerate() {
                    if &op.address == address && op.status == OpStatus::NotStarted {
                        op.status = OpStatus::Skipped;
                        first.get_or_insert(i);
                    }
                }
                first
            }
        }
    }

    /// Settles what no event reported: operations the run never started
    /// (stopped, or failed before its call) and those with nothing to call.
    pub fn finish(&mut self, report: &Report) {
        let not_started: BTreeSet<&Address> = report.not_started.iter().collect();
        let skipped: BTreeSet<&Address> = report.skipped.iter().collect();
        let failed: HashMap<&Address, &String> =
            report.failed.iter().map(|(a, e)| (a, e)).collect();
        for op in &mut self.ops {
            if op.status != OpStatus::NotStarted {
                continue;
            }
            op.status = if not_started.contains(&op.address) {
                OpStatus::NotStarted
            } else if skipped.contains(&op.address) {
                OpStatus::Skipped
            } else if let Some(e) = failed.get(&op.address) {
                op.error = Some((*e).clone());
                OpStatus::Failed
            } else {
                OpStatus::Unchanged
            };
        }
        self.elapsed = Some(report.elapsed);
    }

    /// The chain of dependent operations that ended last: from the
    /// operation that finished last, back through the dependency that
    /// finished last, to one that waited on nothing that ran. In order of
    /// execution.
    pub fn critical_path(&self) -> Vec<usize> {
        let ended = |i: &usize| self.ops[*i].end;
        let Some(mut current) = (0..self.ops.len())
            .filter(|i| ended(i).is_some())
            .max_by_key(|i| (ended(i), std::cmp::Reverse(*i)))
        else {
            return Vec::new();
        };
        let mut path = vec![current];
        while let Some(previous) = self.ops[current]
            .waits_on
            .iter()
            .copied()
            .filter(|i| ended(i).is_some())
            .max_by_key(|i| (ended(i), std::cmp::Reverse(*i)))
        {
            path.push(previous);
            current = previous;
        }
        path.reverse();
        path
    }

    /// The `n` operations that took longest, longest first.
    pub fn slowest(&self, n: usize) -> Vec<&OpRecord> {
        let mut timed: Vec<&OpRecord> = self.ops.iter().filter(|o| o.end.is_some()).collect();
        timed.sort_by_key(|o| std::cmp::Reverse(o.duration()));
        timed.truncate(n);
        timed
    }

    /// The lines after a run's summary: the slowest operations and the
    /// critical path, with their durations.
    pub fn durations(&self, slowest: usize) -> String {
        let secs = crate::duration;
        let mut out = String::new();
        let top = self.slowest(slowest);
        if top.is_empty() {
            return out;
        }
        out.push_str("Slowest operations:\n");
        for o in top {
            out.push_str(&format!(
                "  {:>8}  {} ({})\n",
                secs(o.duration().unwrap_or_default()),
                o.address,
                o.action_label()
            ));
        }
        let path = self.critical_path();
        if let (Some(first), Some(last)) = (path.first(), path.last()) {
            let span = self.ops[*last]
                .end
                .unwrap_or_default()
                .saturating_sub(self.ops[*first].start.unwrap_or_default());
            let chain: Vec<String> = path
                .iter()
                .map(|&i| self.ops[i].address.to_string())
                .collect();
            out.push_str(&format!(
                "Critical path ({} operations, {}): {}\n",
                path.len(),
                secs(span),
                chain.join(" -> ")
            ));
        }
        out
    }

    /// The JSON report of `drctl apply --json` / `destroy --json`
    /// (docs/json-output.md).
    pub fn to_json(&self, env: &str, operation: &str, report: &Report) -> serde_json::Value {
        let critical: BTreeSet<usize> = self.critical_path().into_iter().collect();
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        let operations: Vec<serde_json::Value> = self
            .ops
            .iter()
            .enumerate()
            .map(|(i, o)| {
                json!({
                    "address": o.address.to_string(),
                    "region": o.region,
                    "action": kind_str(o.kind),
                    "replacing": o.replacing,
                    "status": o.status.as_str(),
                    "start_ms": ms(o.start),
                    "end_ms": ms(o.end),
                    "error": o.error,
                    "critical": critical.contains(&i),
                })
            })
            .collect();
        json!({
            "format_version": REPORT_FORMAT_VERSION,
            "env": env,
            "operation": operation,
            "status": if report.is_success() { "complete" } else { "incomplete" },
            "elapsed_ms": report.elapsed.as_millis() as u64,
            "summary": {
                "created": report.created.len(),
                "updated": report.updated.len(),
                "replaced": report.replaced.len(),
                "deleted": report.deleted.len(),
                "failed": report.failed.len(),
                "skipped": report.skipped.len(),
                "not_started": report.not_started.len(),
            },
            "operations": operations,
            "critical_path": self
                .critical_path()
                .into_iter()
                .map(|i| json!({
                    "address": self.ops[i].address.to_string(),
                    "action": kind_str(self.ops[i].kind),
                }))
                .collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use drctl_core::Action;
    use std::collections::BTreeMap;

    pub fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn create(a: &str, deps: &[&str]) -> ResourceChange {
        ResourceChange {
            address: addr(a),
            region: "us-east-1".into(),
            action: Action::Create,
            inputs: BTreeMap::new(),
            depends_on: deps.iter().map(|d| addr(d)).collect(),
            attributes: vec![],
            data_loss: false,
            leaves: BTreeMap::new(),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// vpc -> subnet -> db (slow), vpc -> sg (quick); lambda on its own.
    pub fn finished_run() -> RunLog {
        let changes = vec![
            create("primary/ec2.vpc/main", &[]),
            create("primary/ec2.subnet/a", &["primary/ec2.vpc/main"]),
            create("primary/rds.cluster/db", &["primary/ec2.subnet/a"]),
            create("primary/ec2.security_group/sg", &["primary/ec2.vpc/main"]),
            create("primary/lambda.function/api", &[]),
        ];
        let mut log = RunLog::new(&changes, &State::new("t"));
        let started = |a: &str| Event::Started {
            address: addr(a),
            kind: OpKind::Create,
            status: Default::default(),
        };
        let finished = |a: &str, elapsed: u64, error: Option<&str>| Event::Finished {
            address: addr(a),
            kind: OpKind::Create,
            elapsed: ms(elapsed),
            error: error.map(str::to_owned),
        };
        log.observe(&started("primary/ec2.vpc/main"), ms(0));
        log.observe(&started("primary/lambda.function/api"), ms(0));
        log.observe(&finished("primary/ec2.vpc/main", 100, None), ms(100));
        log.observe(&started("primary/ec2.subnet/a"), ms(100));
        log.observe(&started("primary/ec2.security_group/sg"), ms(100));
        log.observe(
            &finished("primary/ec2.security_group/sg", 50, None),
            ms(150),
        );
        log.observe(&finished("primary/lambda.function/api", 300, None), ms(300));
        log.observe(&finished("primary/ec2.subnet/a", 100, None), ms(200));
        log.observe(&started("primary/rds.cluster/db"), ms(200));
        log.observe(
            &finished("primary/rds.cluster/db", 700, Some("boom")),
            ms(900),
        );
        let report = Report {
            created: vec![],
            failed: vec![(addr("primary/rds.cluster/db"), "boom".into())],
            elapsed: ms(905),
            ..Report::default()
        };
        log.finish(&report);
        log
    }

    #[test]
    fn critical_path_follows_the_dependencies_that_ended_last() {
        let log = finished_run();
        let path: Vec<String> = log
            .critical_path()
            .into_iter()
            .map(|i| log.ops[i].address.to_string())
            .collect();
        assert_eq!(
            path,
            [
                "primary/ec2.vpc/main",
                "primary/ec2.subnet/a",
                "primary/rds.cluster/db"
            ]
        );
    }

    #[test]
    fn records_offsets_statuses_and_the_slowest() {
        let log = finished_run();
        let db = &log.ops[2];
        assert_eq!((db.start, db.end), (Some(ms(200)), Some(ms(900))));
        assert_eq!(db.status, OpStatus::Failed);
        assert_eq!(db.error.as_deref(), Some("boom"));
        let slowest: Vec<String> = log
            .slowest(2)
            .iter()
            .map(|o| o.address.to_string())
            .collect();
        assert_eq!(
            slowest,
            ["primary/rds.cluster/db", "primary/lambda.function/api"]
        );
    }

    #[test]
    fn durations_name_the_slowest_and_the_critical_path() {
        assert_eq!(
            finished_run().durations(2),
            "Slowest operations:\n\
             \x20    0.70s  primary/rds.cluster/db (create)\n\
             \x20    0.30s  primary/lambda.function/api (create)\n\
             Critical path (3 operations, 0.90s): primary/ec2.vpc/main -> primary/ec2.subnet/a -> primary/rds.cluster/db\n"
        );
    }

    #[test]
    fn json_report_lists_every_operation() {
        let log = finished_run();
        let report = Report {
            failed: vec![(addr("primary/rds.cluster/db"), "boom".into())],
            elapsed: ms(905),
            ..Report::default()
        };
        let doc = log.to_json("t", "apply", &report);
        assert_eq!(doc["status"], "incomplete");
        assert_eq!(doc["elapsed_ms"], 905);
        assert_eq!(doc["operations"].as_array().unwrap().len(), 5);
        let db = &doc["operations"][2];
        assert_eq!(db["address"], "primary/rds.cluster/db");
        assert_eq!(db["status"], "failed");
        assert_eq!(
            (db["start_ms"].as_u64(), db["end_ms"].as_u64()),
            (Some(200), Some(900))
        );
        assert_eq!(db["critical"], true);
        assert_eq!(doc["operations"][4]["critical"], false);
        assert_eq!(doc["critical_path"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn skipped_and_unstarted_operations_are_settled_from_the_report() {
        let changes = vec![
            create("primary/ec2.vpc/main", &[]),
            create("primary/ec2.subnet/a", &["primary/ec2.vpc/main"]),
        ];
        let mut log = RunLog::new(&changes, &State::new("t"));
        log.observe(
            &Event::Skipped {
                address: addr("primary/ec2.subnet/a"),
                because: addr("primary/ec2.vpc/main"),
            },
            ms(5),
        );
        log.finish(&Report {
            failed: vec![(addr("primary/ec2.vpc/main"), "bad input".into())],
            skipped: vec![addr("primary/ec2.subnet/a")],
            ..Report::default()
        });
        assert_eq!(log.ops[0].status, OpStatus::Failed);
        assert_eq!(log.ops[1].status, OpStatus::Skipped);
        assert!(log.critical_path().is_empty());
    }
}
