//! Adopting resources that already exist into state (`drctl import`),
//! creating, changing and deleting nothing. Each resource of the desired
//! graph not in state is looked up, dependencies first (a subnet's lookup
//! needs its VPC's id): by the id an import file names for it (resources
//! other tools made, named their own way), or else by the provider's
//! `find` (the blueprint's deterministic names and `drctl:*` tags). What is
//! found is read back and recorded as it is; the next plan shows what
//! differs from the configuration as ordinary updates and replacements.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::address::Address;
use crate::graph::DesiredGraph;
use crate::planner::topological_order;
use crate::provider::{OpContext, ProviderError, Providers};
use crate::state::{ResourceState, State};
use crate::value::Attributes;

/// Ids named by an import file, by address.
#[derive(Debug, Default, PartialEq)]
pub struct ImportFile {
    pub ids: BTreeMap<Address, String>,
}

#[derive(Debug, Error, PartialEq)]
#[error("{file}:{line}: {message}")]
pub struct ImportFileError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// Parses `ADDRESS = "AWS id"` lines (`#` comments, blank lines) and checks
/// each address against `desired`.
pub fn parse_import_file(
    file: &Path,
    text: &str,
    desired: &DesiredGraph,
) -> Result<ImportFile, ImportFileError> {
    let mut ids = BTreeMap::new();
    let mut lines_of: BTreeMap<Address, usize> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| ImportFileError {
            file: file.to_owned(),
            line,
            message,
        };
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let Some((left, right)) = content.split_once('=') else {
            return Err(err(format!(
                "expected `ADDRESS = \"AWS id\"`, found `{content}`"
            )));
        };
        let left = left.trim().trim_matches('"');
        let address: Address = left.parse().map_err(|_| {
            err(format!(
                "`{left}` is not an address: use ROLE/KIND/NAME as `drctl graph` lists them"
            ))
        })?;
        if desired.get(&address).is_none() {
            return Err(err(format!(
                "`{address}` is not a resource of this environment's configuration (`drctl graph --env ... --format mermaid` lists them)"
            )));
        }
        let right = right.trim();
        let id = right
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .filter(|id| !id.is_empty() && !id.contains('"'))
            .ok_or_else(|| {
                err(format!(
                    "the id must be a non-empty string in double quotes, found `{right}`"
                ))
            })?;
        if let Some(first) = lines_of.insert(address.clone(), line) {
            return Err(err(format!(
                "`{address}` is named twice (first on line {first})"
            )));
        }
        ids.insert(address, id.to_owned());
    }
    Ok(ImportFile { ids })
}

/// How an adopted resource was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The import file named its id.
    File,
    /// The provider found it by name or tags.
    Found,
}

/// Why a resource was not adopted (the next apply creates it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotAdopted {
    /// Nothing of that name or with those tags exists.
    NotFound,
    /// It cannot be looked up before this resource, itself not adopted.
    Needs(Address),
}

#[derive(Debug, Default, PartialEq)]
pub struct ImportReport {
    /// Adopted now: address, id, how it was found.
    pub adopted: Vec<(Address, String, Source)>,
    /// State had them already.
    pub already: Vec<Address>,
    pub missing: Vec<(Address, NotAdopted)>,
}

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("looking up `{address}` failed: {source}; nothing was recorded")]
    Provider {
        address: Address,
        source: ProviderError,
    },
    #[error(
        "`{address}`: the import file names {id}, which does not exist; fix the id or drop the line (the resource is then created)"
    )]
    NamedIdNotFound { address: Address, id: String },
}

