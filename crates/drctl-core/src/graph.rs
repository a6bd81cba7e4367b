//! The desired resource graph: validated once (unknown references, unknown
//! kinds and outputs, cycles) before anything touches an API.

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use thiserror::Error;

use crate::address::Address;
use crate::provider::SchemaSource;
use crate::resource::ResourceSpec;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("resource `{0}` is declared twice")]
    Duplicate(Address),
    #[error("`{from}` references `{to}`, which is not a declared resource")]
    UnknownReference { from: Address, to: Address },
    #[error(
        "`{from}` references output `{output}` of `{to}`, but kind `{kind}` has no such output (it has: {known})",
        kind = .to.kind()
    )]
    UnknownOutput {
        from: Address,
        to: Address,
        output: String,
        known: String,
    },
    #[error("`{0}` has kind `{1}`, which no provider implements")]
    UnknownKind(Address, String),
    #[error("dependency cycle between: {}", .0.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", "))]
    Cycle(Vec<Address>),
}

/// Desired resources plus their dependency edges (dependency -> dependent).
#[derive(Debug)]
pub struct DesiredGraph {
    resources: BTreeMap<Address, ResourceSpec>,
    graph: DiGraph<Address, ()>,
}

impl DesiredGraph {
    pub fn new(specs: Vec<ResourceSpec>) -> Result<Self, GraphError> {
        let mut resources = BTreeMap::new();
        for spec in specs {
            if resources.contains_key(&spec.address) {
                return Err(GraphError::Duplicate(spec.address));
            }
            resources.insert(spec.address.clone(), spec);
        }
        let mut graph = DiGraph::new();
        let index: BTreeMap<Address, NodeIndex> = resources
            .keys()
            .map(|a| (a.clone(), graph.add_node(a.clone())))
            .collect();
        for spec in resources.values() {
            for dep in spec.dependencies() {
                let Some(&from) = index.get(&dep) else {
                    return Err(GraphError::UnknownReference {
                        from: spec.address.clone(),
                        to: dep,
                    });
                };
                graph.add_edge(from, index[&spec.address], ());
            }
        }
        // Self-references are cycles of one.
        if let Some(spec) = resources
            .values()
            .find(|s| s.dependencies().contains(&s.address))
        {
            return Err(GraphError::Cycle(vec![spec.address.clone()]));
        }
        if let Some(scc) = tarjan_scc(&graph).into_iter().find(|c| c.len() > 1) {
            let mut members: Vec<Address> = scc.into_iter().map(|n| graph[n].clone()).collect();
            members.sort();
            return Err(GraphError::Cycle(members));
        }
        Ok(Self { resources, graph })
    }

    /// Checks kinds and referenced outputs against the providers' schemas.
    pub fn check_schemas(&self, schemas: &dyn SchemaSource) -> Result<(), GraphError> {
        for spec in self.resources.values() {
            if schemas.schema(spec.kind()).is_none() {
                return Err(GraphError::UnknownKind(
                    spec.address.clone(),
                    spec.kind().to_owned(),
                ));
            }
            for value in spec.inputs.values() {
                for r in value.references() {
                    let kind = r.address.kind();
                    let schema = schemas.schema(kind).ok_or_else(|| {
                        GraphError::UnknownKind(r.address.clone(), kind.to_owned())
                    })?;
                    if !schema.outputs.contains(&r.output.as_str()) {
                        return Err(GraphError::UnknownOutput {
                            from: spec.address.clone(),
                            to: r.address.clone(),
                            output: r.output.clone(),
                            known: schema.outputs.join(", "),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    pub fn resources(&self) -> impl Iterator<Item = &ResourceSpec> {
        self.resources.values()
    }

    pub fn get(&self, address: &Address) -> Option<&ResourceSpec> {
        self.resources.get(address)
    }

    pub fn len(&self) -> usize {
        self.resources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// Direct dependencies of `address`.
    pub fn dependencies(&self, address: &Address) -> BTreeSet<Address> {
        self.resources
            .get(address)
            .map(ResourceSpec::dependencies)
            .unwrap_or_default()
    }

    /// Graphviz rendering: an edge points from a dependency to its
    /// dependent; the resources of each scope (a region's role, `global`)
    /// are boxed together, labelled with the regions they live in.
    pub fn to_dot(&self) -> String {
        let mut out =
            String::from("digraph drctl {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n");
        let mut scopes: BTreeMap<&str, (BTreeSet<&str>, Vec<&Address>)> = BTreeMap::new();
        for (a, spec) in &self.resources {
            let scope = scopes.entry(a.scope()).or_default();
            scope.0.insert(spec.region.as_str());
            scope.1.push(a);
        }
        for (scope, (regions, addresses)) in &scopes {
            let regions: Vec<&str> = regions.iter().copied().collect();
            out.push_str(&format!(
                "  subgraph \"cluster_{scope}\" {{\n    label=\"{scope} ({})\";\n    style=rounded;\n",
                regions.join(", ")
            ));
            for a in addresses {
                out.push_str(&format!("    \"{a}\";\n"));
            }
            out.push_str("  }\n");
        }
        let mut edges: Vec<(String, String)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(f, t)| (self.graph[f].to_string(), self.graph[t].to_string()))
            .collect();
        edges.sort();
        edges.dedup();
        for (f, t) in edges {
            out.push_str(&format!("  \"{f}\" -> \"{t}\";\n"));
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn spec(a: &str, refs: &[&str]) -> ResourceSpec {
        let mut s = ResourceSpec::new(addr(a), "us-east-1");
        for (i, r) in refs.iter().enumerate() {
            s = s.input(&format!("r{i}"), addr(r).output("id"));
        }
        s
    }

    #[test]
    fn unknown_reference_names_both_ends() {
        let err = DesiredGraph::new(vec![spec("p/t.a/x", &["p/t.a/missing"])]).unwrap_err();
        assert_eq!(
            err,
            GraphError::UnknownReference {
                from: addr("p/t.a/x"),
                to: addr("p/t.a/missing")
            }
        );
        assert!(
            err.to_string()
                .contains("`p/t.a/x` references `p/t.a/missing`")
        );
    }

    #[test]
    fn cycles_name_their_members() {
        let err = DesiredGraph::new(vec![
            spec("p/t.a/a", &["p/t.a/c"]),
            spec("p/t.a/b", &["p/t.a/a"]),
            spec("p/t.a/c", &["p/t.a/b"]),
            spec("p/t.a/d", &[]),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            GraphError::Cycle(vec![addr("p/t.a/a"), addr("p/t.a/b"), addr("p/t.a/c")])
        );
        let self_loop = DesiredGraph::new(vec![spec("p/t.a/a", &["p/t.a/a"])]).unwrap_err();
        assert_eq!(self_loop, GraphError::Cycle(vec![addr("p/t.a/a")]));
    }

    #[test]
    fn duplicates_are_refused() {
        let err = DesiredGraph::new(vec![spec("p/t.a/a", &[]), spec("p/t.a/a", &[])]).unwrap_err();
        assert_eq!(err, GraphError::Duplicate(addr("p/t.a/a")));
    }

    #[test]
    fn dot_lists_edges() {
        let g =
            DesiredGraph::new(vec![spec("p/t.a/a", &[]), spec("p/t.a/b", &["p/t.a/a"])]).unwrap();
        let dot = g.to_dot();
        assert!(dot.contains("\"p/t.a/a\" -> \"p/t.a/b\""));
        assert!(
            dot.contains("subgraph \"cluster_p\" {\n    label=\"p (us-east-1)\";"),
            "{dot}"
        );
    }
}
