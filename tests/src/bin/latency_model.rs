//! The latency model (issue 16): the full `dev` blueprint applied and
//! destroyed through the real planner, operation graph and executor, with
//! providers that take the modelled time of real AWS
//! (`drctl_blueprint::latency`) on a virtual clock, so the whole report
//! takes well under a second. Three ways each: drctl at its default
//! parallelism, at Terraform's default walk of 10, and in the seeds' order
//! (CDK stacks per concern and region, a stack starting when the stacks it
//! depends on are complete). Prints markdown for docs/performance.md.
//!
//! `cargo run -p drctl-tests --bin latency_model`

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use drctl_blueprint::{Blueprint, EnvSettings, PLACEHOLDER_ACCOUNT, Role, Zones, latency};
use drctl_core::executor::DEFAULT_PARALLELISM;
use drctl_core::planner::{plan_apply, plan_destroy};
use drctl_core::simulate::{Simulation, TimedProvider, VirtualClock, simulate};
use drctl_core::{Address, DesiredGraph, Providers, ResourceChange, State};

const ENV: &str = "dev";

fn providers(clock: &VirtualClock) -> Providers {
    let model = Arc::new(latency::Model::new(drctl_aws::schemas()));
    let mut providers = Providers::new();
    for schema in drctl_aws::schemas().0.into_values() {
        let model = Arc::clone(&model);
        providers.register(Arc::new(TimedProvider::new(
            schema,
            Arc::new(move |a: &Address, op, now| {
                model
                    .duration(a, op, now)
                    .expect("every schema has its row")
            }),
            clock.clone(),
        )));
    }
    providers
}

fn desired() -> DesiredGraph {
    let settings = EnvSettings::defaults(ENV);
    let blueprint = Blueprint {
        env: ENV,
        settings: &settings,
        account_id: PLACEHOLDER_ACCOUNT,
        weighted: Role::Primary,
        zones: Zones::placeholders(&settings),
    };
    let graph = DesiredGraph::new(blueprint.resources()).expect("the blueprint builds");
    graph
        .check_schemas(&drctl_aws::schemas())
        .expect("known kinds");
    graph
}