/// Adopts into `state` what exists of `desired`; reads and lookups only.
pub async fn import(
    desired: &DesiredGraph,
    state: &mut State,
    providers: &Providers,
    file: &ImportFile,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    for address in topological_order(desired) {
        if state.resources.contains_key(&address) {
            report.already.push(address);
            continue;
        }
        let spec = desired.get(&address).expect("address from the graph");
        let lookup = |r: &crate::address::Reference| {
            state
                .resources
                .get(&r.address)?
                .outputs
                .get(&r.output)
                .cloned()
        };
        let mut inputs = Attributes::new();
        let mut needs = None;
        for (name, value) in &spec.inputs {
            match value.resolve(&lookup) {
                Ok(v) => {
                    inputs.insert(name.clone(), v);
                }
                Err(_) => {
                    needs = spec
                        .dependencies()
                        .into_iter()
                        .find(|d| !state.resources.contains_key(d));
                    break;
                }
            }
        }
        if let Some(dep) = needs {
            report.missing.push((address, NotAdopted::Needs(dep)));
            continue;
        }
        let fail = |source| ImportError::Provider {
            address: address.clone(),
            source,
        };
        let provider = providers.get(address.kind()).ok_or_else(|| {
            fail(ProviderError::new(
                "import",
                format!("no provider implements kind `{}`", address.kind()),
            ))
        })?;
        let ctx = OpContext {
            env: state.env.clone(),
            address: address.clone(),
            region: spec.region.clone(),
            token: None,
        };
        let (id, source) = match file.ids.get(&address) {
            Some(id) => (Some(id.clone()), Source::File),
            None => (
                provider.find(&ctx, &inputs).await.map_err(fail)?,
                Source::Found,
            ),
        };
        let Some(id) = id else {
            report.missing.push((address, NotAdopted::NotFound));
            continue;
        };
        let Some(observed) = provider.read(&ctx, &id, &inputs).await.map_err(fail)? else {
            if source == Source::File {
                return Err(ImportError::NamedIdNotFound { address, id });
            }
            report.missing.push((address, NotAdopted::NotFound));
            continue;
        };
        state.resources.insert(
            address.clone(),
            ResourceState {
                kind: address.kind().to_owned(),
                region: spec.region.clone(),
                id: id.clone(),
                inputs: observed.inputs,
                outputs: observed.outputs,
                dependencies: spec.dependencies(),
            },
        );
        report.adopted.push((address, id, source));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::resource::ResourceSpec;
    use crate::testing::MemoryProvider;

    fn a(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn graph() -> DesiredGraph {
        let vpc = ResourceSpec::new(a("p/mem.thing/vpc"), "us-east-1").input("cidr", "10.0.0.0/16");
        let subnet = ResourceSpec::new(a("p/mem.thing/subnet"), "us-east-1")
            .input("parent", a("p/mem.thing/vpc").output("id"));
        let topic = ResourceSpec::new(a("p/mem.thing/topic"), "us-east-1").input("cidr", "x");
        DesiredGraph::new(vec![vpc, subnet, topic]).unwrap()
    }

    #[test]
    fn import_files_are_checked_line_by_line() {
        let g = graph();
        let path = Path::new("import.txt");
        let ok = parse_import_file(
            path,
            "# from the CloudFormation stack\n\np/mem.thing/vpc = \"vpc-1\"\n\"p/mem.thing/topic\" = \"arn:x\"\n",
            &g,
        )
        .unwrap();
        assert_eq!(ok.ids.len(), 2);
        let cases = [
            (
                "p/mem.thing/vpc \"vpc-1\"",
                "import.txt:1: expected `ADDRESS = \"AWS id\"`",
            ),
            ("vpc = \"vpc-1\"", "import.txt:1: `vpc` is not an address"),
            (
                "p/mem.thing/other = \"x\"",
                "import.txt:1: `p/mem.thing/other` is not a resource of this environment",
            ),
            (
                "p/mem.thing/vpc = vpc-1",
                "import.txt:1: the id must be a non-empty string in double quotes",
            ),
            (
                "p/mem.thing/vpc = \"a\"\np/mem.thing/vpc = \"b\"",
                "import.txt:2: `p/mem.thing/vpc` is named twice (first on line 1)",
            ),
        ];
        for (text, want) in cases {
            let err = parse_import_file(path, text, &g).unwrap_err().to_string();
            assert!(err.starts_with(want), "{text}: {err}");
        }
    }

    #[tokio::test]
    async fn found_and_named_resources_are_adopted_dependencies_first() {
        let g = graph();
        let memory = Arc::new(MemoryProvider::default());
        let mut providers = Providers::new();
        providers.register(memory.clone());
        // Made outside drctl: the VPC (named in the file, stored under an
        // id its inputs would not find) and the subnet (found by inputs);
        // the topic does not exist.
        let attrs = |v: serde_json::Value| -> Attributes { serde_json::from_value(v).unwrap() };
        memory.objects.lock().unwrap().extend([
            (
                "vpc-legacy".to_owned(),
                attrs(serde_json::json!({"cidr": "10.1.0.0/16"})),
            ),
            (
                "subnet-1".to_owned(),
                attrs(serde_json::json!({"parent": "vpc-legacy"})),
            ),
        ]);
        let file = ImportFile {
            ids: BTreeMap::from([(a("p/mem.thing/vpc"), "vpc-legacy".to_owned())]),
        };
        let mut state = State::new("t");
        let report = import(&g, &mut state, &providers, &file).await.unwrap();
        assert_eq!(
            report.adopted,
            vec![
                (a("p/mem.thing/vpc"), "vpc-legacy".to_owned(), Source::File),
                (
                    a("p/mem.thing/subnet"),
                    "subnet-1".to_owned(),
                    Source::Found
                ),
            ]
        );
        assert_eq!(
            report.missing,
            vec![(a("p/mem.thing/topic"), NotAdopted::NotFound)]
        );
        // Recorded as it is (the plan then shows the CIDR to change).
        assert_eq!(
            state.resources[&a("p/mem.thing/vpc")].inputs["cidr"],
            serde_json::json!("10.1.0.0/16")
        );
        let calls = memory.calls.lock().unwrap().clone();
        assert!(calls.iter().all(|c| c.starts_with("read ")), "{calls:?}");
        // A second import finds them in state; a named id that is gone is
        // an error, not a silent create.
        let again = import(&g, &mut state, &providers, &file).await.unwrap();
        assert_eq!(again.already.len(), 2);
        let gone = ImportFile {
            ids: BTreeMap::from([(a("p/mem.thing/topic"), "nope".to_owned())]),
        };
        let err = import(&g, &mut state, &providers, &gone).await.unwrap_err();
        assert!(matches!(err, ImportError::NamedIdNotFound { .. }), "{err}");
    }
}
