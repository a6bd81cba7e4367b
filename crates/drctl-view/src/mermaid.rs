//! `drctl graph --format mermaid`: the desired graph as a Mermaid
//! flowchart. Addresses contain `/` and `.`, which Mermaid ids may not, so
//! each node gets a generated id and the address as its quoted label; one
//! subgraph per scope (global, primary, secondary).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use drctl_core::{Address, DesiredGraph};

/// A label for inside `["..."]`: Mermaid reads `#quot;` for a quote.
fn label(text: &str) -> String {
    text.replace('"', "#quot;")
}

/// Edges point from a dependency to its dependent, as in the DOT output.
pub fn flowchart(graph: &DesiredGraph) -> String {
    let ids: BTreeMap<&Address, String> = graph
        .resources()
        .enumerate()
        .map(|(i, r)| (&r.address, format!("n{i}")))
        .collect();
    let mut by_scope: BTreeMap<&str, Vec<&Address>> = BTreeMap::new();
    for a in ids.keys() {
        by_scope.entry(a.scope()).or_default().push(a);
    }
    let mut out = String::from("flowchart LR\n");
    for (scope, addresses) in &by_scope {
        let _ = writeln!(out, "  subgraph scope_{scope}[\"{}\"]", label(scope));
        for a in addresses {
            let _ = writeln!(out, "    {}[\"{}\"]", ids[a], label(&a.to_string()));
        }
        out.push_str("  end\n");
    }
    for (a, id) in &ids {
        for dep in graph.dependencies(a) {
            if let Some(dep_id) = ids.get(&dep) {
                let _ = writeln!(out, "  {dep_id} --> {id}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use drctl_core::ResourceSpec;

    fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    #[test]
    fn nodes_get_safe_ids_and_quoted_address_labels() {
        let graph = DesiredGraph::new(vec![
            ResourceSpec::new(addr("primary/ec2.vpc/main"), "us-east-1"),
            ResourceSpec::new(addr("primary/ec2.subnet/a"), "us-east-1")
                .input("vpc_id", addr("primary/ec2.vpc/main").output("id")),
            ResourceSpec::new(addr("global/iam.role/app"), "us-east-1"),
        ])
        .unwrap();
        let text = flowchart(&graph);
        assert_eq!(
            text,
            "flowchart LR\n\
             \x20 subgraph scope_global[\"global\"]\n\
             \x20   n0[\"global/iam.role/app\"]\n\
             \x20 end\n\
             \x20 subgraph scope_primary[\"primary\"]\n\
             \x20   n1[\"primary/ec2.subnet/a\"]\n\
             \x20   n2[\"primary/ec2.vpc/main\"]\n\
             \x20 end\n\
             \x20 n2 --> n1\n"
        );
        // Every id is a Mermaid-safe word.
        for line in text.lines().filter(|l| l.contains("-->")) {
            for id in line.split("-->") {
                assert!(
                    id.trim()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                );
            }
        }
    }
}
