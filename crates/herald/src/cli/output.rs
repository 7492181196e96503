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

/// Aligned columns, one row per item.
pub fn table(rows: &[Value], columns: &[&str]) -> String {
    let mut grid: Vec<Vec<String>> = vec![columns.iter().map(|c| c.to_uppercase()).collect()];
    for r in rows {
        grid.push(columns.iter().map(|c| cell(&r[*c])).collect());
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
    for row in grid {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
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
