//! drctl.toml: `[env.NAME]` tables, validated completely before any API
//! call. Every error names the file and the key and says what to do.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use thiserror::Error;

/// Regions drctl accepts: the commercial AWS regions.
pub const KNOWN_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "ca-west-1",
    "sa-east-1",
    "mx-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ap-east-1",
    "me-south-1",
    "me-central-1",
    "il-central-1",
    "af-south-1",
];

/// The settings of one environment, defaults applied. Serialised (field
/// names, not drctl.toml keys) for the digest a saved plan carries.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EnvSettings {
    pub primary_region: String,
    pub secondary_region: String,
    pub primary_cidr: Ipv4Net,
    pub secondary_cidr: Ipv4Net,
    pub domain: String,
    /// A public hosted zone of `domain` the account already has, used
    /// instead of one drctl creates: drctl adds its records to it and
    /// removes them on destroy, but never deletes the zone, and leaves its
    /// delegation to the user (docs/operations.md, "DNS delegation").
    pub hosted_zone_id: Option<String>,
    pub alarm_email: Option<String>,
    pub db_instance_class: String,
    /// The Aurora PostgreSQL version of the global database ("14.9"). A
    /// later one upgrades it in place (ModifyGlobalCluster); an earlier
    /// one is refused, as Aurora cannot downgrade.
    pub engine_version: String,
    /// `true`: destroying the database (with `--allow-data-loss`) takes no
    /// final snapshot. By default each Aurora cluster's delete leaves a
    /// snapshot `<cluster>-final-<creation time>`, named in the plan.
    pub skip_final_snapshot: bool,
    /// Written to the `feature-flags` SSM parameter of each region.
    pub feature_flags: BTreeMap<String, bool>,
    /// Marks a production environment: `drctl drill` refuses it.
    pub production: bool,
    /// `false` leaves out the Aurora global database, the DynamoDB session
    /// table, the Lambda functions and everything that exists only for
    /// them (for an emulator without those services, such as LocalStack's
    /// community edition offline).
    pub databases_and_functions: bool,
    /// A planned failover or failback refuses while the target cluster's
    /// Aurora global replication lag (`AuroraGlobalDBRPOLag`) is above
    /// this many seconds.
    pub max_replication_lag_seconds: u64,
    /// When AWS Backup backs up each region's database and table and
    /// copies them to the other region: a six-field `cron(...)` in UTC, at
    /// most hourly; daily by default. With the two retentions it is held to
    /// at most 100 Aurora snapshots per region (docs/resources.md, "AWS
    /// Backup"). Point-in-time recovery in the region is Aurora's and
    /// DynamoDB's own, not this schedule's.
    pub backup_schedule: String,
    /// Days each region's recovery points are kept in its own vault.
    pub backup_retention_days: u32,
    /// Days the copies in the other region's vault are kept.
    pub backup_copy_retention_days: u32,
    /// The container tier and its settings.
    pub containers: Containers,
}

/// The container tier of each region: an ECS Fargate service behind an
/// internet-facing application load balancer.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Containers {
    /// `false` leaves the tier out (for an emulator without ECS and
    /// ELBv2, such as LocalStack's community edition).
    pub enabled: bool,
    /// The image the service runs; it must serve HTTP on `port`.
    pub image: String,
    pub port: u16,
    /// Task CPU units and memory (MiB): one of Fargate's combinations.
    pub cpu: u32,
    pub memory: u32,
    pub desired_count: u32,
    /// The path the target group's health check requests; the image must
    /// answer it with 200.
    pub health_check_path: String,
}

impl Default for Containers {
    fn default() -> Self {
        Self {
            enabled: true,
            // nginx's official image on ECR Public: it serves `/` with 200
            // on port 80, and ECR Public is reachable without a Docker Hub
            // rate limit.
            image: "public.ecr.aws/nginx/nginx:stable".into(),
            port: 80,
            cpu: 256,
            memory: 512,
            desired_count: 2,
            health_check_path: "/".into(),
        }
    }
}

/// Task CPU units with the memory (MiB) Fargate runs them with, on Linux
/// (ECS Developer Guide, "Amazon ECS task definition parameters for
/// Fargate", Task size): `(cpu, first, last, step)`; 256 takes 512, 1024
/// or 2048.
const FARGATE_SIZES: [(u32, u32, u32, u32); 7] = [
    (256, 512, 2048, 512),
    (512, 1024, 4096, 1024),
    (1024, 2048, 8192, 1024),
    (2048, 4096, 16384, 1024),
    (4096, 8192, 30720, 1024),
    (8192, 16384, 61440, 4096),
    (16384, 32768, 122880, 8192),
];

/// Whether Fargate runs a task of `cpu` units with `memory` MiB.
pub fn fargate_size(cpu: u32, memory: u32) -> bool {
    FARGATE_SIZES.iter().any(|&(c, first, last, step)| {
        c == cpu
            && (first..=last).contains(&memory)
            && (memory - first).is_multiple_of(step)
            && !(c == 256 && memory == 1536)
    })
}

