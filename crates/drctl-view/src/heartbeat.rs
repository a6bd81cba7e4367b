//! Off a terminal, what an operation still running says every
//! [`HEARTBEAT`]: for how long it has run and what it waits for, so that a
//! CI log never goes silent during a 40-minute wait (Terraform's "Still
//! creating... [10s elapsed]").

use std::collections::HashMap;
use std::time::{Duration, Instant};

use drctl_core::Address;
use drctl_core::operations::OpKind;
use drctl_core::waiting::Status;

use crate::duration;

/// How often an operation still running says so.
pub const HEARTBEAT: Duration = Duration::from_secs(20);

/// The operations in flight, by the run log's index, and when each last
/// said something.
#[derive(Default)]
pub struct Heartbeats {
    running: HashMap<usize, Beat>,
}

struct Beat {
    address: Address,
    kind: OpKind,
    started: Instant,
    said: Instant,
    status: Status,
}

fn still(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Create => "Still creating...",
        OpKind::Update => "Still modifying...",
        OpKind::Delete => "Still destroying...",
    }
}

impl Heartbeats {
    /// Operation `op` started `now` (its start line counts as said).
    pub fn started(
        &mut self,
        op: usize,
        address: &Address,
        kind: OpKind,
        status: &Status,
        now: Instant,
    ) {
        self.running.insert(
            op,
            Beat {
                address: address.clone(),
                kind,
                started: now,
                said: now,
                status: status.clone(),
            },
        );
    }

    pub fn finished(&mut self, op: usize) {
        self.running.remove(&op);
    }

    /// What each operation in flight last reported, by `op`.
    pub fn statuses(&self) -> Vec<(usize, Option<String>)> {
        self.running
            .iter()
            .map(|(op, b)| (*op, b.status.get()))
            .collect()
    }

    /// The lines due at `now`, one per operation silent for a heartbeat,
    /// sorted; each counts as said.
    pub fn due(&mut self, now: Instant) -> Vec<String> {
        let mut lines = Vec::new();
        for b in self.running.values_mut() {
            if now.saturating_duration_since(b.said) < HEARTBEAT {
                continue;
            }
            let mut line = format!(
                "{}: {} [{} elapsed]",
                b.address,
                still(b.kind),
                duration(now.saturating_duration_since(b.started))
            );
            if let Some(status) = b.status.get() {
                line.push_str(": ");
                line.push_str(&status);
            }
            lines.push(line);
            b.said = now;
        }
        lines.sort();
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operation silent for a heartbeat gets a line with its elapsed
    /// time and what it waits for; then nothing until the next heartbeat;
    /// a finished one never again.
    #[test]
    fn a_long_wait_says_what_it_waits_for_every_heartbeat() {
        let start = Instant::now();
        let mut beats = Heartbeats::default();
        let cert: Address = "global/acm.certificate_validation/api".parse().unwrap();
        let vpc: Address = "primary/ec2.vpc/payment".parse().unwrap();
        let status = Status::default();
        beats.started(0, &cert, OpKind::Create, &status, start);
        beats.started(
            1,
            &vpc,
            OpKind::Delete,
            &Status::default(),
            start + Duration::from_secs(15),
        );
        // What a provider's wait reports, from inside the executor's scope.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(drctl_core::waiting::scope(status.clone(), async {
            drctl_core::waiting::report(
                "certificate ISSUED: PENDING_VALIDATION (19s of at most 75m 00s)",
            );
        }));
        assert!(beats.due(start + Duration::from_secs(19)).is_empty());
        let at = start + HEARTBEAT;
        assert_eq!(
            beats.due(at),
            vec![
                "global/acm.certificate_validation/api: Still creating... [20.00s elapsed]: \
                 certificate ISSUED: PENDING_VALIDATION (19s of at most 75m 00s)"
                    .to_owned()
            ]
        );
        assert!(
            beats.due(at + Duration::from_secs(1)).is_empty(),
            "just said"
        );
        let later = start + Duration::from_secs(95);
        assert_eq!(
            beats.due(later),
            vec![
                "global/acm.certificate_validation/api: Still creating... [1m 35s elapsed]: \
                 certificate ISSUED: PENDING_VALIDATION (19s of at most 75m 00s)"
                    .to_owned(),
                "primary/ec2.vpc/payment: Still destroying... [1m 20s elapsed]".to_owned(),
            ]
        );
        beats.finished(0);
        assert_eq!(beats.due(later + HEARTBEAT).len(), 1);
        assert_eq!(beats.statuses(), vec![(1, None)]);
    }
}
