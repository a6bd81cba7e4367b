//! Targeted runs, as Terraform's `-target` and `-exclude`: which changes of
//! a plan a selection keeps. Pure, like the planner: the plan says it is
//! partial (`Plan::selection`), the executor runs what is kept.
//!
//! - `--target ADDR`: the matched changes and everything they depend on
//!   (their desired dependencies; for a delete, what it depended on in
//!   state), so that they can be applied; a kept delete also keeps the
//!   deletes of what depends on it, which must go first.
//! - `--exclude ADDR`: the matched changes and everything that depends on
//!   them, transitively, are left out.
//!
//! Patterns are addresses where `*` stands for any run of characters
//! (`primary/ec2.subnet/*`, `*/sns.topic/alarms`).

use std::collections::{BTreeMap, BTreeSet};

use crate::address::Address;
use crate::plan::{Action, ResourceChange};

/// An address pattern of `--target`, `--exclude` or `--replace`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error(
        "`{0}` is not an address pattern: use ROLE/KIND/NAME (e.g. primary/ec2.subnet/private-a), where `*` matches any characters"
    )]
    Malformed(String),
    #[error("`{pattern}` matches no resource of this environment{hint}")]
    NoMatch { pattern: String, hint: String },
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, TargetError> {
        let parts: Vec<&str> = text.split('/').collect();
        let well_formed = parts.len() == 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.*".contains(c))
            });
        if !well_formed {
            return Err(TargetError::Malformed(text.to_owned()));
        }
        Ok(Pattern(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, address: &Address) -> bool {
        glob(self.0.as_bytes(), address.to_string().as_bytes())
    }
}

/// `*` matches any run of characters, everything else itself.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

/// The addresses among `all` that `patterns` match; each pattern must
/// match one at least (a typo would otherwise select nothing silently).
pub fn matching<'a>(
    patterns: &[Pattern],
    all: impl Iterator<Item = &'a Address> + Clone,
) -> Result<BTreeSet<Address>, TargetError> {
    let mut found = BTreeSet::new();
    for pattern in patterns {
        if !all.clone().any(|a| pattern.matches(a)) {
            let names: Vec<String> = all.clone().map(ToString::to_string).collect();
            let candidates: Vec<&str> = names.iter().map(String::as_str).collect();
            let hint = closest(pattern.as_str(), &candidates)
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            return Err(TargetError::NoMatch {
                pattern: pattern.as_str().to_owned(),
                hint,
            });
        }
        found.extend(all.clone().filter(|a| pattern.matches(a)).cloned());
    }
    Ok(found)
}

fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= word.len() / 3 + 1)
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The changes `targets` and `excludes` keep, in their order. With no
/// targets every change is a candidate.
pub fn select(
    changes: Vec<ResourceChange>,
    targets: &[Pattern],
    excludes: &[Pattern],
) -> Result<Vec<ResourceChange>, TargetError> {
    let addresses = changes.iter().map(|c| &c.address);
    let targeted = matching(targets, addresses.clone())?;
    let excluded = matching(excludes, addresses)?;
    let deps: BTreeMap<&Address, &BTreeSet<Address>> = changes
        .iter()
        .map(|c| (&c.address, &c.depends_on))
        .collect();
    let mut dependents: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
    for c in &changes {
        for d in &c.depends_on {
            dependents.entry(d).or_default().push(&c.address);
        }
    }
    let deleting: BTreeSet<&Address> = changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .map(|c| &c.address)
        .collect();

    let mut keep: BTreeSet<&Address> = BTreeSet::new();
    if targets.is_empty() {
        keep.extend(changes.iter().map(|c| &c.address));
    } else {
        let mut todo: Vec<&Address> = targeted.iter().collect();
        while let Some(a) = todo.pop() {
            if !keep.insert(a) {
                continue;
            }
            todo.extend(deps.get(a).into_iter().flat_map(|d| d.iter()));
            if deleting.contains(a) {
                let going = dependents.get(a).into_iter().flatten();
                todo.extend(going.filter(|d| deleting.contains(*d)));
            }
        }
    }
    let mut out: BTreeSet<&Address> = BTreeSet::new();
    let mut todo: Vec<&Address> = excluded.iter().collect();
    while let Some(a) = todo.pop() {
        if out.insert(a) {
            todo.extend(dependents.get(a).into_iter().flatten().copied());
        }
    }
    let kept: BTreeSet<Address> = keep.difference(&out).map(|a| (*a).clone()).collect();
    Ok(changes
        .into_iter()
        .filter(|c| kept.contains(&c.address))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn change(address: &str, action: Action, deps: &[&str]) -> ResourceChange {
        ResourceChange {
            address: a(address),
            region: "us-east-1".into(),
            action,
            inputs: BTreeMap::new(),
            depends_on: deps.iter().map(|d| a(d)).collect(),
            attributes: vec![],
            data_loss: false,
            leaves: BTreeMap::new(),
        }
    }

    /// vpc <- subnet-a, subnet-b <- nat (on subnet-a); topic alone; an
    /// old route (on subnet-b) being deleted.
    fn plan() -> Vec<ResourceChange> {
        vec![
            change("primary/ec2.vpc/main", Action::Create, &[]),
            change(
                "primary/ec2.subnet/a",
                Action::Create,
                &["primary/ec2.vpc/main"],
            ),
            change(
                "primary/ec2.subnet/b",
                Action::Update,
                &["primary/ec2.vpc/main"],
            ),
            change(
                "primary/ec2.nat_gateway/main",
                Action::Create,
                &["primary/ec2.subnet/a"],
            ),
            change("primary/sns.topic/alarms", Action::Update, &[]),
            change(
                "primary/ec2.route/old",
                Action::Delete,
                &["primary/ec2.subnet/b"],
            ),
        ]
    }

    fn kept(targets: &[&str], excludes: &[&str]) -> Vec<String> {
        let p = |v: &[&str]| {
            v.iter()
                .map(|s| Pattern::parse(s).unwrap())
                .collect::<Vec<_>>()
        };
        select(plan(), &p(targets), &p(excludes))
            .unwrap()
            .iter()
            .map(|c| c.address.to_string())
            .collect()
    }

    #[test]
    fn a_target_keeps_what_it_depends_on_and_not_its_dependents() {
        assert_eq!(
            kept(&["primary/ec2.subnet/a"], &[]),
            ["primary/ec2.vpc/main", "primary/ec2.subnet/a"]
        );
        assert_eq!(
            kept(&["primary/ec2.nat_gateway/main"], &[]),
            [
                "primary/ec2.vpc/main",
                "primary/ec2.subnet/a",
                "primary/ec2.nat_gateway/main"
            ]
        );
    }

    #[test]
    fn globs_match_any_run_of_characters() {
        assert_eq!(
            kept(&["primary/ec2.subnet/*"], &[]),
            [
                "primary/ec2.vpc/main",
                "primary/ec2.subnet/a",
                "primary/ec2.subnet/b"
            ]
        );
        assert_eq!(kept(&["*/sns.*/*"], &[]), ["primary/sns.topic/alarms"]);
    }

    #[test]
    fn an_exclude_drops_everything_that_depends_on_it() {
        assert_eq!(
            kept(&[], &["primary/ec2.subnet/a"]),
            [
                "primary/ec2.vpc/main",
                "primary/ec2.subnet/b",
                "primary/sns.topic/alarms",
                "primary/ec2.route/old"
            ]
        );
        assert_eq!(
            kept(&["primary/ec2.subnet/*"], &["primary/ec2.vpc/main"]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_deleted_target_keeps_the_deletes_of_its_dependents() {
        let mut changes = plan();
        changes.push(change("primary/ec2.route_table/old", Action::Delete, &[]));
        changes[5]
            .depends_on
            .insert(a("primary/ec2.route_table/old"));
        let kept = select(
            changes,
            &[Pattern::parse("primary/ec2.route_table/old").unwrap()],
            &[],
        )
        .unwrap();
        let names: Vec<String> = kept.iter().map(|c| c.address.to_string()).collect();
        assert_eq!(
            names,
            [
                "primary/ec2.vpc/main",
                "primary/ec2.subnet/b",
                "primary/ec2.route/old",
                "primary/ec2.route_table/old"
            ]
        );
    }

    #[test]
    fn a_pattern_that_matches_nothing_is_an_error_with_a_hint() {
        let err = select(
            plan(),
            &[Pattern::parse("primary/ec2.subnet/c").unwrap()],
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`primary/ec2.subnet/c` matches no resource of this environment; did you mean `primary/ec2.subnet/a`?"
        );
        assert!(matches!(
            Pattern::parse("ec2.subnet/a"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Pattern::parse("primary/ec2 subnet/a"),
            Err(TargetError::Malformed(_))
        ));
    }
}