/// Fargate's sizes, for an error message.
fn fargate_sizes_text() -> String {
    FARGATE_SIZES
        .iter()
        .map(|&(c, first, last, step)| {
            if c == 256 {
                "256 with 512, 1024 or 2048".to_owned()
            } else {
                format!("{c} with {first} to {last} in steps of {step}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Application load balancer and target group names: at most 32
/// characters (ELB API Reference, CreateLoadBalancer, CreateTargetGroup).
pub const ELB_NAME_MAX: usize = 32;

/// The container tier's load balancer name in `role`'s region:
/// `payment-<env>-pri` / `-sec`.
pub fn load_balancer_name(env: &str, role: crate::Role) -> String {
    format!("payment-{env}-{}", &role.as_str()[..3])
}

/// Its target group's name: `payment-<env>-pri-tg` / `-sec-tg`.
pub fn target_group_name(env: &str, role: crate::Role) -> String {
    format!("{}-tg", load_balancer_name(env, role))
}

impl EnvSettings {
    /// Every setting (defaults applied) by its drctl.toml key, e.g.
    /// `container_image`, `feature_flags.NAME`: what a saved plan's digest
    /// binds it to, key by key, so that a refusal names the keys.
    pub fn by_key(&self) -> BTreeMap<String, serde_json::Value> {
        fn flatten(
            key: String,
            v: &serde_json::Value,
            out: &mut BTreeMap<String, serde_json::Value>,
        ) {
            match v {
                serde_json::Value::Object(members) => {
                    for (k, v) in members {
                        flatten(format!("{key}.{k}"), v, out);
                    }
                }
                _ => {
                    out.insert(key, v.clone());
                }
            }
        }
        let doc = serde_json::to_value(self).expect("settings serialise");
        let mut out = BTreeMap::new();
        for (k, v) in doc.as_object().expect("a struct") {
            match (k.as_str(), v) {
                // `containers = false`, `container_image = ...`.
                ("containers", serde_json::Value::Object(members)) => {
                    for (field, v) in members {
                        let key = if field == "enabled" {
                            "containers".to_owned()
                        } else {
                            format!("container_{field}")
                        };
                        flatten(key, v, &mut out);
                    }
                }
                _ => flatten(k.clone(), v, &mut out),
            }
        }
        out
    }

    pub fn defaults(env: &str) -> Self {
        Self {
            primary_region: "us-east-1".into(),
            secondary_region: "us-east-2".into(),
            primary_cidr: "10.0.0.0/16".parse().expect("valid"),
            secondary_cidr: "10.1.0.0/16".parse().expect("valid"),
            domain: format!("payment-{env}.example.com"),
            hosted_zone_id: None,
            alarm_email: None,
            db_instance_class: "db.r6g.large".into(),
            engine_version: "14.9".into(),
            skip_final_snapshot: false,
            feature_flags: BTreeMap::from([("new_payment_flow".into(), false)]),
            production: false,
            databases_and_functions: true,
            // Aurora replicates across regions typically in under a
            // second (Aurora User Guide, "Using Amazon Aurora global
            // databases"); a minute behind means replication is impaired,
            // and a switchover, which blocks writes until the target has
            // caught up, would keep them blocked about that long.
            max_replication_lag_seconds: 60,
            // Daily at 05:00 UTC, after the clusters' backup window
            // (03:00-04:00): 7 snapshots in the region's vault and 14 of
            // the other region's copies, 21 Aurora snapshots per region.
            // Hourly kept 504, each copy a full one, and one backup or
            // copy job per resource at a time (docs/resources.md).
            backup_schedule: "cron(0 5 ? * * *)".into(),
            backup_retention_days: 7,
            backup_copy_retention_days: 14,
            containers: Containers::default(),
        }
    }

    /// The VPC CIDR block of `role`'s region.
    pub fn cidr(&self, role: crate::Role) -> Ipv4Net {
        match role {
            crate::Role::Primary => self.primary_cidr,
            crate::Role::Secondary => self.secondary_cidr,
        }
    }
}

/// The first block of `prefix_len` that starts after both `ranges` end: a
/// range clear of both, to suggest.
fn block_after(ranges: [Ipv4Net; 2], prefix_len: u8) -> Option<Ipv4Net> {
    let end = ranges.iter().map(|r| u32::from(r.broadcast())).max()?;
    let size = 1u64 << (32 - u32::from(prefix_len));
    let start = (u64::from(end) + 1).div_ceil(size) * size;
    Ipv4Net::new(u32::try_from(start).ok()?.into(), prefix_len).ok()
}

/// A parsed and validated drctl.toml.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub envs: BTreeMap<String, EnvSettings>,
    /// The `[backend]` table: a shared state backend; local when absent.
    pub backend: Option<crate::backend::BackendSettings>,
}

#[derive(Debug, Error, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// Dotted key, e.g. `env.dev.primary_cidr`; empty for file-level errors.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: `{}`: {}",
                self.file.display(),
                self.key,
                self.message
            )
        }
    }
}

const ENV_KEYS: &[&str] = &[
    "primary_region",
    "secondary_region",
    "primary_cidr",
    "secondary_cidr",
    "domain",
    "hosted_zone_id",
    "alarm_email",
    "db_instance_class",
    "engine_version",
    "skip_final_snapshot",
    "feature_flags",
    "production",
    "databases_and_functions",
    "max_replication_lag_seconds",
    "containers",
    "container_image",
    "container_port",
    "container_cpu",
    "container_memory",
    "container_desired_count",
    "container_health_check_path",
    "backup_schedule",
    "backup_retention_days",
    "backup_copy_retention_days",
];

/// Why `expression` is not a schedule an AWS Backup rule takes, if it is
/// not: the rule's `ScheduleExpression` is "a cron expression in UTC"
/// (AWS Backup API Reference, BackupRuleInput), EventBridge's six fields
/// with one of day-of-month and day-of-week `?`; AWS refuses backups less
/// than 60 minutes apart, which one minute of the hour guarantees.
fn backup_schedule_error(expression: &str) -> Option<String> {
    if expression.starts_with("rate(") {
        return Some(
            "is a rate expression, and an AWS Backup rule takes only cron(...): hourly is \"cron(0 * ? * * *)\", every 4 hours \"cron(0 */4 ? * * *)\", daily at 05:00 UTC \"cron(0 5 ? * * *)\"".into(),
        );
    }
    let Some(body) = expression
        .strip_prefix("cron(")
        .and_then(|r| r.strip_suffix(')'))
    else {
        return Some(
            "is not a cron expression like \"cron(0 5 ? * * *)\" (daily at 05:00 UTC)".into(),
        );
    };
    let fields: Vec<&str> = body.split(' ').collect();
    if fields.len() != 6 || fields.iter().any(|f| f.is_empty()) {
        return Some(format!(
            "has {} fields; AWS cron takes six, minutes hours day-of-month month day-of-week year, like \"cron(0 5 ? * * *)\"",
            fields.len()
        ));
    }
    if !fields[0].parse::<u8>().is_ok_and(|m| m < 60) {
        return Some(format!(
            "runs at minutes `{}`: give one minute of the hour (0 to 59), since AWS Backup refuses backups less than 60 minutes apart",
            fields[0]
        ));
    }
    if !crate::backup::hours_field_valid(fields[1]) {
        return Some(format!(
            "runs at hours `{}`: give hours of the day from 0 to 23 (UTC), like `*` (every hour), `5`, `5,17`, `*/4` or `8-17`",
            fields[1]
        ));
    }
    if fields[2] != "?" && fields[4] != "?" {
        return Some(
            "gives both a day of the month and a day of the week: set one of them to `?`".into(),
        );
    }
    None
}

/// Refuses backup settings that would keep more Aurora snapshots in a
/// region than RDS's quota of manual DB cluster snapshots: each region
/// keeps its own over `backup_retention_days` and the other region's
/// copies over `backup_copy_retention_days`, on the same schedule. The
/// error names the key the file set (the schedule first).
fn backup_count_error(
    ctx: &Ctx,
    env: &str,
    t: &toml::Table,
    s: &EnvSettings,
) -> Option<ConfigError> {
    let (own, copies) = crate::backup::aurora_snapshots_per_region(
        &s.backup_schedule,
        s.backup_retention_days,
        s.backup_copy_retention_days,
    );
    let quota = crate::backup::AURORA_SNAPSHOTS_PER_REGION;
    if own + copies <= quota {
        return None;
    }
    let key = [
        "backup_schedule",
        "backup_copy_retention_days",
        "backup_retention_days",
    ]
    .into_iter()
    .find(|k| t.contains_key(*k))
    .unwrap_or("backup_schedule");
    Some(ctx.err(
        format!("env.{env}.{key}"),
        format!(
            "each region would keep up to {} Aurora snapshots: {own} of its own (`{}` over `backup_retention_days` = {} days) and {copies} copies of the other region's (over `backup_copy_retention_days` = {} days), and drctl keeps them within RDS's quota of {quota} manual DB cluster snapshots per region (docs/resources.md, \"AWS Backup\"): back up less often (daily at 05:00 UTC is \"cron(0 5 ? * * *)\") or keep the snapshots fewer days",
            own + copies,
            s.backup_schedule,
            s.backup_retention_days,
            s.backup_copy_retention_days,
        ),
    ))
}

