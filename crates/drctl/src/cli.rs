//! Command-line syntax (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use drctl_core::executor::DEFAULT_PARALLELISM;
use drctl_core::refresh::DEFAULT_READ_PARALLELISM;

/// `drctl --version`; a build with the tests' crash hook says so (the
/// suite checks it runs such a build).
const VERSION: &str = if drctl_aws::CRASH_HOOK {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (with the crash hook for tests)"
    )
} else {
    env!("CARGO_PKG_VERSION")
};

#[derive(Debug, Parser)]
#[command(
    name = "drctl",
    version = VERSION,
    about = "Provision and operate the multi-region payment DR stack on AWS"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The log filter: by default drctl's own warnings only (the SDK's
    /// internals, which a missing credential fills with debug structures,
    /// from `-v` on); `RUST_LOG` overrides it.
    pub fn log_level(&self) -> &'static str {
        match self.global.verbose {
            0 => {
                "error,drctl=warn,drctl_core=warn,drctl_aws=warn,drctl_blueprint=warn,drctl_dr=warn,drctl_ops=warn,drctl_view=warn"
            }
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    }
}

#[derive(Debug, Args)]
pub struct Global {
    /// The environments file.
    #[arg(long, global = true, default_value = "drctl.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Where state files and locks live.
    #[arg(long, global = true, default_value = "state", value_name = "DIR")]
    pub state_dir: PathBuf,
    /// Keep state, journal and lock in S3 (`s3://BUCKET/PREFIX`) instead
    /// of --state-dir; overrides the `[backend]` table of drctl.toml.
    #[arg(long, global = true, value_name = "URL")]
    pub backend: Option<String>,
    /// Region of the --backend bucket (default: `[backend] region`, else
    /// the environment's primary region).
    #[arg(long, global = true, value_name = "REGION")]
    pub backend_region: Option<String>,
    /// A replica of the backend's state and journal in the environment's
    /// other region (`s3://BUCKET/PREFIX`), which `failover --unplanned`
    /// uses when the primary bucket's region is down; overrides
    /// `[backend] replica_url`.
    #[arg(long, global = true, value_name = "URL")]
    pub backend_replica: Option<String>,
    /// Region of the replica bucket (default: `[backend] replica_region`,
    /// else the environment's region other than the backend bucket's).
    #[arg(long, global = true, value_name = "REGION")]
    pub backend_replica_region: Option<String>,
    /// Where saved plans go.
    #[arg(long, global = true, default_value = "plans", value_name = "DIR")]
    pub plans_dir: PathBuf,
    /// AWS endpoint override (otherwise AWS_ENDPOINT_URL or the real AWS).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No colour, even on a terminal (NO_COLOR does the same).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Apply and destroy print only failures and the final summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Make the environment match drctl.toml (or apply a saved plan).
    Apply(ApplyArgs),
    /// Read every resource from AWS and record what it holds in state;
    /// changes nothing in AWS.
    Refresh(RefreshArgs),
    /// Adopt resources that already exist into state (found by name and
    /// tags, or named in an import file); creates, changes and deletes
    /// nothing in AWS.
    Import(ImportArgs),
    /// Delete every resource of the environment, dependents first.
    Destroy(DestroyArgs),
    /// Print the resources recorded in state.
    Show(ShowArgs),
    /// Print the desired resource graph.
    Graph(GraphArgs),
    /// Check drctl.toml and every environment's graph without calling AWS.
    Validate,
    /// Move state between the local --state-dir and the S3 backend.
    #[command(subcommand)]
    State(StateCommand),
    /// Remove a stale state lock left by a killed process.
    ForceUnlock(EnvArg),
    /// Write the default drctl.toml (a `dev` environment) to --config.
    Init(InitArgs),
    /// Which region serves traffic and whether the environment is ready to
    /// fail over (exit 1 when not).
    Status(StatusArgs),
    /// Move the database writer and the traffic to the secondary region.
    Failover(FailoverArgs),
    /// Move the database writer and the traffic back to the primary region.
    Failback(FailbackArgs),
    /// Fail a non-production environment over and back, timing each step.
    Drill(DrillArgs),
    /// Print the environment's endpoints and names (API URLs, hosted zone,
    /// global cluster, buckets, table).
    Output(OutputArgs),
    /// Add a new environment to drctl.toml, validate and plan it, and
    /// apply it with --apply.
    Bootstrap(BootstrapArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// One output, printed bare (for scripts).
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FailoverArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// The primary region is down: fail the global database over allowing
    /// the loss of writes not yet replicated, instead of a switchover.
    #[arg(long)]
    pub unplanned: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub checks: CheckArgs,
}

/// `--plan` and `--skip-check` of failover, failback and drill.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the checks (measured now) and the steps with their typical
    /// durations, and change nothing; exit 1 when a check would refuse.
    #[arg(long)]
    pub plan: bool,
    /// Do not let this failed check refuse a planned switch (repeatable);
    /// it is still measured and shown.
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(drctl_dr::checks::SKIPPABLE))]
    pub skip_check: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FailbackArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub checks: CheckArgs,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub checks: CheckArgs,
    /// Print the timings as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Copy the backend's state (S3) into --state-dir.
    Pull(StateCopyArgs),
    /// Copy the state of --state-dir (its change log folded in) to the backend (S3).
    Push(StateCopyArgs),
    /// When the backend's two copies of the state both changed (a
    /// conflict): keep one of them in both buckets.
    Keep(StateKeepArgs),
}

