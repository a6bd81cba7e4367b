//! The application layer (`drctl_ops`) over the engine's in-memory
//! provider: no emulator, no AWS context. A fake platform counts what the
//! operations ask of the cloud; a small blueprint of `mem.thing`s stands
//! in for the real one.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drctl_blueprint::{Blueprint, Config, EnvSettings};
use drctl_core::backend::{Backend, LocalBackend};
use drctl_core::plan::{Action, Plan};
use drctl_core::provider::Schemas;
use drctl_core::testing::{MemoryProvider, THING};
use drctl_core::{Address, Providers, ResourceSpec, State};
use drctl_ops::apply::{ApplyRequest, execute, executor, prepare_apply, prepare_destroy};
use drctl_ops::plan::{PlanRequest, Selected, plan, save_plan};
use drctl_ops::{Observer, OpsError, Parts, Platform, PlatformError};

const ENV: &str = "opsdev";
const ACCOUNT: &str = "123456789012";

/// The cloud of these tests: one account, three zones a region, the
/// memory provider; every question is recorded.
struct Fake {
    provider: Arc<MemoryProvider>,
    asked: Mutex<Vec<String>>,
}

impl Fake {
    fn new(provider: Arc<MemoryProvider>) -> Arc<Self> {
        Arc::new(Self {
            provider,
            asked: Mutex::default(),
        })
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Platform for Fake {
    async fn account_id(&self) -> Result<String, PlatformError> {
        self.asked.lock().unwrap().push("account".into());
        Ok(ACCOUNT.into())
    }

    async fn availability_zones(&self, region: &str) -> Result<Vec<String>, PlatformError> {
        self.asked.lock().unwrap().push(format!("zones {region}"));
        Ok(["a", "b", "c"].map(|z| format!("{region}{z}")).to_vec())
    }

    async fn providers(&self) -> Providers {
        self.asked.lock().unwrap().push("providers".into());
        let mut providers = Providers::new();
        providers.register(self.provider.clone());
        providers
    }

    async fn dns_note(
        &self,
        _domain: &str,
        _hosted_zone_id: Option<&str>,
        _name_servers: Option<&[String]>,
    ) -> Result<String, PlatformError> {
        Err("no DNS here".into())
    }

    async fn dr(&self) -> Result<&dyn drctl_dr::Cloud, PlatformError> {
        Err("no DR here".into())
    }
}

/// Records the notes.
#[derive(Default)]
struct Notes(Mutex<Vec<String>>);

impl Observer for Notes {
    fn note(&self, line: &str) {
        self.0.lock().unwrap().push(line.to_owned());
    }
}

fn settings() -> EnvSettings {
    let text = format!(
        "[env.{ENV}]\nprimary_region = \"us-east-1\"\nsecondary_region = \"us-east-2\"\nprimary_cidr = \"10.0.0.0/16\"\nsecondary_cidr = \"10.1.0.0/16\"\ndomain = \"payment-ops.example.com\"\n"
    );
    Config::parse(Path::new("drctl.toml"), &text)
        .unwrap()
        .env(ENV)
        .unwrap()
        .clone()
}

fn address(name: &str) -> Address {
    format!("primary/mem.thing/{name}").parse().unwrap()
}

/// `names` as things, each after the one before; the account is an
/// input, as the real blueprint's names are.
fn things(names: &'static [&'static str]) -> Arc<drctl_ops::Expand> {
    Arc::new(move |b: &Blueprint<'_>| {
        let mut out: Vec<ResourceSpec> = Vec::new();
        for name in names {
            let mut spec = ResourceSpec::new(address(name), b.settings.primary_region.clone())
                .input("account", b.account_id)
                .input("size", 1);
            if let Some(before) = out.last() {
                spec = spec.after(&before.address);
            }
            out.push(spec);
        }
        out
    })
}

struct Setup {
    dir: tempfile::TempDir,
    provider: Arc<MemoryProvider>,
}

impl Setup {
    fn new(provider: MemoryProvider) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            provider: Arc::new(provider),
        }
    }

    fn backend(&self) -> LocalBackend {
        LocalBackend::new(self.dir.path().join("state"), ENV)
    }

    /// A workspace over this setup's state and provider, expanding
    /// `expand`; its platform and notes for the asserts.
    fn workspace(
        &self,
        expand: Arc<drctl_ops::Expand>,
    ) -> (drctl_ops::Workspace, Arc<Fake>, Arc<Notes>) {
        let fake = Fake::new(self.provider.clone());
        let notes = Arc::new(Notes::default());
        let ws = drctl_ops::Workspace::from_parts(Parts {
            env: ENV.into(),
            settings: settings(),
            backend: Arc::new(self.backend()),
            platform: fake.clone(),
            schemas: Schemas::from_list(&[&THING]),
            expand,
            plans_dir: self.dir.path().join("plans"),
        })
        .with_observer(notes.clone());
        (ws, fake, notes)
    }

    fn state(&self) -> Option<State> {
        self.backend().load().unwrap()
    }
}