struct Ctx<'a> {
    file: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            key: key.into(),
            message: message.into(),
        }
    }
}

fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    let best = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, c)) => format!("; did you mean `{c}`?"),
        None => format!("; known keys: {}", candidates.join(", ")),
    }
}

fn type_name(v: &toml::Value) -> &'static str {
    v.type_str()
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            key: String::new(),
            message: format!("cannot read it ({e}); create it or pass --config FILE"),
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let ctx = Ctx { file: path };
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ctx.err("", format!("invalid TOML: {}", e.to_string().trim_end()))
        })?;
        for key in table.keys() {
            if key != "env" && key != "backend" {
                return Err(ctx.err(
                    key.clone(),
                    format!("unknown key{}", did_you_mean(key, &["env", "backend"])),
                ));
            }
        }
        let backend = match table.get("backend") {
            Some(v) => Some(parse_backend(&ctx, v)?),
            None => None,
        };
        let mut envs = BTreeMap::new();
        if let Some(env_value) = table.get("env") {
            let env_table = env_value.as_table().ok_or_else(|| {
                ctx.err(
                    "env",
                    format!(
                        "expected tables `[env.NAME]`, found {}",
                        type_name(env_value)
                    ),
                )
            })?;
            for (name, value) in env_table {
                let key = format!("env.{name}");
                validate_env_name(&ctx, &key, name)?;
                let t = value.as_table().ok_or_else(|| {
                    ctx.err(
                        &key,
                        format!("expected a table `[{key}]`, found {}", type_name(value)),
                    )
                })?;
                envs.insert(name.clone(), parse_env(&ctx, name, t)?);
            }
        }
        Ok(Config {
            path: path.to_owned(),
            envs,
            backend,
        })
    }

    /// The settings of `env`, or an error listing the defined ones.
    pub fn env(&self, env: &str) -> Result<&EnvSettings, ConfigError> {
        self.envs.get(env).ok_or_else(|| {
            let known: Vec<&str> = self.envs.keys().map(String::as_str).collect();
            ConfigError {
                file: self.path.clone(),
                key: format!("env.{env}"),
                message: if known.is_empty() {
                    format!("no environment `{env}` is defined; add a `[env.{env}]` table")
                } else {
                    format!(
                        "no environment `{env}` is defined (defined: {}); add a `[env.{env}]` table or pick one of those",
                        known.join(", ")
                    )
                },
            }
        })
    }
}

fn validate_env_name(ctx: &Ctx, key: &str, name: &str) -> Result<(), ConfigError> {
    let ok = (1..=20).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ctx.err(
            key,
            "environment names are 1-20 characters of a-z, 0-9 and `-`, starting with a letter and not ending with `-` (they become part of S3 bucket and resource names)",
        ))
    }
}

fn get_str<'a>(
    ctx: &Ctx,
    key: &str,
    v: &'a toml::Value,
    example: &str,
) -> Result<&'a str, ConfigError> {
    v.as_str().ok_or_else(|| {
        ctx.err(
            key,
            format!(
                "expected a string like \"{example}\", found {}",
                type_name(v)
            ),
        )
    })
}

fn parse_backend(
    ctx: &Ctx,
    v: &toml::Value,
) -> Result<crate::backend::BackendSettings, ConfigError> {
    use crate::backend::{BACKEND_KEYS, BackendSettings, parse_s3_url};
    let t = v.as_table().ok_or_else(|| {
        ctx.err(
            "backend",
            format!(
                "expected a table `[backend]` with `url = \"s3://BUCKET/PREFIX\"`, found {}",
                type_name(v)
            ),
        )
    })?;
    let mut url = None;
    let mut region = None;
    let mut replica_url = None;
    let mut replica_region = None;
    for (k, v) in t {
        let key = format!("backend.{k}");
        match k.as_str() {
            "url" => {
                let text = get_str(ctx, &key, v, "s3://my-team-drctl-state/payments")?;
                url = Some(parse_s3_url(text).map_err(|m| ctx.err(&key, m))?);
            }
            "replica_url" => {
                let text = get_str(ctx, &key, v, "s3://my-team-drctl-state-east-2/payments")?;
                replica_url = Some(parse_s3_url(text).map_err(|m| ctx.err(&key, m))?);
            }
            "replica_region" => {
                let r = get_str(ctx, &key, v, "us-east-2")?;
                if !KNOWN_REGIONS.contains(&r) {
                    return Err(ctx.err(
                        &key,
                        format!("unknown AWS region `{r}`{}", did_you_mean(r, KNOWN_REGIONS)),
                    ));
                }
                replica_region = Some(r.to_owned());
            }
            "region" => {
                let r = get_str(ctx, &key, v, "us-east-1")?;
                if !KNOWN_REGIONS.contains(&r) {
                    return Err(ctx.err(
                        &key,
                        format!("unknown AWS region `{r}`{}", did_you_mean(r, KNOWN_REGIONS)),
                    ));
                }
                region = Some(r.to_owned());
            }
            _ => {
                return Err(ctx.err(
                    &key,
                    format!("unknown key{}", did_you_mean(k, BACKEND_KEYS)),
                ));
            }
        }
    }
    let url = url.ok_or_else(|| {
        ctx.err(
            "backend.url",
            "missing; add `url = \"s3://BUCKET/PREFIX\"` to `[backend]`, or remove the table to keep state local",
        )
    })?;
    if replica_region.is_some() && replica_url.is_none() {
        return Err(ctx.err(
            "backend.replica_region",
            "is set but `replica_url` is not; add `replica_url = \"s3://BUCKET/PREFIX\"` (a bucket in the environment's other region), or remove `replica_region`",
        ));
    }
    if replica_url.as_ref() == Some(&url) {
        return Err(ctx.err(
            "backend.replica_url",
            format!("is `url` itself ({url}); a replica must be another bucket, in the environment's other region"),
        ));
    }
    Ok(BackendSettings {
        url,
        region,
        replica_url,
        replica_region,
    })
}

