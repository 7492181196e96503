//! Printing answers: exact JSON with `--json`, otherwise a readable table.

use serde_json::Value;

/// Prints one object or a list page.
pub fn print(value: &Value, json: bool, columns: &[&str]) {
    if json {
        println!("{value}");
        return;
    }
    match value.get("data").and_then(Value::as_array) {
        Some(rows) => print!("{}", table(rows, columns)),
        None => print!("{}", fields(value)),
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A table cell: times as "3m ago", everything else as is.
fn table_cell(column: &str, v: &Value, now_ms: i64) -> String {
    if column.ends_with("_at") {
        if let Some(ms) = v
            .as_str()
            .and_then(herald_server::timefmt::parse_rfc3339_ms)
        {
            return relative(now_ms - ms);
        }
    }
    cell(v)
}

/// `12s ago`, `3m ago`, `5h ago`, `2d ago`; `in 30s` for future times.
pub fn relative(delta_ms: i64) -> String {
    let secs = delta_ms.abs() / 1000;
    let amount = match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    };
    if delta_ms >= 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// Colours a status word when stdout is a terminal and `NO_COLOR` is unset.
fn paint(column: &str, text: String, colour: bool) -> String {
    if !colour || column != "status" {
        return text;
    }
    let code = match text.as_str() {
        "succeeded" | "active" => "32",
        "failed" | "auto_disabled" => "31",
        "pending" => "33",
        "cancelled" | "disabled" => "90",
        _ => return text,
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Aligned columns, one row per item.
pub fn table(rows: &[Value], columns: &[&str]) -> String {
    table_at(
        rows,
        columns,
        herald_server::timefmt::now_ms(),
        colour_wanted(),
    )
}

fn table_at(rows: &[Value], columns: &[&str], now_ms: i64, colour: bool) -> String {
    let mut grid: Vec<Vec<String>> = vec![columns.iter().map(|c| c.to_uppercase()).collect()];
    for r in rows {
        grid.push(
            columns
                .iter()
                .map(|c| table_cell(c, &r[*c], now_ms))
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            grid.iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, row) in grid.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .zip(columns)
            .map(|((c, w), col)| {
                // Pad before painting so escape codes do not skew the alignment.
                let padded = format!("{c:<w$}");
                let (word, pad) = padded.split_at(c.len());
                format!("{}{pad}", paint(col, word.to_string(), colour && i > 0))
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(none)\n");
    }
    out
}

/// `key: value` lines for one object.
pub fn fields(value: &Value) -> String {
    let Some(map) = value.as_object() else {
        return format!("{}\n", cell(value));
    };
    let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
    map.iter()
        .map(|(k, v)| format!("{k:<width$}  {}\n", cell(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_columns() {
        let rows = vec![
            json!({"id":"app_1","name":"a"}),
            json!({"id":"app_22","name":null}),
        ];
        assert_eq!(
            table(&rows, &["id", "name"]),
            "ID      NAME\napp_1   a\napp_22  -\n"
        );
        assert_eq!(table(&[], &["id"]), "ID\n(none)\n");
        assert_eq!(fields(&json!({"id":"x","n":1})), "id  x\nn   1\n");
    }
}