/// The seeds' stack (shared/seeds/001: `tap.py`) that would hold the
/// resource: per region VPC, Database, Lambda, API, Storage, Monitoring and
/// ParameterStore stacks, and one Route53 and one Failover stack. What the
/// seeds lack goes with its concern: the customer keys in a Kms stack per
/// region (as seed 002's KmsStack), Secrets Manager with the database, the
/// failover function and roles with the failover, the health monitor's
/// function with the monitoring it feeds, containers in a stack per region,
/// AWS Backup in one stack for both regions (as seed 002's BackupStack),
/// and in stacks of their own the VPC peering (its routes need both VPCs)
/// and the hosted zone, its delegation in the parent zone, the certificates
/// and their DNS validation (Certificates: the APIs need them, and the
/// Route53 stack the APIs).
fn stack(address: &Address, region_role: &str) -> String {
    let kind = address.kind();
    let name = address.name();
    let global = |s: &str| s.to_owned();
    if kind.starts_with("ec2.vpc_peering") || name.ends_with("-peer") {
        return global("Peering");
    }
    if kind.starts_with("acm.")
        || kind == "route53.hosted_zone"
        || kind == "route53.delegation"
        || kind == "route53.existing_zone"
        || (kind == "route53.record" && name.ends_with("certificate-validation"))
    {
        return global("Certificates");
    }
    if kind.starts_with("route53.") {
        return global("Route53");
    }
    if kind.starts_with("sfn.") || name.starts_with("failover") {
        return global("Failover");
    }
    // Seed 002's one BackupStack holds both regions' vaults and the plan
    // copying between them: per-region stacks would depend on each other.
    if kind.starts_with("backup.") || (kind == "iam.role" && name == "backup") {
        return global("Backup");
    }
    let concern = match kind.split('.').next().unwrap_or_default() {
        "ec2" => "VPC",
        "kms" => "Kms",
        "rds" | "dynamodb" | "secretsmanager" => "Database",
        "lambda" if name.contains("monitor") => "Monitoring",
        // As CDK's LambdaRestApi grants: the permission names the API.
        "lambda" if kind == "lambda.permission" => "API",
        "iam" if name.contains("monitor") || name.contains("probe") => "Monitoring",
        "iam" if name.contains("replication") => "Storage",
        "iam" if name.contains("task") || name.contains("ecs") => "Containers",
        "lambda" | "iam" => "Lambda",
        "apigateway" => "API",
        "s3" => "Storage",
        "cloudwatch" | "sns" | "events" => "Monitoring",
        "ssm" => "ParameterStore",
        "ecs" | "elbv2" => "Containers",
        other => panic!("no seed stack for `{other}`"),
    };
    format!("{}{concern}", capitalise(region_role))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The stack dependencies `tap.py` declares with `add_dependency`.
const SEED_EDGES: &[(&str, &str)] = &[
    ("PrimaryDatabase", "PrimaryVPC"),
    ("PrimaryLambda", "PrimaryVPC"),
    ("PrimaryAPI", "PrimaryLambda"),
    ("SecondaryDatabase", "SecondaryVPC"),
    ("SecondaryDatabase", "PrimaryDatabase"),
    ("SecondaryLambda", "SecondaryVPC"),
    ("SecondaryAPI", "SecondaryLambda"),
    ("PrimaryStorage", "SecondaryStorage"),
    ("Route53", "PrimaryAPI"),
    ("Route53", "SecondaryAPI"),
    ("PrimaryMonitoring", "PrimaryDatabase"),
    ("PrimaryMonitoring", "PrimaryLambda"),
    ("PrimaryMonitoring", "PrimaryAPI"),
    ("SecondaryMonitoring", "SecondaryDatabase"),
    ("SecondaryMonitoring", "SecondaryLambda"),
    ("SecondaryMonitoring", "SecondaryAPI"),
    ("PrimaryParameterStore", "PrimaryDatabase"),
    ("PrimaryParameterStore", "PrimaryAPI"),
    ("SecondaryParameterStore", "SecondaryDatabase"),
    ("SecondaryParameterStore", "SecondaryAPI"),
    ("Failover", "Route53"),
];

struct Stacks {
    of: BTreeMap<Address, String>,
    /// stack -> stacks it waits for: the seeds' edges plus those CDK adds
    /// for every cross-stack reference.
    deps: BTreeMap<String, BTreeSet<String>>,
    /// drctl's ordering-only edges the seeds cannot have (dependent,
    /// dependency), left out of the seeds' runs: see `seeds_lack`.
    dropped: BTreeSet<(Address, Address)>,
}

/// The order of a VPC function's security group after the function's role
/// (blueprint `interfaces.rs`: the role is deleted only after the group)
/// is no reference and crosses stacks both ways (the VPC stack's database
/// group names the functions' group; the functions, in the Lambda and
/// Monitoring stacks, wait for the VPC stack), so CDK cannot express it:
/// CloudFormation deletes the role with its stack, before the VPC stack's
/// group. The seeds' order is modelled without it.
fn seeds_lack(spec: &drctl_core::ResourceSpec, dependency: &Address) -> bool {
    spec.kind() == "ec2.security_group"
        && dependency.kind() == "iam.role"
        && spec.depends_on.contains(dependency)
}

fn stacks(graph: &DesiredGraph, settings: &EnvSettings) -> Stacks {
    let role_of = |region: &str| {
        if region == settings.primary_region {
            "primary"
        } else {
            "secondary"
        }
    };
    let of: BTreeMap<Address, String> = graph
        .resources()
        .map(|r| (r.address.clone(), stack(&r.address, role_of(&r.region))))
        .collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in of.values() {
        deps.entry(s.clone()).or_default();
    }
    for (a, b) in SEED_EDGES {
        deps.entry((*a).into()).or_default().insert((*b).into());
    }
    let mut dropped = BTreeSet::new();
    for r in graph.resources() {
        for d in graph.dependencies(&r.address) {
            let (from, to) = (&of[&r.address], &of[&d]);
            if from != to && seeds_lack(r, &d) {
                dropped.insert((r.address.clone(), d.clone()));
                continue;
            }
            if from != to {
                if std::env::var_os("LATENCY_MODEL_EDGES").is_some() {
                    eprintln!("{from} -> {to}: {} -> {d}", r.address);
                }
                deps.get_mut(from).unwrap().insert(to.clone());
            }
        }
    }
    // CDK refuses a cycle between stacks; so does this model.
    let mut done = BTreeSet::new();
    fn visit(
        s: &str,
        deps: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(s) {
            return;
        }
        assert!(
            !path.iter().any(|p| p == s),
            "stack cycle: {} -> {s}; map the resources that close it to another stack",
            path.join(" -> ")
        );
        path.push(s.to_owned());
        for d in &deps[s] {
            visit(d, deps, path, done);
        }
        path.pop();
        done.insert(s.to_owned());
    }
    for s in deps.keys() {
        visit(s, &deps, &mut Vec::new(), &mut done);
    }
    Stacks { of, deps, dropped }
}

impl Stacks {
    /// The stacks in an order that respects their dependencies (names
    /// break ties): the order `cdk deploy --all` deploys them one at a time.
    fn in_order(&self) -> Vec<String> {
        let mut order: Vec<String> = Vec::new();
        while order.len() < self.deps.len() {
            let next = self
                .deps
                .iter()
                .find(|(s, deps)| !order.contains(s) && deps.iter().all(|d| order.contains(d)))
                .map(|(s, _)| s.clone())
                .expect("acyclic, checked when built");
            order.push(next);
        }
        order
    }

    /// The same stacks, each also waiting for the one before it in
    /// `in_order`: one stack at a time.
    fn serialised(&self) -> Stacks {
        let mut deps = self.deps.clone();
        for pair in self.in_order().windows(2) {
            deps.get_mut(&pair[1]).unwrap().insert(pair[0].clone());
        }
        Stacks {
            of: self.of.clone(),
            deps,
            dropped: self.dropped.clone(),
        }
    }
}

/// Every resource also waits for every resource of the stacks its stack
/// depends on.
fn stack_edges(stacks: &Stacks, address: &Address) -> BTreeSet<Address> {
    let wanted = &stacks.deps[&stacks.of[address]];
    stacks
        .of
        .iter()
        .filter(|(_, s)| wanted.contains(*s))
        .map(|(a, _)| a.clone())
        .collect()
}

fn mins(d: Duration) -> String {
    format!("{:.1} min", d.as_secs_f64() / 60.0)
}

fn clock_time(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

fn run(changes: &[ResourceChange], state: State, parallelism: usize) -> Simulation {
    let clock = VirtualClock::default();
    let sim = simulate(providers(&clock), &clock, changes, state, parallelism)
        .expect("a modelled run saves nothing and cannot fail to");
    assert!(
        sim.report.is_success(),
        "modelled run incomplete: {}",
        sim.report.summary()
    );
    sim
}

fn row(label: &str, sim: &Simulation, bound: Duration) {
    println!(
        "| {label} | {} | {} | {:.2} |",
        mins(sim.wall),
        mins(sim.critical),
        sim.wall.as_secs_f64() / bound.as_secs_f64()
    );
}

fn chain(title: &str, sim: &Simulation) {
    println!("\n{title} ({}):\n", mins(sim.critical));
    println!("| starts | takes | operation |");
    println!("|---|---|---|");
    for t in &sim.chain {
        println!(
            "| {} | {} | {:?} `{}` |",
            clock_time(t.start),
            clock_time(t.duration()),
            t.kind,
            t.address
        );
    }
}

/// Operations of a minute or more: when each started and what it waited
/// for last (what a shorter chain in front of it would have to remove).
fn long_operations(title: &str, sim: &Simulation, changes: &[ResourceChange]) {
    println!("\n{title}:\n");
    println!("| operation | takes | starts | released by (finished last of what it waits for) |");
    println!("|---|---|---|---|");
    let end: BTreeMap<&Address, Duration> =
        sim.timings.iter().map(|t| (&t.address, t.end)).collect();
    let mut long: Vec<_> = sim
        .timings
        .iter()
        .filter(|t| t.duration() >= Duration::from_secs(60))
        .collect();
    long.sort_by_key(|t| (t.start, t.address.clone()));
    for t in long {
        let deps = changes
            .iter()
            .find(|c| c.address == t.address)
            .map(|c| c.depends_on.clone())
            .unwrap_or_default();
        let last = deps
            .iter()
            .filter_map(|d| end.get(d).map(|e| (*e, d)))
            .filter(|(e, _)| *e <= t.start)
            .max();
        println!(
            "| {:?} `{}` | {} | {} | {} |",
            t.kind,
            t.address,
            clock_time(t.duration()),
            clock_time(t.start),
            last.map_or("nothing (starts at once)".to_owned(), |(e, d)| format!(
                "`{d}` at {}",
                clock_time(e)
            ))
        );
    }
}

/// The operations off the critical path that finish last: how close the
/// next chains come.
fn runners_up(sim: &Simulation) {
    let on_chain: BTreeSet<&Address> = sim.chain.iter().map(|t| &t.address).collect();
    let mut rest: Vec<_> = sim
        .timings
        .iter()
        .filter(|t| !on_chain.contains(&t.address))
        .collect();
    rest.sort_by_key(|t| std::cmp::Reverse((t.end, t.address.clone())));
    let listed: Vec<String> = rest
        .iter()
        .take(5)
        .map(|t| format!("`{}` at {}", t.address, clock_time(t.end)))
        .collect();
    println!(
        "\nFinishing last off the critical path: {}.",
        listed.join(", ")
    );
}

fn main() {
    let settings = EnvSettings::defaults(ENV);
    let graph = desired();
    let schemas = drctl_aws::schemas();
    let stacks = stacks(&graph, &settings);

    // Apply.
    let changes = plan_apply(&graph, &State::new(ENV), &schemas);
    let drctl = run(&changes, State::new(ENV), DEFAULT_PARALLELISM);
    let walk10 = run(&changes, State::new(ENV), 10);
    let staged = |stacks: &Stacks| {
        let mut staged = changes.clone();
        for c in &mut staged {
            c.depends_on
                .retain(|d| !stacks.dropped.contains(&(c.address.clone(), d.clone())));
            c.depends_on.extend(stack_edges(stacks, &c.address));
        }
        run(&staged, State::new(ENV), usize::MAX)
    };
    let serial = stacks.serialised();
    let seeds = staged(&stacks);
    let seeds_serial = staged(&serial);

    // Destroy, from the state the apply left.
    let destroy = plan_destroy(&drctl.state, &schemas);
    let d_drctl = run(&destroy, drctl.state.clone(), DEFAULT_PARALLELISM);
    let d_walk10 = run(&destroy, drctl.state.clone(), 10);
    // A stack is deleted once every stack depending on it is gone.
    let staged_destroy = |stacks: &Stacks| {
        let mut state = drctl.state.clone();
        for (a, r) in &mut state.resources {
            r.dependencies
                .retain(|d| !stacks.dropped.contains(&(a.clone(), d.clone())));
            r.dependencies.extend(stack_edges(stacks, a));
        }
        let changes = plan_destroy(&state, &schemas);
        run(&changes, state, usize::MAX)
    };
    let d_seeds = staged_destroy(&stacks);
    let d_seeds_serial = staged_destroy(&serial);

    println!(
        "Full blueprint, `dev` defaults: {} resources in {} seed stacks; \
         modelled times of real AWS (virtual clock).\n",
        graph.len(),
        stacks.deps.len()
    );
    println!("| apply | modelled wall | critical path | wall / drctl's critical path |");
    println!("|---|---|---|---|");
    row(
        &format!("drctl, parallelism {DEFAULT_PARALLELISM}"),
        &drctl,
        drctl.critical,
    );
    row(
        "drctl, parallelism 10 (Terraform's walk)",
        &walk10,
        drctl.critical,
    );
    row(
        "seeds' stack order, independent stacks at once (nested stacks)",
        &seeds,
        drctl.critical,
    );
    row(
        "seeds' stack order, one stack at a time (`cdk deploy --all`)",
        &seeds_serial,
        drctl.critical,
    );
    println!(
        "\ndrctl over the seeds' order: {:.2}x faster (stacks at once), {:.2}x (one at a time); \
         parallelism 64 over 10: {:.2}x.",
        seeds.wall.as_secs_f64() / drctl.wall.as_secs_f64(),
        seeds_serial.wall.as_secs_f64() / drctl.wall.as_secs_f64(),
        walk10.wall.as_secs_f64() / drctl.wall.as_secs_f64()
    );
    chain("Apply critical path", &drctl);
    runners_up(&drctl);
    long_operations("Long apply operations", &drctl, &changes);

    println!("\n| destroy | modelled wall | critical path | wall / drctl's critical path |");
    println!("|---|---|---|---|");
    row(
        &format!("drctl, parallelism {DEFAULT_PARALLELISM}"),
        &d_drctl,
        d_drctl.critical,
    );
    row(
        "drctl, parallelism 10 (Terraform's walk)",
        &d_walk10,
        d_drctl.critical,
    );
    row(
        "seeds' stack order, independent stacks at once (nested stacks)",
        &d_seeds,
        d_drctl.critical,
    );
    row(
        "seeds' stack order, one stack at a time (`cdk destroy --all`)",
        &d_seeds_serial,
        d_drctl.critical,
    );
    println!(
        "\ndrctl over the seeds' order: {:.2}x faster (stacks at once), {:.2}x (one at a time); \
         parallelism 64 over 10: {:.2}x.",
        d_seeds.wall.as_secs_f64() / d_drctl.wall.as_secs_f64(),
        d_seeds_serial.wall.as_secs_f64() / d_drctl.wall.as_secs_f64(),
        d_walk10.wall.as_secs_f64() / d_drctl.wall.as_secs_f64()
    );
    chain("Destroy critical path", &d_drctl);
    runners_up(&d_drctl);

    println!(
        "\nThe model (seconds; each kind's `latency` row, in its file in crates/drctl-aws):\n"
    );
    println!("| kind | create | update | delete | basis |");
    println!("|---|---|---|---|---|");
    for (kind, s) in drctl_aws::schemas().0 {
        let l = s.latency;
        println!(
            "| `{kind}` | {} | {} | {} | {} |",
            l.create, l.update, l.delete, l.basis
        );
    }
    println!(
        "\nPlus: the functions' security group and private subnets are deleted no sooner \
         than {} s after the last of their region's functions (`FUNCTION_ENI_RELEASE`).",
        latency::FUNCTION_ENI_RELEASE
    );

    println!("\nSeed stacks as modelled (apply, seeds' order):\n");
    println!(
        "| stack | resources | waits for | done at (stacks at once) | one at a time: position |"
    );
    println!("|---|---|---|---|---|");
    let order = stacks.in_order();
    for (s, deps) in &stacks.deps {
        let members: Vec<&Address> = stacks
            .of
            .iter()
            .filter(|(_, x)| *x == s)
            .map(|(a, _)| a)
            .collect();
        let done = seeds
            .timings
            .iter()
            .filter(|t| members.contains(&&t.address))
            .map(|t| t.end)
            .max()
            .unwrap_or_default();
        println!(
            "| {s} | {} | {} | {} | {} |",
            members.len(),
            deps.iter().cloned().collect::<Vec<_>>().join(", "),
            clock_time(done),
            order.iter().position(|o| o == s).expect("every stack") + 1
        );
    }
}