/// What `plan` changes, by address.
fn acting(plan: &Plan) -> Vec<(String, Action)> {
    let mut out: Vec<(String, Action)> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .map(|c| (c.address.to_string(), c.action))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

const NO_DATA_LOSS: ApplyRequest<'static> = ApplyRequest {
    refresh: false,
    parallelism: 4,
    plan_file: None,
    allow_data_loss: false,
};

/// A fresh apply: plans (verifying the account), runs, saves state.
async fn apply(ws: &drctl_ops::Workspace) -> drctl_core::executor::Report {
    let mut ready = prepare_apply(ws, &NO_DATA_LOSS, &Selected::default())
        .await
        .unwrap();
    let executor = executor(ws, 4).await;
    execute(
        ws,
        &executor,
        &ready.plan,
        &mut ready.state,
        &|_: &drctl_core::executor::Event| {},
    )
    .await
    .unwrap()
}

async fn plan_again(ws: &drctl_ops::Workspace) -> Plan {
    let request = PlanRequest {
        refresh: false,
        verify_account: false,
        parallelism: 4,
        locked: false,
    };
    plan(ws, &request, &Selected::default()).await.unwrap().0
}

#[tokio::test]
async fn an_invalid_blueprint_is_refused_before_any_call() {
    let setup = Setup::new(MemoryProvider::default());
    let invalid: Arc<drctl_ops::Expand> = Arc::new(|b: &Blueprint<'_>| {
        vec![
            ResourceSpec::new(address("a"), b.settings.primary_region.clone())
                .after(&address("missing")),
        ]
    });
    let (ws, fake, _) = setup.workspace(invalid);
    // A new environment: the plan would ask for the account and zones.
    let request = PlanRequest {
        refresh: false,
        verify_account: true,
        parallelism: 4,
        locked: true,
    };
    let err = plan(&ws, &request, &Selected::default())
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, OpsError::Blueprint { .. }), "{err}");
    assert!(
        err.to_string().starts_with("blueprint of `opsdev`: "),
        "{err}"
    );
    assert_eq!(fake.asked(), Vec::<String>::new());
    assert!(setup.provider.calls.lock().unwrap().is_empty());
    assert!(setup.state().is_none());

    // Unknown kinds too.
    let unknown: Arc<drctl_ops::Expand> = Arc::new(|b: &Blueprint<'_>| {
        vec![ResourceSpec::new(
            "primary/mem.other/a".parse().unwrap(),
            b.settings.primary_region.clone(),
        )]
    });
    let (ws, fake, _) = setup.workspace(unknown);
    let err = prepare_apply(&ws, &NO_DATA_LOSS, &Selected::default())
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, OpsError::Blueprint { .. }), "{err}");
    assert_eq!(fake.asked(), Vec::<String>::new());
}

#[tokio::test]
async fn apply_writes_state_and_the_next_plan_is_empty() {
    let setup = Setup::new(MemoryProvider::default());
    let (ws, fake, _) = setup.workspace(things(&["a", "b", "c"]));
    let report = apply(&ws).await;
    assert!(report.is_success(), "{}", report.summary());
    assert_eq!(
        fake.asked(),
        ["account", "zones us-east-1", "zones us-east-2", "providers"]
    );
    let state = setup.state().expect("state written");
    assert_eq!(state.account_id.as_deref(), Some(ACCOUNT));
    assert_eq!(
        state.resources.keys().cloned().collect::<Vec<_>>(),
        ["a", "b", "c"].map(address)
    );
    assert_eq!(setup.provider.objects.lock().unwrap().len(), 3);
    assert!(!ws.has_open_intents().unwrap());

    // A new run: account and zones recorded, so it calls nothing and
    // expands the blueprint once.
    let (ws, fake, _) = setup.workspace(things(&["a", "b", "c"]));
    let again = plan_again(&ws).await;
    assert!(acting(&again).is_empty());
    assert!(!again.has_changes());
    assert_eq!(ws.expansions(), 1);
    assert_eq!(fake.asked(), Vec::<String>::new());
}

