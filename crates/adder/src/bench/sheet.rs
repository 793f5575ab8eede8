//! A benchmark report as rows: aligned text for a person, and the same
//! figures as JSON for a script (`--json`).

use serde_json::{Map, Value};

#[derive(Default)]
pub struct Sheet {
    /// (label, value); a sub-row's label starts with two spaces.
    rows: Vec<(String, String)>,
    json: Map<String, Value>,
}

impl Sheet {
    pub fn row(&mut self, label: impl Into<String>, value: impl Into<String>) {
        self.rows.push((label.into(), value.into()));
    }

    /// A figure for `--json`, at `path` in nested objects.
    pub fn set(&mut self, path: &[&str], value: impl Into<Value>) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut map = &mut self.json;
        for key in parents {
            let entry = map
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            let Value::Object(inner) = entry else {
                return;
            };
            map = inner;
        }
        map.insert(last.to_string(), value.into());
    }

    /// Every row, labels padded to one column; a sub-row's leading count
    /// right-aligned with the other sub-rows' counts.
    pub fn text(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        let count_width = self
            .rows
            .iter()
            .filter(|(l, _)| l.starts_with("  "))
            .filter_map(|(_, v)| leading_count(v))
            .map(str::len)
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (label, value) in &self.rows {
            let value = match leading_count(value).filter(|_| label.starts_with("  ")) {
                Some(count) => format!("{count:>count_width$}{}", &value[count.len()..]),
                None => value.clone(),
            };
            let line = format!("{label:<width$}  {value}");
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    pub fn json(&self) -> String {
        Value::Object(self.json.clone()).to_string()
    }
}

/// The whole number a value starts with (`12` of `12 (0.5 per array)`).
fn leading_count(value: &str) -> Option<&str> {
    let end = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    (end > 0).then(|| &value[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_line_up_and_sub_row_counts_align_right() {
        let mut sheet = Sheet::default();
        sheet.row("elements", "1000");
        sheet.row("Lambda invocations", "22 (0.02 per element)");
        sheet.row("  reduce", "10 (0.01 per element)");
        sheet.row("  times_two_queue.receive", "1234 (1.2 per element)");
        sheet.row("port calls", "");
        assert_eq!(
            sheet.text(),
            "elements                   1000\n\
             Lambda invocations         22 (0.02 per element)\n  \
             reduce                     10 (0.01 per element)\n  \
             times_two_queue.receive  1234 (1.2 per element)\n\
             port calls\n"
        );
        sheet.set(&["invocations", "reduce", "count"], 10);
        sheet.set(&["elements"], 1000);
        assert_eq!(
            sheet.json(),
            r#"{"elements":1000,"invocations":{"reduce":{"count":10}}}"#
        );
    }
}
