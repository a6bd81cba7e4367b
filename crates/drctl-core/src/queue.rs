//! Readiness tracking for a DAG of jobs, in the manner of Cargo's
//! `DependencyQueue`: it only knows which jobs may start; the executor runs
//! them.

use std::collections::VecDeque;

/// Jobs are `0..n`; `waits_on[j]` lists the jobs `j` must wait for.
#[derive(Debug)]
pub struct ReadyQueue {
    remaining_deps: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    ready: VecDeque<usize>,
    settled: Vec<bool>,
    unsettled: usize,
}

impl ReadyQueue {
    pub fn new(waits_on: &[Vec<usize>]) -> Self {
        let n = waits_on.len();
        let mut dependents = vec![Vec::new(); n];
        let mut remaining_deps = vec![0; n];
        for (job, deps) in waits_on.iter().enumerate() {
            for &d in deps {
                dependents[d].push(job);
                remaining_deps[job] += 1;
            }
        }
        let ready = (0..n).filter(|&j| remaining_deps[j] == 0).collect();
        Self {
            remaining_deps,
            dependents,
            ready,
            settled: vec![false; n],
            unsettled: n,
        }
    }

    /// The next job whose dependencies have all succeeded.
    pub fn pop(&mut self) -> Option<usize> {
        self.ready.pop_front()
    }

    /// `job` succeeded: its dependents may become ready.
    pub fn succeeded(&mut self, job: usize) {
        self.settle(job);
        for i in 0..self.dependents[job].len() {
            let d = self.dependents[job][i];
            self.remaining_deps[d] -= 1;
            if self.remaining_deps[d] == 0 && !self.settled[d] {
                self.ready.push_back(d);
            }
        }
    }

    /// `job` failed: returns every job that now can never run (transitive
    /// dependents), which are settled as skipped.
    pub fn failed(&mut self, job: usize) -> Vec<usize> {
        self.settle(job);
        let mut skipped = Vec::new();
        let mut stack = self.dependents[job].clone();
        while let Some(d) = stack.pop() {
            if self.settled[d] {
                continue;
            }
            self.settle(d);
            self.ready.retain(|&r| r != d);
            skipped.push(d);
            stack.extend(self.dependents[d].iter().copied());
        }
        skipped.sort_unstable();
        skipped
    }

    /// Every job has succeeded, failed or been skipped.
    pub fn is_finished(&self) -> bool {
        self.unsettled == 0
    }

    /// Jobs that have neither succeeded, failed nor been skipped.
    pub fn unsettled(&self) -> Vec<usize> {
        (0..self.settled.len())
            .filter(|&j| !self.settled[j])
            .collect()
    }

    fn settle(&mut self, job: usize) {
        if !self.settled[job] {
            self.settled[job] = true;
            self.unsettled -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_jobs_in_dependency_order() {
        // 0 -> 1 -> 3, 0 -> 2 -> 3
        let mut q = ReadyQueue::new(&[vec![], vec![0], vec![0], vec![1, 2]]);
        assert_eq!(q.pop(), Some(0));
        assert_eq!(q.pop(), None);
        q.succeeded(0);
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some(1), Some(2), None));
        q.succeeded(1);
        assert_eq!(q.pop(), None);
        q.succeeded(2);
        assert_eq!(q.pop(), Some(3));
        q.succeeded(3);
        assert!(q.is_finished());
    }

    #[test]
    fn failure_skips_only_dependents() {
        // 0 -> 1 -> 2; 3 independent
        let mut q = ReadyQueue::new(&[vec![], vec![0], vec![1], vec![]]);
        assert_eq!((q.pop(), q.pop()), (Some(0), Some(3)));
        assert_eq!(q.failed(0), vec![1, 2]);
        assert!(!q.is_finished());
        q.succeeded(3);
        assert!(q.is_finished());
        assert_eq!(q.pop(), None);
    }
}