#[derive(Debug, Args)]
pub struct StateKeepArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// The copy to keep: `primary` (the backend bucket) or `replica`.
    #[arg(long, value_name = "COPY")]
    pub copy: KeptCopy,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum KeptCopy {
    Primary,
    Replica,
}

#[derive(Debug, Args)]
pub struct StateCopyArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Overwrite a destination whose serial is higher (never one of
    /// another lineage).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Name of the new environment.
    #[arg(value_name = "NAME")]
    pub name: String,
    #[arg(long, value_name = "REGION")]
    pub primary_region: Option<String>,
    #[arg(long, value_name = "REGION")]
    pub secondary_region: Option<String>,
    #[arg(long, value_name = "CIDR")]
    pub primary_cidr: Option<String>,
    #[arg(long, value_name = "CIDR")]
    pub secondary_cidr: Option<String>,
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
    /// Apply the plan after writing the environment.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct EnvArg {
    /// Environment name (a `[env.NAME]` table of drctl.toml).
    #[arg(long, value_name = "ENV")]
    pub env: String,
}

/// `--target`, `--exclude` and `--replace`, as Terraform's.
#[derive(Debug, Args, Default)]
pub struct SelectionArgs {
    /// Plan only this resource and what it depends on (repeatable; `*`
    /// matches any characters: `primary/ec2.subnet/*`). The plan is partial.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Leave out this resource and everything that depends on it
    /// (repeatable; `*` matches any characters). The plan is partial.
    #[arg(long = "exclude", value_name = "ADDR")]
    pub excludes: Vec<String>,
    /// Replace this resource even though its inputs did not change
    /// (repeatable; `*` matches any characters).
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Ids of resources other tools made: `ADDRESS = "AWS id"` lines (`#`
    /// comments), e.g. `primary/ec2.vpc/payment = "vpc-0abc..."`.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// List what would be adopted and what is missing; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Print what changed outside drctl as JSON (a plan document whose
    /// `drift` lists it, with no changes).
    #[arg(long)]
    pub json: bool,
    /// Bound on concurrent reads.
    #[arg(long, default_value_t = DEFAULT_READ_PARALLELISM, value_name = "N")]
    pub parallelism: usize,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub env: EnvArg,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Refresh only: record what AWS holds in state and show what changed
    /// outside drctl, without planning changes (as `drctl refresh`).
    #[arg(long, conflicts_with_all = ["out", "target", "exclude", "replace"])]
    pub refresh_only: bool,
    /// Save the plan (a bare file name goes into --plans-dir).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Read every resource from AWS first and plan against what exists.
    #[arg(long)]
    pub refresh: bool,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Bound on concurrent reads with --refresh.
    #[arg(long, default_value_t = DEFAULT_READ_PARALLELISM, value_name = "N")]
    pub parallelism: usize,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// A plan saved by `drctl plan --out`; applied exactly as written.
    #[arg(value_name = "PLANFILE", conflicts_with_all = ["target", "exclude", "replace"])]
    pub plan_file: Option<PathBuf>,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Most provider operations in flight at once.
    #[arg(long, default_value_t = DEFAULT_PARALLELISM, value_name = "N", value_parser = parse_parallelism)]
    pub parallelism: usize,
    /// Read every resource from AWS before planning.
    #[arg(long)]
    pub refresh: bool,
    /// Allow deleting or replacing resources that hold data (databases,
    /// the session table, buckets).
    #[arg(long)]
    pub allow_data_loss: bool,
    /// Print a JSON report of the run on stdout (needs --auto-approve).
    #[arg(long)]
    pub json: bool,
    /// Write a Gantt chart of the run's operations to this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub timeline: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Allow deleting resources that hold data (databases, the session
    /// table, buckets); without it, destroy refuses an environment that has any.
    #[arg(long)]
    pub allow_data_loss: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Most provider operations in flight at once.
    #[arg(long, default_value_t = DEFAULT_PARALLELISM, value_name = "N", value_parser = parse_parallelism)]
    pub parallelism: usize,
    /// Print a JSON report of the run on stdout (needs --auto-approve).
    #[arg(long)]
    pub json: bool,
    /// Write a Gantt chart of the run's operations to this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub timeline: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub env: EnvArg,
    /// Print the state document as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub env: EnvArg,
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphFormat,
    /// Print the chain of creates a full apply waits for, with each one's
    /// modelled duration on real AWS (docs/performance.md), instead of the
    /// graph.
    #[arg(long)]
    pub critical_path: bool,
}

fn parse_parallelism(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{s}` is not a whole number of at least 1")),
    }
}
