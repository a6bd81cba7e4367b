//! `drctl apply --timeline FILE.svg`: a Gantt chart of a run. One row per
//! operation that ran, a bar from its start to its end, labelled with the
//! address and action; the critical path in another colour; a legend and a
//! time axis.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use crate::run::{OpStatus, RunLog};

const LABEL_WIDTH: f64 = 470.0;
const CHART_WIDTH: f64 = 760.0;
const ROW: f64 = 18.0;
const BAR: f64 = 12.0;
const TOP: f64 = 66.0;
const MARGIN: f64 = 10.0;

const COLOUR_BAR: &str = "#4c78a8";
const COLOUR_CRITICAL: &str = "#e45756";
const COLOUR_FAILED: &str = "#222222";

/// Text safe inside an XML element or a double-quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

use crate::duration as seconds;

/// A step for the time axis giving at most about ten ticks.
fn tick_step(total: Duration) -> Duration {
    let total_ms = total.as_millis().max(1) as u64;
    [
        10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000,
        300_000, 600_000, 900_000, 1_800_000, 3_600_000,
    ]
    .into_iter()
    .find(|step| total_ms / step <= 10)
    .map(Duration::from_millis)
    .unwrap_or(Duration::from_secs(7_200))
}

/// The SVG document of `log` (a finished run), titled `title`.
pub fn render(log: &RunLog, title: &str) -> String {
    let critical: BTreeSet<usize> = log.critical_path().into_iter().collect();
    let mut rows: Vec<usize> = (0..log.ops.len())
        .filter(|&i| log.ops[i].start.is_some() && log.ops[i].end.is_some())
        .collect();
    rows.sort_by_key(|&i| (log.ops[i].start, log.ops[i].end, i));
    let last_end = rows
        .iter()
        .filter_map(|&i| log.ops[i].end)
        .max()
        .unwrap_or_default();
    let total = log.elapsed.unwrap_or_default().max(last_end);
    let scale = CHART_WIDTH / total.as_secs_f64().max(0.001);
    let x = |d: Duration| LABEL_WIDTH + d.as_secs_f64() * scale;
    let height = TOP + ROW * rows.len() as f64 + 30.0;
    let width = LABEL_WIDTH + CHART_WIDTH + 2.0 * MARGIN;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="monospace" font-size="11">"#
    );
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" fill="white"/>
<text x="{MARGIN}" y="18" font-size="14" font-weight="bold">{}</text>
<text x="{MARGIN}" y="34">{} operations in {}; critical path: {} operations</text>"#,
        escape(title),
        rows.len(),
        seconds(total),
        critical.len(),
    );
    // Legend.
    for (n, (colour, label)) in [
        (COLOUR_BAR, "operation"),
        (COLOUR_CRITICAL, "critical path"),
        (COLOUR_FAILED, "failed"),
    ]
    .into_iter()
    .enumerate()
    {
        let lx = LABEL_WIDTH + n as f64 * 150.0;
        let _ = writeln!(
            out,
            r#"<g class="legend"><rect x="{lx:.1}" y="8" width="14" height="10" fill="{colour}"/><text x="{:.1}" y="17">{label}</text></g>"#,
            lx + 20.0
        );
    }
    // Time axis: ticks and grid lines.
    let step = tick_step(total);
    let mut t = Duration::ZERO;
    let grid_bottom = TOP + ROW * rows.len() as f64;
    while t <= total {
        let tx = x(t);
        let _ = writeln!(
            out,
            r##"<line x1="{tx:.1}" y1="{:.1}" x2="{tx:.1}" y2="{grid_bottom:.1}" stroke="#dddddd"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP - 8.0,
            TOP - 12.0,
            seconds(t)
        );
        t += step;
    }
    // One row per operation.
    for (row, &i) in rows.iter().enumerate() {
        let op = &log.ops[i];
        let (start, end) = (op.start.unwrap_or_default(), op.end.unwrap_or_default());
        let y = TOP + ROW * row as f64;
        let is_critical = critical.contains(&i);
        let colour = match (op.status, is_critical) {
            (OpStatus::Failed, _) => COLOUR_FAILED,
            (_, true) => COLOUR_CRITICAL,
            _ => COLOUR_BAR,
        };
        let label = format!("{} ({})", op.address, op.action_label());
        let mut tooltip = format!(
            "{label}: {} to {}, {}",
            seconds(start),
            seconds(end),
            seconds(end.saturating_sub(start))
        );
        if let Some(e) = &op.error {
            let _ = write!(tooltip, "; failed: {e}");
        }
        let bar_width = ((end.saturating_sub(start)).as_secs_f64() * scale).max(1.0);
        let class = if is_critical { "op critical" } else { "op" };
        let _ = writeln!(
            out,
            r#"<g class="{class}"><title>{}</title><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect x="{:.1}" y="{:.1}" width="{bar_width:.1}" height="{BAR}" fill="{colour}"/></g>"#,
            escape(&tooltip),
            LABEL_WIDTH - 6.0,
            y + BAR - 2.0,
            escape(&label),
            x(start),
            y,
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::tests::finished_run;

    #[test]
    fn is_well_formed_svg_with_one_row_per_operation_and_the_critical_path_marked() {
        let log = finished_run();
        let svg = render(&log, "apply of `t` <test> & more");
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        let groups = |class: &str| -> Vec<String> {
            root.descendants()
                .filter(|n| n.attribute("class") == Some(class))
                .map(|n| {
                    n.children()
                        .find(|c| c.has_tag_name("text"))
                        .and_then(|t| t.text())
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        };
        let ops = groups("op");
        let critical = groups("op critical");
        assert_eq!(ops.len() + critical.len(), 5);
        assert_eq!(
            critical,
            [
                "primary/ec2.vpc/main (create)",
                "primary/ec2.subnet/a (create)",
                "primary/rds.cluster/db (create)"
            ]
        );
        // The failed operation keeps its colour; the legend names all three.
        let legend: Vec<&str> = root
            .descendants()
            .filter(|n| n.attribute("class") == Some("legend"))
            .filter_map(|g| g.children().find(|c| c.has_tag_name("text"))?.text())
            .collect();
        assert_eq!(legend, ["operation", "critical path", "failed"]);
        assert!(svg.contains("failed: boom"));
    }

    #[test]
    fn bars_start_and_end_at_their_offsets() {
        let log = finished_run();
        let svg = render(&log, "t");
        let doc = roxmltree::Document::parse(&svg).unwrap();
        // vpc: 0 to 100 ms of a 905 ms run.
        let vpc = doc
            .descendants()
            .find(|n| {
                n.has_tag_name("g")
                    && n.descendants()
                        .any(|t| t.text() == Some("primary/ec2.vpc/main (create)"))
            })
            .unwrap();
        let rect = vpc.children().find(|c| c.has_tag_name("rect")).unwrap();
        let x: f64 = rect.attribute("x").unwrap().parse().unwrap();
        let w: f64 = rect.attribute("width").unwrap().parse().unwrap();
        assert!((x - LABEL_WIDTH).abs() < 0.1);
        assert!((w - CHART_WIDTH * 100.0 / 905.0).abs() < 0.2, "{w}");
    }

    #[test]
    fn an_empty_run_is_still_a_document() {
        let log = RunLog::new(&[], &drctl_core::State::new("t"));
        roxmltree::Document::parse(&render(&log, "nothing")).unwrap();
    }
}
