//! Plans in Terraform's idiom: `+` create, `~` update, `-/+` replace (with
//! "# forces replacement" on the attribute that forces it), `-` delete,
//! "(known after apply)", data-loss marks, and the `Plan:` summary line.

use std::fmt::Write as _;

use drctl_core::plan::{AfterValue, AttributeChange};
use drctl_core::{Action, Plan};

use crate::style::Palette;

/// A value as JSON; long strings (a Lambda package, a document) are cut,
/// since their hash or their parts are what a reader compares.
fn value(v: &serde_json::Value) -> String {
    const LONG: usize = 160;
    match v {
        serde_json::Value::String(s) if s.len() > LONG => {
            let head: String = s.chars().take(48).collect();
            format!("\"{head}...\" ({} characters)", s.len())
        }
        _ => v.to_string(),
    }
}

const UNKNOWN: &str = "(known after apply)";

fn sign_colour(p: Palette, sign: &str) -> String {
    match sign {
        "+" => p.green(sign),
        "~" => p.yellow(sign),
        "-" => p.red(sign),
        "-/+" => format!("{}{}{}", p.red("-"), "/", p.green("+")),
        other => other.to_owned(),
    }
}

/// Where attribute lines go and how they are laid out.
#[derive(Clone, Copy)]
struct Column {
    p: Palette,
    indent: usize,
    /// Names are padded to this width so the `=` signs line up.
    width: usize,
}

/// One line per attribute; a partially known map opens a block with one
/// line per member.
fn attribute(
    out: &mut String,
    col: Column,
    sign: &str,
    name: &str,
    before: Option<&serde_json::Value>,
    after: &AfterValue,
    note: &str,
) {
    let Column { p, indent, width } = col;
    let pad = " ".repeat(indent);
    let lhs = format!("{pad}{} {name:<width$} =", sign_colour(p, sign));
    let shown_after = |a: &AfterValue| match a {
        AfterValue::Known(v) => value(v),
        AfterValue::KnownAfterApply => p.dim(UNKNOWN),
        AfterValue::Removed => "null".into(),
        AfterValue::Partial(_) => "{...}".into(),
    };
    match after {
        AfterValue::Partial(members) => {
            let _ = writeln!(out, "{lhs} {{{note}");
            let before_members = before.and_then(serde_json::Value::as_object);
            let member_col = Column {
                p,
                indent: indent + 4,
                width: members.keys().map(|k| k.len() + 2).max().unwrap_or(0),
            };
            for (key, member) in members {
                let old = before_members.and_then(|m| m.get(key));
                let member_sign = match (old, member) {
                    (None, _) => "+",
                    (Some(o), AfterValue::Known(n)) if o == n => " ",
                    _ => "~",
                };
                attribute(
                    out,
                    member_col,
                    member_sign,
                    &format!("\"{key}\""),
                    old,
                    member,
                    "",
                );
            }
            for (key, old) in before_members.into_iter().flatten() {
                if !members.contains_key(key) {
                    attribute(
                        out,
                        member_col,
                        "-",
                        &format!("\"{key}\""),
                        Some(old),
                        &AfterValue::Removed,
                        "",
                    );
                }
            }
            let _ = writeln!(out, "{pad}  }}");
        }
        _ => {
            let rhs = match (sign, before) {
                ("~", Some(b)) => format!("{} -> {}", value(b), shown_after(after)),
                ("-", Some(b)) => value(b),
                _ => shown_after(after),
            };
            let _ = writeln!(out, "{lhs} {rhs}{note}");
        }
    }
}

fn attribute_line(out: &mut String, p: Palette, sign: &str, a: &AttributeChange, width: usize) {
    let note = if a.forces_replacement {
        p.red(" # forces replacement")
    } else {
        String::new()
    };
    let col = Column {
        p,
        indent: 6,
        width,
    };
    attribute(out, col, sign, &a.name, a.before.as_ref(), &a.after, &note);
}

