//! Docker-style output: tabwriter-aligned tables, human sizes and durations, and a small subset of
//! Go templates (`{{.Field}}`, `{{json .}}`, `table …`).

use std::collections::BTreeMap;

use hull_engine::view::human_duration;
use serde_json::Value;

/// Aligns rows into columns as Docker's CLI does (Go's tabwriter with padding 3 and a minimum
/// cell width of 10): each column as wide as its widest cell plus three spaces, at least 10;
/// the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let last = row.len().saturating_sub(1);
        for (c, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if c < last {
                let pad = (widths[c] + 3).max(10) - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// Decimal sizes with three significant digits, as Docker prints them: `4.26MB`, `872kB`, `0B`.
pub fn human_size(bytes: u64) -> String {
    human_size_with_precision(bytes, 3)
}

/// Decimal sizes with `digits` significant digits (Go's `%.Ng`, as Docker's units package).
pub fn human_size_with_precision(bytes: u64, digits: usize) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    scaled(bytes, 1000.0, &UNITS, digits)
}

/// Binary sizes with four significant digits, as Docker prints memory: `23.45GiB`.
pub fn human_size_binary(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    scaled(bytes, 1024.0, &UNITS, 4)
}

/// `bytes` in the largest unit (each `base` times the last) that keeps it at least 1.
fn scaled(bytes: u64, base: f64, units: &[&str], digits: usize) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= base && unit < units.len() - 1 {
        value /= base;
        unit += 1;
    }
    format!("{}{}", significant(value, digits), units[unit])
}

fn significant(v: f64, digits: usize) -> String {
    let whole_digits = match v {
        _ if v >= 100.0 => 3,
        _ if v >= 10.0 => 2,
        _ => 1,
    };
    let decimals = digits.saturating_sub(whole_digits);
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// "2 hours ago" for an RFC 3339 time, or "N/A".
pub fn since(rfc3339: Option<&str>) -> String {
    match rfc3339.and_then(hull_image::time::parse_rfc3339) {
        Some(t) => format!("{} ago", human_duration(now_secs() - t)),
        None => "N/A".to_string(),
    }
}

pub fn now_secs() -> i64 {
    hull_image::time::now_secs()
}

/// A `--format` value, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    /// A template; `table` says whether a header row is printed (`table {{.ID}}`).
    Template {
        text: String,
        table: bool,
    },
}

impl OutputFormat {
    pub fn parse(s: Option<&str>) -> OutputFormat {
        match s.map(str::trim) {
            None | Some("") | Some("table") => OutputFormat::Table,
            Some("json") | Some("{{json .}}") => OutputFormat::Json,
            Some(t) => match t.strip_prefix("table ") {
                Some(rest) => OutputFormat::Template {
                    text: rest.to_string(),
                    table: true,
                },
                None => OutputFormat::Template {
                    text: t.to_string(),
                    table: false,
                },
            },
        }
    }
}

/// Expands `{{.Field}}`, `{{.Field.Sub}}` and `{{json .Field}}` / `{{json .}}` against `value`.
/// Also understands the escapes `\t` and `\n`. Unknown fields are an error naming the field.
pub fn render_template(text: &str, value: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("template {text:?}: unclosed action"))?;
        let action = rest[start + 2..start + end].trim();
        out.push_str(&render_action(action, value)?);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out.replace("\\t", "\t").replace("\\n", "\n"))
}

fn render_action(action: &str, value: &Value) -> Result<String, String> {
    let (json, path) = match action.strip_prefix("json ") {
        Some(p) => (true, p.trim()),
        None => (false, action),
    };
    let field = lookup(value, path)?;
    Ok(match (json, field) {
        (true, v) => v.to_string(),
        (false, Value::String(s)) => s.clone(),
        (false, Value::Null) => "<no value>".to_string(),
        (false, Value::Array(items)) => {
            let parts: Vec<String> = items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect();
            format!("[{}]", parts.join(" "))
        }
        (false, v) => v.to_string(),
    })
}

fn lookup<'a>(value: &'a Value, path: &str) -> Result<&'a Value, String> {
    if path == "." {
        return Ok(value);
    }
    let path = path
        .strip_prefix('.')
        .ok_or_else(|| format!("template: unsupported action {path:?}"))?;
    let mut cur = value;
    for key in path.split('.') {
        cur = cur
            .get(key)
            .ok_or_else(|| format!("template: can't evaluate field {key}"))?;
    }
    Ok(cur)
}