/// An integer's value, or the TOML type of anything else, for errors.
fn integer_or_type(v: &toml::Value) -> String {
    if v.is_integer() {
        v.to_string()
    } else {
        type_name(v).to_owned()
    }
}

fn parse_env(ctx: &Ctx, env: &str, t: &toml::Table) -> Result<EnvSettings, ConfigError> {
    let mut s = EnvSettings::defaults(env);
    for (k, v) in t {
        let key = format!("env.{env}.{k}");
        match k.as_str() {
            "primary_region" | "secondary_region" => {
                let region = get_str(ctx, &key, v, "us-east-1")?;
                if !KNOWN_REGIONS.contains(&region) {
                    return Err(ctx.err(
                        &key,
                        format!(
                            "unknown AWS region `{region}`{}",
                            did_you_mean(region, KNOWN_REGIONS)
                        ),
                    ));
                }
                if k == "primary_region" {
                    s.primary_region = region.to_owned();
                } else {
                    s.secondary_region = region.to_owned();
                }
            }
            "primary_cidr" | "secondary_cidr" => {
                let text = get_str(ctx, &key, v, "10.0.0.0/16")?;
                let net: Ipv4Net = text.parse().map_err(|_| {
                    ctx.err(
                        &key,
                        format!("`{text}` is not an IPv4 CIDR block like \"10.0.0.0/16\""),
                    )
                })?;
                if net.trunc() != net {
                    return Err(ctx.err(
                        &key,
                        format!(
                            "`{text}` has host bits set; the network is `{}`",
                            net.trunc()
                        ),
                    ));
                }
                if !(16..=20).contains(&net.prefix_len()) {
                    return Err(ctx.err(
                        &key,
                        format!(
                            "`{text}` must have a prefix length between /16 (the largest VPC) and /20 (room for the 9 /24 subnets)"
                        ),
                    ));
                }
                if k == "primary_cidr" {
                    s.primary_cidr = net;
                } else {
                    s.secondary_cidr = net;
                }
            }
            "domain" => {
                let d = get_str(ctx, &key, v, "payment-dev.example.com")?;
                let valid = d.len() <= 253
                    && d.contains('.')
                    && d.split('.').all(|l| {
                        (1..=63).contains(&l.len())
                            && !l.starts_with('-')
                            && !l.ends_with('-')
                            && l.chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    });
                if !valid {
                    return Err(ctx.err(
                        &key,
                        format!(
                            "`{d}` is not a lowercase DNS domain like \"payment-dev.example.com\""
                        ),
                    ));
                }
                s.domain = d.to_owned();
            }
            "hosted_zone_id" => {
                let given = get_str(ctx, &key, v, "Z0123456789ABCDEFGHIJ")?;
                // Route 53 zone ids: up to 32 upper-case letters and digits
                // (API Reference, HostedZone `Id`, after `/hostedzone/`).
                let id = given.strip_prefix("/hostedzone/").unwrap_or(given);
                let valid = (1..=32).contains(&id.len())
                    && id
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
                if !valid {
                    return Err(ctx.err(
                        &key,
                        format!(
                            "`{given}` is not a Route 53 hosted zone id like \"Z0123456789ABCDEFGHIJ\" (`aws route53 list-hosted-zones-by-name --dns-name DOMAIN` shows it after /hostedzone/)"
                        ),
                    ));
                }
                s.hosted_zone_id = Some(id.to_owned());
            }
            "alarm_email" => {
                let e = get_str(ctx, &key, v, "oncall@example.com")?;
                let valid = e.split_once('@').is_some_and(|(user, host)| {
                    !user.is_empty() && host.contains('.') && !e.contains(char::is_whitespace)
                });
                if !valid {
                    return Err(ctx.err(&key, format!("`{e}` is not an e-mail address")));
                }
                s.alarm_email = Some(e.to_owned());
            }
            "db_instance_class" => {
                let c = get_str(ctx, &key, v, "db.r6g.large")?;
                if !c.starts_with("db.") || c.split('.').count() != 3 {
                    return Err(ctx.err(
                        &key,
                        format!("`{c}` is not an RDS instance class like \"db.r6g.large\""),
                    ));
                }
                s.db_instance_class = c.to_owned();
            }
            "engine_version" => {
                let v = get_str(ctx, &key, v, "14.9")?;
                let parts: Vec<&str> = v.split('.').collect();
                let valid = parts.len() == 2
                    && parts.iter().all(|p| {
                        !p.is_empty() && p.len() <= 3 && p.chars().all(|c| c.is_ascii_digit())
                    });
                if !valid {
                    return Err(ctx.err(
                        &key,
                        format!(
                            "`{v}` is not an Aurora PostgreSQL version like \"14.9\" (MAJOR.MINOR; `aws rds describe-db-engine-versions --engine aurora-postgresql` lists them)"
                        ),
                    ));
                }
                s.engine_version = v.to_owned();
            }
            "skip_final_snapshot" => {
                s.skip_final_snapshot = v.as_bool().ok_or_else(|| {
                    ctx.err(
                        &key,
                        format!(
                            "expected false (a final snapshot when the database is destroyed, the default) or true (none), found {}",
                            type_name(v)
                        ),
                    )
                })?;
            }
            "feature_flags" => {
                let flags = v.as_table().ok_or_else(|| {
                    ctx.err(&key, format!("expected a table of booleans like {{ new_payment_flow = false }}, found {}", type_name(v)))
                })?;
                s.feature_flags.clear();
                for (flag, value) in flags {
                    let b = value.as_bool().ok_or_else(|| {
                        ctx.err(
                            format!("{key}.{flag}"),
                            format!("expected true or false, found {}", type_name(value)),
                        )
                    })?;
                    s.feature_flags.insert(flag.clone(), b);
                }
            }
            "production" => {
                s.production = v.as_bool().ok_or_else(|| {
                    ctx.err(
                        &key,
                        format!("expected true or false, found {}", type_name(v)),
                    )
                })?;
            }
            "databases_and_functions" => {
                s.databases_and_functions = v.as_bool().ok_or_else(|| {
                    ctx.err(
                        &key,
                        format!(
                            "expected true (the whole stack, the default) or false (without Aurora, DynamoDB and Lambda), found {}",
                            type_name(v)
                        ),
                    )
                })?;
            }
            "max_replication_lag_seconds" => {
                s.max_replication_lag_seconds = v
                    .as_integer()
                    .and_then(|n| u64::try_from(n).ok())
                    .filter(|n| (1..=3600).contains(n))
                    .ok_or_else(|| {
                        ctx.err(
                            &key,
                            format!(
                                "expected a whole number of seconds from 1 to 3600 like 60, found {}",
                                if v.is_integer() {
                                    v.to_string()
                                } else {
                                    type_name(v).to_owned()
                                }
                            ),
                        )
                    })?;
            }
            "containers" => {
                s.containers.enabled = v.as_bool().ok_or_else(|| {
                    ctx.err(
                        &key,
                        format!(
                            "expected true (an ECS Fargate service behind a load balancer per region, the default) or false (none), found {}",
                            type_name(v)
                        ),
                    )
                })?;
            }
            "container_image" => {
                let image = get_str(ctx, &key, v, "public.ecr.aws/nginx/nginx:stable")?;
                // ECS API Reference, ContainerDefinition `image`: up to 255
                // letters, digits, and - _ . : / @ characters.
                let valid = (1..=255).contains(&image.len())
                    && image.chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | '@')
                    });
                if !valid {
                    return Err(ctx.err(
                        &key,
                        format!(
                            "`{image}` is not a container image reference like \"public.ecr.aws/nginx/nginx:stable\" (up to 255 letters, digits, and - _ . : / @)"
                        ),
                    ));
                }
                s.containers.image = image.to_owned();
            }
            "container_port" => {
                s.containers.port = v
                    .as_integer()
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| {
                        ctx.err(
                            &key,
                            format!(
                                "expected the port the image serves HTTP on, from 1 to 65535, like 80, found {}",
                                integer_or_type(v)
                            ),
                        )
                    })?;
            }
            "container_cpu" | "container_memory" => {
                let n = v
                    .as_integer()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        ctx.err(
                            &key,
                            format!(
                                "expected a whole number ({}), found {}",
                                if k == "container_cpu" {
                                    "CPU units like 256"
                                } else {
                                    "MiB like 512"
                                },
                                integer_or_type(v)
                            ),
                        )
                    })?;
                if k == "container_cpu" {
                    s.containers.cpu = n;
                } else {
                    s.containers.memory = n;
                }
            }
            "container_desired_count" => {
                s.containers.desired_count = v
                    .as_integer()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| *n <= 1000)
                    .ok_or_else(|| {
                        ctx.err(
                            &key,
                            format!(
                                "expected how many tasks each region runs, from 0 to 1000, like 2, found {}",
                                integer_or_type(v)
                            ),
                        )
                    })?;
            }
            "container_health_check_path" => {
                let path = get_str(ctx, &key, v, "/health")?;
                // ELB API Reference, CreateTargetGroup `HealthCheckPath`.
                if !path.starts_with('/') || path.len() > 1024 || path.contains(char::is_whitespace)
                {
                    return Err(ctx.err(
                        &key,
                        format!(
                            "`{path}` is not a URL path like \"/health\" (starting with `/`, up to 1024 characters, no spaces)"
                        ),
                    ));
                }
                s.containers.health_check_path = path.to_owned();
            }
            "backup_schedule" => {
                let text = get_str(ctx, &key, v, "cron(0 5 ? * * *)")?;
                if let Some(why) = backup_schedule_error(text) {
                    return Err(ctx.err(&key, format!("`{text}` {why}")));
                }
                s.backup_schedule = text.to_owned();
            }
            "backup_retention_days" | "backup_copy_retention_days" => {
                // AWS Backup keeps a recovery point 1 to 36500 days (100 years).
                let days = v
                    .as_integer()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| (1..=36_500).contains(n))
                    .ok_or_else(|| {
                        ctx.err(
                            &key,
                            format!(
                                "expected a whole number of days from 1 to 36500 like {}, found {}",
                                if k == "backup_retention_days" { 7 } else { 14 },
                                if v.is_integer() {
                                    v.to_string()
                                } else {
                                    type_name(v).to_owned()
                                }
                            ),
                        )
                    })?;
                if k == "backup_retention_days" {
                    s.backup_retention_days = days;
                } else {
                    s.backup_copy_retention_days = days;
                }
            }
            other => {
                return Err(ctx.err(
                    &key,
                    format!("unknown key{}", did_you_mean(other, ENV_KEYS)),
                ));
            }
        }
    }
    if let Some(e) = backup_count_error(ctx, env, t, &s) {
        return Err(e);
    }
    if !fargate_size(s.containers.cpu, s.containers.memory) {
        let key = if t.contains_key("container_memory") || !t.contains_key("container_cpu") {
            "container_memory"
        } else {
            "container_cpu"
        };
        return Err(ctx.err(
            format!("env.{env}.{key}"),
            format!(
                "Fargate has no task size of {} CPU units with {} MiB: set `container_cpu` and `container_memory` to one of its combinations: {}",
                s.containers.cpu,
                s.containers.memory,
                fargate_sizes_text()
            ),
        ));
    }
    if s.containers.enabled {
        let longest = target_group_name(env, crate::Role::Secondary);
        if longest.len() > ELB_NAME_MAX {
            return Err(ctx.err(
                format!("env.{env}"),
                format!(
                    "with the container tier on, this environment's target group would be named `{longest}`, {} characters, and AWS allows {ELB_NAME_MAX} for load balancer and target group names: use an environment name of at most {} characters, or set `containers = false`",
                    longest.len(),
                    env.len() - (longest.len() - ELB_NAME_MAX)
                ),
            ));
        }
    }
    if s.primary_region == s.secondary_region {
        return Err(ctx.err(
            format!("env.{env}.secondary_region"),
            format!(
                "the secondary region must differ from the primary region (both are `{}`)",
                s.primary_region
            ),
        ));
    }
    // The two VPCs are peered, and AWS fails a peering request between
    // VPCs whose CIDR blocks overlap (EC2 API Reference,
    // CreateVpcPeeringConnection).
    if s.primary_cidr.contains(&s.secondary_cidr.network())
        || s.secondary_cidr.contains(&s.primary_cidr.network())
    {
        let fix = match block_after(
            [s.primary_cidr, s.secondary_cidr],
            s.secondary_cidr.prefix_len(),
        ) {
            Some(free) => format!("set `secondary_cidr` to a range outside it, such as \"{free}\""),
            None => "set `secondary_cidr` to a range outside it".to_owned(),
        };
        return Err(ctx.err(
            format!("env.{env}.secondary_cidr"),
            format!(
                "`{}` overlaps `env.{env}.primary_cidr` (`{}`), and AWS refuses to peer the two regions' VPCs when their ranges overlap: {fix}",
                s.secondary_cidr, s.primary_cidr
            ),
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("drctl.toml"), text)
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn backend_table_is_checked() {
        let c = parse("[backend]\nurl = \"s3://team-state/p\"\nregion = \"us-east-2\"\n").unwrap();
        let b = c.backend.unwrap();
        assert_eq!(b.url.to_string(), "s3://team-state/p");
        assert_eq!(b.region.as_deref(), Some("us-east-2"));
        assert_eq!(b.replica_url, None);
        let c = parse(
            "[backend]\nurl = \"s3://team-state/p\"\nreplica_url = \"s3://team-state-2/p\"\nreplica_region = \"us-east-2\"\n",
        )
        .unwrap();
        let b = c.backend.unwrap();
        assert_eq!(b.replica_url.unwrap().bucket, "team-state-2");
        assert_eq!(b.replica_region.as_deref(), Some("us-east-2"));
        assert!(parse("[env.dev]\n").unwrap().backend.is_none());
        for (text, key, says) in [
            (
                "[backend]\nurl = \"https://x\"\n",
                "backend.url",
                "not an S3 URL",
            ),
            (
                "[backend]\nurl = \"s3://ok-bucket\"\nbuckett = 1\n",
                "backend.buckett",
                "unknown key",
            ),
            (
                "[backend]\nregion = \"us-east-1\"\n",
                "backend.url",
                "missing",
            ),
            (
                "[backend]\nurl = \"s3://ok-bucket\"\nregion = \"mars-1\"\n",
                "backend.region",
                "unknown AWS region",
            ),
            ("backend = 3\n", "backend", "expected a table"),
            (
                "[backend]\nurl = \"s3://ok-bucket\"\nreplica_region = \"us-east-2\"\n",
                "backend.replica_region",
                "`replica_url` is not",
            ),
            (
                "[backend]\nurl = \"s3://ok-bucket/p\"\nreplica_url = \"s3://ok-bucket/p/\"\n",
                "backend.replica_url",
                "another bucket",
            ),
            (
                "[backend]\nurl = \"s3://ok-bucket\"\nreplica_url = \"s3://other\"\nreplica_region = \"mars-2\"\n",
                "backend.replica_region",
                "unknown AWS region",
            ),
        ] {
            let e = err(text);
            assert!(e.starts_with(&format!("drctl.toml: `{key}`: ")), "{e}");
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn defaults_apply() {
        let c = parse("[env.dev]\n").unwrap();
        let s = c.env("dev").unwrap();
        assert_eq!(s, &EnvSettings::defaults("dev"));
        assert_eq!(s.domain, "payment-dev.example.com");
        assert_eq!(s.backup_schedule, "cron(0 5 ? * * *)");
        assert_eq!(
            (s.backup_retention_days, s.backup_copy_retention_days),
            (7, 14)
        );
    }

    /// Each region keeps its own Aurora snapshots and the other region's
    /// copies: settings that would keep more than 100 in a region are
    /// refused, naming the key set and the fix; up to 100 pass.
    #[test]
    fn backup_settings_beyond_100_aurora_snapshots_per_region_are_refused() {
        assert_eq!(
            err("[env.dev]\nbackup_schedule = \"cron(0 * ? * * *)\"\n"),
            "drctl.toml: `env.dev.backup_schedule`: each region would keep up to 504 Aurora snapshots: 168 of its own (`cron(0 * ? * * *)` over `backup_retention_days` = 7 days) and 336 copies of the other region's (over `backup_copy_retention_days` = 14 days), and drctl keeps them within RDS's quota of 100 manual DB cluster snapshots per region (docs/resources.md, \"AWS Backup\"): back up less often (daily at 05:00 UTC is \"cron(0 5 ? * * *)\") or keep the snapshots fewer days"
        );
        for (text, key) in [
            (
                "backup_retention_days = 35\nbackup_copy_retention_days = 66",
                "backup_copy_retention_days",
            ),
            ("backup_retention_days = 90", "backup_retention_days"),
            (
                "backup_schedule = \"cron(0 */6 ? * * *)\"\nbackup_retention_days = 30",
                "backup_schedule",
            ),
        ] {
            let e = err(&format!("[env.dev]\n{text}\n"));
            assert!(
                e.starts_with(&format!(
                    "drctl.toml: `env.dev.{key}`: each region would keep up to "
                )),
                "{text}: {e}"
            );
        }
        for (text, schedule, days) in [
            // 35 + 65 daily, at the quota.
            (
                "backup_retention_days = 35\nbackup_copy_retention_days = 65",
                "cron(0 5 ? * * *)",
                (35, 65),
            ),
            // Hourly, 2 days each: 48 + 48.
            (
                "backup_schedule = \"cron(0 * ? * * *)\"\nbackup_retention_days = 2\nbackup_copy_retention_days = 2",
                "cron(0 * ? * * *)",
                (2, 2),
            ),
            // Weekly, a year of copies: 5 + 53.
            (
                "backup_schedule = \"cron(0 5 ? * SUN *)\"\nbackup_retention_days = 35\nbackup_copy_retention_days = 365",
                "cron(0 5 ? * SUN *)",
                (35, 365),
            ),
        ] {
            let c = parse(&format!("[env.dev]\n{text}\n")).unwrap();
            let s = c.env("dev").unwrap();
            assert_eq!(s.backup_schedule, schedule);
            assert_eq!(
                (s.backup_retention_days, s.backup_copy_retention_days),
                days
            );
        }
    }

    #[test]
    fn any_known_region_is_supported() {
        // The records alias the custom domains' reported hosted zone ids:
        // no per-region table limits the regions any more.
        let c = parse("[env.dev]\nprimary_region = \"ap-south-2\"\n").unwrap();
        assert_eq!(c.env("dev").unwrap().primary_region, "ap-south-2");
    }

    #[test]
    fn full_settings_parse() {
        let c = parse(
            r#"[env.staging]
primary_region = "us-west-2"
secondary_region = "us-east-1"
primary_cidr = "10.20.0.0/16"
secondary_cidr = "10.21.0.0/20"
domain = "pay.example.org"
hosted_zone_id = "/hostedzone/Z0123456789ABCDEFGHIJ"
alarm_email = "oncall@example.org"
db_instance_class = "db.t4g.medium"
engine_version = "15.4"
skip_final_snapshot = true
feature_flags = { new_payment_flow = true }
production = true
databases_and_functions = false
max_replication_lag_seconds = 30
backup_schedule = "cron(30 2 ? * MON-FRI *)"
backup_retention_days = 35
backup_copy_retention_days = 90
containers = false
"#,
        )
        .unwrap();
        let s = c.env("staging").unwrap();
        assert!(!s.databases_and_functions);
        assert_eq!(s.hosted_zone_id.as_deref(), Some("Z0123456789ABCDEFGHIJ"));
        assert_eq!(s.primary_region, "us-west-2");
        assert_eq!(s.secondary_cidr.to_string(), "10.21.0.0/20");
        assert!(s.feature_flags["new_payment_flow"]);
        assert!(s.production);
        assert_eq!(s.engine_version, "15.4");
        assert!(s.skip_final_snapshot);
        assert_eq!(s.max_replication_lag_seconds, 30);
        assert_eq!(s.backup_schedule, "cron(30 2 ? * MON-FRI *)");
        assert_eq!(
            (s.backup_retention_days, s.backup_copy_retention_days),
            (35, 90)
        );
        assert!(!s.containers.enabled);
    }

    #[test]
    fn every_bad_input_names_file_and_key() {
        let cases = [
            ("[env.dev\n", "invalid TOML"),
            (
                "[env.dev]\nprimary_cidr = \"10.0.0.0/33\"",
                "`env.dev.primary_cidr`: `10.0.0.0/33` is not an IPv4 CIDR",
            ),
            ("[env.dev]\nprimary_cidr = \"10.0.0.1/16\"", "host bits"),
            ("[env.dev]\nprimary_cidr = \"10.0.0.0/8\"", "prefix length"),
            (
                "[env.dev]\nsecondary_cidr = \"10.0.16.0/20\"",
                "`env.dev.secondary_cidr`: `10.0.16.0/20` overlaps",
            ),
            (
                "[env.dev]\nprimary_region = \"us-east-9\"",
                "`env.dev.primary_region`: unknown AWS region `us-east-9`",
            ),
            ("[env.dev]\nsecondary_region = \"us-east-1\"", "must differ"),
            (
                "[env.dev]\nprimary_cidr = 10",
                "expected a string like \"10.0.0.0/16\", found integer",
            ),
            (
                "[env.dev]\nprimary_regoin = \"us-east-1\"",
                "`env.dev.primary_regoin`: unknown key; did you mean `primary_region`?",
            ),
            ("[envs.dev]\n", "`envs`: unknown key; did you mean `env`?"),
            ("[env.Dev]\n", "`env.Dev`: environment names"),
            (
                "[env.dev]\nfeature_flags = { x = 1 }",
                "`env.dev.feature_flags.x`: expected true or false",
            ),
            ("[env.dev]\nalarm_email = \"nope\"", "not an e-mail"),
            (
                "[env.dev]\nproduction = \"yes\"",
                "`env.dev.production`: expected true or false, found string",
            ),
            (
                "[env.dev]\ndomain = \"Bad_Domain\"",
                "not a lowercase DNS domain",
            ),
            (
                "[env.dev]\nhosted_zone_id = \"z123-abc\"",
                "`env.dev.hosted_zone_id`: `z123-abc` is not a Route 53 hosted zone id",
            ),
            (
                "[env.dev]\nhosted_zone_id = 12",
                "`env.dev.hosted_zone_id`: expected a string like \"Z0123456789ABCDEFGHIJ\", found integer",
            ),
            (
                "[env.dev]\ndb_instance_class = \"r6g\"",
                "not an RDS instance class",
            ),
            ("env = 3", "expected tables"),
            (
                "[env.dev]\nengine_version = \"14\"",
                "`env.dev.engine_version`: `14` is not an Aurora PostgreSQL version like \"14.9\"",
            ),
            (
                "[env.dev]\nengine_version = \"14.9.1a\"",
                "is not an Aurora PostgreSQL version",
            ),
            (
                "[env.dev]\nengine_version = 14.9",
                "`env.dev.engine_version`: expected a string like \"14.9\", found float",
            ),
            (
                "[env.dev]\nskip_final_snapshot = \"yes\"",
                "`env.dev.skip_final_snapshot`: expected false",
            ),
            (
                "[env.dev]\ndatabases_and_functions = \"no\"",
                "`env.dev.databases_and_functions`: expected true (the whole stack, the default) or false (without Aurora, DynamoDB and Lambda), found string",
            ),
            (
                "[env.dev]\nmax_replication_lag_seconds = 0",
                "`env.dev.max_replication_lag_seconds`: expected a whole number of seconds from 1 to 3600 like 60, found 0",
            ),
            (
                "[env.dev]\nmax_replication_lag_seconds = \"60s\"",
                "expected a whole number of seconds from 1 to 3600 like 60, found string",
            ),
            (
                "[env.dev]\nbackup_schedule = \"rate(1 hour)\"",
                "`env.dev.backup_schedule`: `rate(1 hour)` is a rate expression, and an AWS Backup rule takes only cron(...)",
            ),
            (
                "[env.dev]\nbackup_schedule = \"cron(0/15 * ? * * *)\"",
                "AWS Backup refuses backups less than 60 minutes apart",
            ),
            (
                "[env.dev]\nbackup_schedule = \"cron(0 * * * *)\"",
                "has 5 fields; AWS cron takes six",
            ),
            (
                "[env.dev]\nbackup_schedule = \"cron(0 25 ? * * *)\"",
                "`env.dev.backup_schedule`: `cron(0 25 ? * * *)` runs at hours `25`: give hours of the day from 0 to 23",
            ),
            (
                "[env.dev]\nbackup_schedule = \"cron(0 5 1 * MON *)\"",
                "set one of them to `?`",
            ),
            (
                "[env.dev]\nbackup_schedule = \"hourly\"",
                "is not a cron expression",
            ),
            (
                "[env.dev]\nbackup_retention_days = 0",
                "`env.dev.backup_retention_days`: expected a whole number of days from 1 to 36500 like 7, found 0",
            ),
            (
                "[env.dev]\nbackup_copy_retention_days = \"14\"",
                "`env.dev.backup_copy_retention_days`: expected a whole number of days from 1 to 36500 like 14, found string",
            ),
            (
                "[env.dev]\ndatabases_and_function = false",
                "unknown key; did you mean `databases_and_functions`?",
            ),
        ];
        for (text, expected) in cases {
            let e = err(text);
            assert!(e.starts_with("drctl.toml: "), "{e}");
            assert!(e.contains(expected), "input {text:?}: got {e}");
        }
    }

    /// The regions' VPCs are peered, and AWS fails a peering request
    /// between overlapping ranges: refused before any call, naming both
    /// keys and a range that fits.
    #[test]
    fn overlapping_cidrs_are_refused_with_both_keys_and_a_free_range() {
        for (primary, secondary, free) in [
            ("10.0.0.0/16", "10.0.16.0/20", "10.1.0.0/20"),
            ("10.0.0.0/16", "10.0.0.0/16", "10.1.0.0/16"),
            ("10.0.16.0/20", "10.0.0.0/16", "10.1.0.0/16"),
            ("10.8.0.0/20", "10.8.0.0/19", "10.8.32.0/19"),
        ] {
            let text = format!(
                "[env.dev]\nprimary_cidr = \"{primary}\"\nsecondary_cidr = \"{secondary}\"\n"
            );
            let e = err(&text);
            assert_eq!(
                e,
                format!(
                    "drctl.toml: `env.dev.secondary_cidr`: `{secondary}` overlaps `env.dev.primary_cidr` (`{primary}`), and AWS refuses to peer the two regions' VPCs when their ranges overlap: set `secondary_cidr` to a range outside it, such as \"{free}\""
                )
            );
            let fixed =
                format!("[env.dev]\nprimary_cidr = \"{primary}\"\nsecondary_cidr = \"{free}\"\n");
            assert!(parse(&fixed).is_ok(), "{fixed}");
        }
        // Adjacent ranges do not overlap.
        let c =
            parse("[env.dev]\nprimary_cidr = \"10.0.0.0/20\"\nsecondary_cidr = \"10.0.16.0/20\"\n")
                .unwrap();
        assert_eq!(
            c.env("dev").unwrap().secondary_cidr.to_string(),
            "10.0.16.0/20"
        );
    }

    #[test]
    fn container_settings_parse_and_default() {
        let c = parse(
            "[env.dev]\ncontainers = true\ncontainer_image = \"123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:abc\"\ncontainer_port = 8080\ncontainer_cpu = 1024\ncontainer_memory = 3072\ncontainer_desired_count = 3\ncontainer_health_check_path = \"/health\"\n",
        )
        .unwrap();
        let t = &c.env("dev").unwrap().containers;
        assert!(t.enabled);
        assert_eq!(
            (t.port, t.cpu, t.memory, t.desired_count),
            (8080, 1024, 3072, 3)
        );
        assert_eq!(t.health_check_path, "/health");
        let d = &parse("[env.dev]\n").unwrap().envs["dev"].containers;
        assert_eq!(d, &Containers::default());
        assert_eq!(d.image, "public.ecr.aws/nginx/nginx:stable");
        assert!(fargate_size(d.cpu, d.memory));
        for (cpu, memory, fits) in [
            (256, 512, true),
            (256, 1536, false),
            (256, 2048, true),
            (512, 5120, false),
            (4096, 30720, true),
            (8192, 20480, true),
            (8192, 17408, false),
            (300, 512, false),
        ] {
            assert_eq!(fargate_size(cpu, memory), fits, "{cpu}/{memory}");
        }
    }

    #[test]
    fn bad_container_settings_name_the_key_and_the_fix() {
        for (text, expected) in [
            (
                "[env.dev]\ncontainers = 1",
                "`env.dev.containers`: expected true (an ECS Fargate service behind a load balancer per region, the default) or false (none), found integer",
            ),
            (
                "[env.dev]\ncontainer_memory = 4096",
                "`env.dev.container_memory`: Fargate has no task size of 256 CPU units with 4096 MiB: set `container_cpu` and `container_memory` to one of its combinations: 256 with 512, 1024 or 2048; 512 with 1024 to 4096 in steps of 1024",
            ),
            (
                "[env.dev]\ncontainer_cpu = 2048",
                "`env.dev.container_cpu`: Fargate has no task size of 2048 CPU units with 512 MiB",
            ),
            (
                "[env.dev]\ncontainer_port = 0",
                "`env.dev.container_port`: expected the port the image serves HTTP on, from 1 to 65535, like 80, found 0",
            ),
            ("[env.dev]\ncontainer_port = \"80\"", "found string"),
            (
                "[env.dev]\ncontainer_desired_count = -1",
                "`env.dev.container_desired_count`: expected how many tasks each region runs, from 0 to 1000",
            ),
            (
                "[env.dev]\ncontainer_image = \"nginx latest\"",
                "`env.dev.container_image`: `nginx latest` is not a container image reference",
            ),
            (
                "[env.dev]\ncontainer_health_check_path = \"health\"",
                "`env.dev.container_health_check_path`: `health` is not a URL path like \"/health\"",
            ),
            (
                "[env.dev]\ncontainer_imgae = \"x\"",
                "unknown key; did you mean `container_image`?",
            ),
        ] {
            let e = err(text);
            assert!(e.starts_with("drctl.toml: "), "{e}");
            assert!(e.contains(expected), "input {text:?}: got {e}");
        }
    }

    /// Load balancer and target group names hold at most 32 characters:
    /// the longest environment names do not fit with the container tier on.
    #[test]
    fn environment_names_too_long_for_the_load_balancer_are_refused_with_containers_on() {
        let fits = "a234567890123456x";
        assert_eq!(
            target_group_name(fits, crate::Role::Secondary).len(),
            ELB_NAME_MAX
        );
        assert!(parse(&format!("[env.{fits}]\n")).is_ok());
        let long = "a2345678901234567890";
        assert_eq!(
            err(&format!("[env.{long}]\n")),
            format!(
                "drctl.toml: `env.{long}`: with the container tier on, this environment's target group would be named `payment-{long}-sec-tg`, 35 characters, and AWS allows 32 for load balancer and target group names: use an environment name of at most 17 characters, or set `containers = false`"
            )
        );
        assert!(parse(&format!("[env.{long}]\ncontainers = false\n")).is_ok());
        for role in crate::Role::BOTH {
            assert!(load_balancer_name(fits, role).len() <= ELB_NAME_MAX);
        }
    }

    #[test]
    fn missing_env_lists_the_defined_ones() {
        let c = parse("[env.dev]\n[env.prod]\n").unwrap();
        let e = c.env("qa").unwrap_err().to_string();
        assert!(e.contains("`env.qa`"), "{e}");
        assert!(e.contains("defined: dev, prod"), "{e}");
    }

    /// A saved plan names the settings that differ by their drctl.toml
    /// keys: every field of `EnvSettings` has one (a new field fails here
    /// until its key is checked against `ENV_KEYS`).
    #[test]
    fn settings_by_key_use_drctl_toml_keys() {
        let text = "[env.dev]\ncontainer_image = \"public.ecr.aws/nginx/nginx:1\"\nfeature_flags = { new_flow = true }\n";
        let config = Config::parse(Path::new("drctl.toml"), text).unwrap();
        let keys = config.env("dev").unwrap().by_key();
        assert_eq!(
            keys.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "alarm_email",
                "backup_copy_retention_days",
                "backup_retention_days",
                "backup_schedule",
                "container_cpu",
                "container_desired_count",
                "container_health_check_path",
                "container_image",
                "container_memory",
                "container_port",
                "containers",
                "databases_and_functions",
                "db_instance_class",
                "domain",
                "engine_version",
                "feature_flags.new_flow",
                "hosted_zone_id",
                "max_replication_lag_seconds",
                "primary_cidr",
                "primary_region",
                "production",
                "secondary_cidr",
                "secondary_region",
                "skip_final_snapshot",
            ]
        );
        for key in keys.keys() {
            let name = key.split('.').next().unwrap();
            assert!(ENV_KEYS.contains(&name), "`{name}` is no drctl.toml key");
        }
        assert_eq!(keys["container_image"], "public.ecr.aws/nginx/nginx:1");
        assert_eq!(keys["primary_cidr"], "10.0.0.0/16");
        assert_eq!(keys["containers"], true);
    }
}