/// What refresh found changed outside drctl, with attribute diffs.
fn drift(out: &mut String, plan: &Plan, p: Palette) {
    if plan.drift.is_empty() {
        return;
    }
    out.push_str("Changed outside drctl (found by refresh; state now records it):\n\n");
    for d in &plan.drift {
        let what = if d.gone {
            "was deleted outside drctl"
        } else {
            "changed outside drctl"
        };
        let _ = writeln!(out, "  {} {what}", p.bold(&format!("# {}", d.address)));
        let width = d.attributes.iter().map(|a| a.name.len()).max().unwrap_or(0);
        for a in &d.attributes {
            let sign = match (&a.before, &a.after) {
                (None, _) => "+",
                (_, AfterValue::Removed) => "-",
                _ => "~",
            };
            attribute_line(out, p, sign, a, width);
        }
        out.push('\n');
    }
}

/// What refresh found changed outside drctl, alone (`drctl refresh`).
pub fn render_drift(plan: &Plan, p: Palette) -> String {
    let mut out = String::new();
    drift(&mut out, plan, p);
    out
}

/// A targeted plan says so, and what it leaves out.
fn selection(out: &mut String, plan: &Plan, p: Palette) {
    let Some(sel) = plan.selection.as_ref().filter(|s| s.is_partial()) else {
        return;
    };
    let mut flags: Vec<String> = Vec::new();
    flags.extend(sel.targets.iter().map(|t| format!("--target {t}")));
    flags.extend(sel.excludes.iter().map(|t| format!("--exclude {t}")));
    let _ = writeln!(
        out,
        "{}\n",
        p.yellow(&format!(
            "Partial plan ({}): {} change(s) of the full plan are left out. Run a full plan afterwards to see the environment as a whole.",
            flags.join(" "),
            sel.left_out
        ))
    );
}