#[tokio::test]
async fn a_saved_plan_that_differs_from_the_plan_made_now_is_refused() {
    let setup = Setup::new(MemoryProvider::default());
    let (ws, _, _) = setup.workspace(things(&["a"]));
    apply(&ws).await;

    // Saved with two more things to create...
    let (ws, _, _) = setup.workspace(things(&["a", "b", "c"]));
    let saved = plan_again(&ws).await;
    assert_eq!(
        acting(&saved),
        vec![
            (address("b").to_string(), Action::Create),
            (address("c").to_string(), Action::Create)
        ]
    );
    let path = save_plan(&ws, &saved, Path::new("more.json")).unwrap();
    assert_eq!(path, setup.dir.path().join("plans/more.json"));

    // ...applied once the configuration asks for one only.
    let (ws, _, _) = setup.workspace(things(&["a", "b"]));
    let serial = setup.state().unwrap().serial;
    let request = ApplyRequest {
        plan_file: Some(Path::new("more.json")),
        ..NO_DATA_LOSS
    };
    let err = prepare_apply(&ws, &request, &Selected::default())
        .await
        .map(|_| ())
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, OpsError::PlanDiffers { .. }), "{text}");
    assert!(
        text.starts_with(&format!(
            "plan {} is not the plan drctl makes now from drctl.toml and the state (serial {serial}); nothing was changed:\n  - ",
            path.display()
        )),
        "{text}"
    );
    assert!(
        text.ends_with(
            "\nMake a new plan with `drctl plan --env opsdev --out FILE`, review it, and apply that"
        ),
        "{text}"
    );
    assert_eq!(setup.state().unwrap().serial, serial);
    assert_eq!(setup.provider.objects.lock().unwrap().len(), 1);

    // The same configuration applies it.
    let (ws, _, _) = setup.workspace(things(&["a", "b", "c"]));
    let mut ready = prepare_apply(&ws, &request, &Selected::default())
        .await
        .unwrap();
    assert_eq!(acting(&ready.plan), acting(&saved));
    let executor = executor(&ws, 4).await;
    let report = execute(
        &ws,
        &executor,
        &ready.plan,
        &mut ready.state,
        &|_: &drctl_core::executor::Event| {},
    )
    .await
    .unwrap();
    assert!(report.is_success());
    assert_eq!(setup.state().unwrap().resources.len(), 3);
}

#[tokio::test]
async fn destroy_deletes_everything_state_records() {
    let setup = Setup::new(MemoryProvider::default());
    let (ws, _, _) = setup.workspace(things(&["a", "b"]));
    apply(&ws).await;

    let (ws, fake, _) = setup.workspace(things(&["a", "b"]));
    let (lock, planned) = prepare_destroy(&ws).await.unwrap();
    let (plan, mut state) = planned.expect("something to destroy");
    assert_eq!(
        acting(&plan),
        vec![
            (address("a").to_string(), Action::Delete),
            (address("b").to_string(), Action::Delete)
        ]
    );
    // Destroy verifies the credentials' account.
    assert_eq!(fake.asked(), ["account"]);
    let executor = executor(&ws, 4).await;
    let report = execute(
        &ws,
        &executor,
        &plan,
        &mut state,
        &|_: &drctl_core::executor::Event| {},
    )
    .await
    .unwrap();
    assert!(report.is_success());
    drop(lock);
    assert!(setup.state().unwrap().resources.is_empty());
    assert!(setup.provider.objects.lock().unwrap().is_empty());

    let (ws, _, notes) = setup.workspace(things(&["a", "b"]));
    let (_lock, planned) = prepare_destroy(&ws).await.unwrap();
    assert!(planned.is_none());
    assert_eq!(
        *notes.0.lock().unwrap(),
        ["Nothing to destroy: the state of `opsdev` is empty."]
    );
}

#[tokio::test]
async fn the_run_after_an_interrupted_apply_recovers_it_first() {
    // Each call takes a while: the first apply is stopped in its first
    // create, with the intent journalled and nothing recorded.
    let setup = Setup::new(MemoryProvider::with_delay(Duration::from_millis(300)));
    let (ws, _, _) = setup.workspace(things(&["a", "b"]));
    {
        let mut ready = prepare_apply(&ws, &NO_DATA_LOSS, &Selected::default())
            .await
            .unwrap();
        let executor = executor(&ws, 4).await;
        let run = execute(
            &ws,
            &executor,
            &ready.plan,
            &mut ready.state,
            &|_: &drctl_core::executor::Event| {},
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(50), run)
                .await
                .is_err(),
            "the apply finished before it was interrupted"
        );
    }
    assert!(ws.has_open_intents().unwrap());
    assert!(
        setup
            .state()
            .is_none_or(|s| !s.resources.contains_key(&address("a")))
    );

    let (ws, _, notes) = setup.workspace(things(&["a", "b"]));
    let mut ready = prepare_apply(&ws, &NO_DATA_LOSS, &Selected::default())
        .await
        .unwrap();
    // Recovered before planning: the journal is resolved, and the create
    // not found is planned again.
    assert!(!ws.has_open_intents().unwrap());
    let notes_now = notes.0.lock().unwrap().clone();
    assert_eq!(
        notes_now.first().map(String::as_str),
        Some("Recovering 1 operation(s) an interrupted run left unfinished...")
    );
    assert!(
        notes_now
            .iter()
            .any(|n| n.starts_with(&format!("  {}: its create was not found", address("a")))),
        "{notes_now:?}"
    );
    assert_eq!(
        acting(&ready.plan),
        vec![
            (address("a").to_string(), Action::Create),
            (address("b").to_string(), Action::Create)
        ]
    );
    let executor = executor(&ws, 4).await;
    let report = execute(
        &ws,
        &executor,
        &ready.plan,
        &mut ready.state,
        &|_: &drctl_core::executor::Event| {},
    )
    .await
    .unwrap();
    assert!(report.is_success());
    drop(ready.lock);
    let (ws, _, _) = setup.workspace(things(&["a", "b"]));
    assert!(!plan_again(&ws).await.has_changes());
    assert_eq!(setup.provider.objects.lock().unwrap().len(), 2);
}