/// The header row of a `table` template: each `{{.Field}}` becomes its upper-snake name.
pub fn template_header(text: &str, headers: &BTreeMap<&str, &str>) -> String {
    let mut out = text.to_string();
    for (field, header) in headers {
        out = out.replace(&format!("{{{{.{field}}}}}"), header);
    }
    out.replace("\\t", "\t")
}

/// A template expanded for each of `rows`, a line each. A `table` template gets its header
/// first (`headers` names each field's column) and its tab-separated cells aligned, as Docker's
/// CLI aligns them; another is printed as it expands.
pub fn render_rows(
    text: &str,
    is_table: bool,
    headers: &BTreeMap<&str, &str>,
    rows: &[Value],
) -> Result<String, String> {
    let mut lines = Vec::new();
    if is_table {
        lines.push(template_header(text, headers));
    }
    for r in rows {
        lines.push(render_template(text, r)?);
    }
    if !is_table {
        return Ok(lines.iter().map(|l| format!("{l}\n")).collect());
    }
    let cells: Vec<Vec<String>> = lines
        .iter()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    Ok(table(&cells))
}

/// Prints `inspect` documents as Docker does: one pretty JSON array by default, one compact
/// document a line with `--format json`, or a template expanded for each document.
pub fn print_documents(format: Option<&str>, docs: Vec<Value>) -> anyhow::Result<()> {
    match OutputFormat::parse(format) {
        OutputFormat::Template { text, .. } => {
            for d in &docs {
                println!("{}", render_template(&text, d).map_err(anyhow::Error::msg)?);
            }
        }
        OutputFormat::Json => {
            for d in &docs {
                println!("{d}");
            }
        }
        OutputFormat::Table => println!("{}", serde_json::to_string_pretty(&Value::Array(docs))?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binary_sizes_read_like_dockers_memory() {
        assert_eq!(human_size_binary(24_589_428 * 1024), "23.45GiB");
        assert_eq!(human_size_binary(512), "512B");
        assert_eq!(human_size_binary(1536), "1.5KiB");
    }

    #[test]
    fn sizes_read_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_261_000), "4.26MB");
        assert_eq!(human_size(12_340_000), "12.3MB");
        assert_eq!(human_size(872_000), "872kB");
        assert_eq!(human_size(1_000_000_000), "1GB");
        assert_eq!(human_size_with_precision(1_984_000, 4), "1.984MB");
        assert_eq!(human_size_with_precision(1_234_567, 4), "1.235MB");
        assert_eq!(human_size_with_precision(275, 4), "275B");
        assert_eq!(human_size_with_precision(100_000, 4), "100kB");
    }

    #[test]
    fn table_aligns_as_dockers_tabwriter() {
        let rows = vec![
            vec!["A".to_string(), "BB".to_string(), "C".to_string()],
            vec!["long".to_string(), "x".to_string(), "y".to_string()],
        ];
        // Narrow columns are 10 wide.
        assert_eq!(
            table(&rows),
            "A         BB        C\nlong      x         y\n"
        );
        let header = [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ];
        let rows = vec![header.iter().map(|s| s.to_string()).collect()];
        // `docker ps` on a host with no containers.
        assert_eq!(
            table(&rows),
            "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
        );
    }

    #[test]
    fn table_templates_align_and_others_print_as_they_expand() {
        let rows = [json!({"Name": "web", "Driver": "bridge"})];
        let headers: BTreeMap<&str, &str> = [("Name", "NAME"), ("Driver", "DRIVER")].into();
        let t = render_rows("{{.Name}}\\t{{.Driver}}", true, &headers, &rows).unwrap();
        assert_eq!(t, "NAME      DRIVER\nweb       bridge\n");
        let raw = render_rows("{{.Name}}\\t{{.Driver}}", false, &headers, &rows).unwrap();
        assert_eq!(raw, "web\tbridge\n");
    }

    #[test]
    fn templates_expand_fields_and_json() {
        let v = json!({"Repository": "busybox", "Tag": "latest", "Config": {"Cmd": ["sh"]}});
        assert_eq!(
            render_template("{{.Repository}}:{{.Tag}}", &v).unwrap(),
            "busybox:latest"
        );
        assert_eq!(
            render_template("{{json .Config.Cmd}}", &v).unwrap(),
            "[\"sh\"]"
        );
        assert_eq!(render_template("{{.Config.Cmd}}", &v).unwrap(), "[sh]");
        assert!(render_template("{{.Nope}}", &v)
            .unwrap_err()
            .contains("Nope"));
        assert_eq!(
            OutputFormat::parse(Some("table {{.ID}}")),
            OutputFormat::Template {
                text: "{{.ID}}".into(),
                table: true
            }
        );
    }
}