/// The plan as text, painted with `p`.
pub fn render(plan: &Plan, p: Palette) -> String {
    let mut out = String::new();
    drift(&mut out, plan, p);
    selection(&mut out, plan, p);
    if !plan.has_changes() {
        out.push_str(match &plan.selection {
            Some(s) if s.is_partial() => "No changes in the selected resources.\n",
            _ => "No changes. The environment matches the configuration.\n",
        });
        return out;
    }
    out.push_str("drctl will perform the following actions:\n\n");
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let (sign, what) = match c.action {
            Action::Create => ("+", "will be created"),
            Action::Update => ("~", "will be updated in place"),
            Action::Replace => ("-/+", "must be replaced"),
            Action::Delete => ("-", "will be destroyed"),
            Action::NoOp => unreachable!("filtered out"),
        };
        let requested = plan
            .selection
            .as_ref()
            .is_some_and(|sel| sel.replace.contains(&c.address));
        let what = if requested {
            "must be replaced (requested with --replace)"
        } else {
            what
        };
        let data = if c.data_loss {
            p.red(" (its data is lost: needs --allow-data-loss)")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {} {what}{data}",
            p.bold(&format!("# {}", c.address))
        );
        let _ = writeln!(
            out,
            "  {} {} ({})",
            sign_colour(p, sign),
            c.address,
            c.region
        );
        let width = c.attributes.iter().map(|a| a.name.len()).max().unwrap_or(0);
        for a in &c.attributes {
            let attr_sign = match c.action {
                Action::Create => "+",
                Action::Delete => "-",
                _ if a.before.is_none() => "+",
                _ if a.after == AfterValue::Removed => "-",
                _ => "~",
            };
            attribute_line(&mut out, p, attr_sign, a, width);
        }
        // What the delete deliberately leaves behind (a final snapshot).
        for (name, v) in &c.leaves {
            let _ = writeln!(
                out,
                "      {}",
                p.bold(&format!("# leaves {name} = {}", value(v)))
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", p.bold(&plan.summary().to_string()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use drctl_core::{PlanOperation, ResourceChange, State};
    use serde_json::json;
    use std::collections::BTreeMap;

    fn change(action: Action, attributes: Vec<AttributeChange>) -> ResourceChange {
        ResourceChange {
            address: "primary/ec2.subnet/a".parse().unwrap(),
            region: "us-east-1".into(),
            action,
            inputs: BTreeMap::new(),
            depends_on: Default::default(),
            attributes,
            data_loss: false,
            leaves: BTreeMap::new(),
        }
    }

    fn plan(changes: Vec<ResourceChange>) -> Plan {
        Plan::new(PlanOperation::Apply, &State::new("t"), false, changes)
    }

    fn partial_tags() -> AttributeChange {
        AttributeChange {
            name: "tags".into(),
            before: None,
            after: AfterValue::Partial(BTreeMap::from([
                ("Name".to_string(), AfterValue::Known(json!("a"))),
                ("vpc".to_string(), AfterValue::KnownAfterApply),
            ])),
            forces_replacement: false,
        }
    }

    #[test]
    fn partially_known_map_shows_its_known_members() {
        let text = render(
            &plan(vec![change(
                Action::Create,
                vec![
                    AttributeChange {
                        name: "cidr".into(),
                        before: None,
                        after: AfterValue::Known(json!("10.0.1.0/24")),
                        forces_replacement: false,
                    },
                    partial_tags(),
                ],
            )]),
            Palette::PLAIN,
        );
        assert_eq!(
            text,
            "drctl will perform the following actions:\n\n\
             \x20 # primary/ec2.subnet/a will be created\n\
             \x20 + primary/ec2.subnet/a (us-east-1)\n\
             \x20     + cidr = \"10.0.1.0/24\"\n\
             \x20     + tags = {\n\
             \x20         + \"Name\" = \"a\"\n\
             \x20         + \"vpc\"  = (known after apply)\n\
             \x20       }\n\
             \n\
             Plan: 1 to add, 0 to change, 0 to destroy.\n"
        );
    }

    #[test]
    fn update_of_a_partial_map_marks_changed_and_removed_members() {
        let mut tags = partial_tags();
        tags.before = Some(json!({"Name": "a", "vpc": "vpc-1", "old": "x"}));
        let text = render(
            &plan(vec![change(Action::Update, vec![tags])]),
            Palette::PLAIN,
        );
        assert!(text.contains("      ~ tags = {\n"), "{text}");
        assert!(text.contains("            \"Name\" = \"a\"\n"), "{text}");
        assert!(
            text.contains("          ~ \"vpc\"  = \"vpc-1\" -> (known after apply)\n"),
            "{text}"
        );
        assert!(text.contains("          - \"old\"  = \"x\"\n"), "{text}");
    }

    #[test]
    fn replacement_names_the_attribute_that_forces_it_and_colour_is_optional() {
        let p = plan(vec![change(
            Action::Replace,
            vec![AttributeChange {
                name: "cidr".into(),
                before: Some(json!("10.0.1.0/24")),
                after: AfterValue::Known(json!("10.0.2.0/24")),
                forces_replacement: true,
            }],
        )]);
        let plain = render(&p, Palette::PLAIN);
        assert!(
            plain.contains(
                "      ~ cidr = \"10.0.1.0/24\" -> \"10.0.2.0/24\" # forces replacement\n"
            )
        );
        assert!(plain.contains("  -/+ primary/ec2.subnet/a (us-east-1)\n"));
        assert!(!plain.contains('\u{1b}'));
        let painted = render(&p, Palette::COLOUR);
        assert!(painted.contains("\u{1b}[31m"));
        // Without the escape codes, the painted text is the plain one.
        let stripped = strip_ansi(&painted);
        assert_eq!(stripped, plain);
    }

    #[test]
    fn a_delete_shows_what_it_leaves_behind() {
        let mut c = change(
            Action::Delete,
            vec![AttributeChange {
                name: "cidr".into(),
                before: Some(json!("10.0.1.0/24")),
                after: AfterValue::Removed,
                forces_replacement: false,
            }],
        );
        c.data_loss = true;
        c.leaves.insert(
            "final_snapshot_identifier".into(),
            json!("payment-dev-primary-final-20261202052703"),
        );
        let text = render(&plan(vec![c]), Palette::PLAIN);
        assert_eq!(
            text,
            "drctl will perform the following actions:\n\n\
             \x20 # primary/ec2.subnet/a will be destroyed (its data is lost: needs --allow-data-loss)\n\
             \x20 - primary/ec2.subnet/a (us-east-1)\n\
             \x20     - cidr = \"10.0.1.0/24\"\n\
             \x20     # leaves final_snapshot_identifier = \"payment-dev-primary-final-20261202052703\"\n\
             \n\
             Plan: 0 to add, 0 to change, 1 to destroy.\n"
        );
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
