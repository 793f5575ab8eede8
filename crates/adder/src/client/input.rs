//! The array `adder submit` sends: from arguments, a JSON file, stdin, or one
//! column of a CSV file. Numbers keep their exact text; the API checks them
//! again, but a mistake found here names the argument, line or row.

use std::io::Read;
use std::path::Path;

/// The body from arguments, `--file` or stdin. A file or stdin may hold a
/// JSON array or plain numbers separated by whitespace or commas (`seq 1 10 |
/// adder submit`).
pub fn body(numbers: &[String], file: Option<&Path>) -> Result<String, String> {
    let text = crate::input::body(numbers, file)?;
    if !numbers.is_empty() || text.trim_start().starts_with('[') {
        return Ok(text);
    }
    let items: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .collect();
    for (i, n) in items.iter().enumerate() {
        packet::check_number(n)
            .map_err(|e| format!("number {} of the input ({n:?}): {e}", i + 1))?;
    }
    Ok(format!("[{}]", items.join(",")))
}

/// The body from column `column` of the CSV at `path` (`-`: stdin). A column
/// given by name needs a header row; one given by 0-based index reads every
/// row unless `header` says the first is a header.
pub fn csv_body(path: &Path, column: &str, header: bool) -> Result<String, String> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        text
    } else {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?
    };
    csv_column(&text, column, header)
}

fn csv_column(text: &str, column: &str, header: bool) -> Result<String, String> {
    let by_index = column.parse::<usize>().ok();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(by_index.is_none() || header)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let index = match by_index {
        Some(i) => i,
        None => {
            let headers = reader
                .headers()
                .map_err(|e| format!("cannot read the CSV header: {e}"))?;
            headers.iter().position(|h| h == column).ok_or_else(|| {
                let names: Vec<&str> = headers.iter().collect();
                format!(
                    "the CSV has no column {column:?} (columns: {})",
                    names.join(", ")
                )
            })?
        }
    };
    let mut numbers = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("cannot read the CSV: {e}"))?;
        // Lines are 1-based and count the header, as an editor shows them.
        let line = record.position().map_or(0, |p| p.line());
        let cell = record
            .get(index)
            .ok_or_else(|| format!("CSV line {line} has no column {column}"))?;
        if cell.is_empty() {
            return Err(format!("CSV line {line}, column {column} is empty"));
        }
        packet::check_number(cell).map_err(|e| {
            format!("CSV line {line}, column {column} ({cell:?}) is not a number we can sum: {e}")
        })?;
        numbers.push(cell.to_string());
    }
    Ok(format!("[{}]", numbers.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "name,amount\nA, 1.5\n\"B, Inc\",2\nC,-3e2\n";

    #[test]
    fn reads_a_column_by_name_or_index() {
        assert_eq!(csv_column(CSV, "amount", false), Ok("[1.5,2,-3e2]".into()));
        assert_eq!(csv_column(CSV, "1", true), Ok("[1.5,2,-3e2]".into()));
        assert_eq!(csv_column("4\n5\n", "0", false), Ok("[4,5]".into()));
    }

    #[test]
    fn names_the_line_of_a_bad_cell() {
        let err = csv_column(CSV, "name", false).expect_err("names are not numbers");
        assert!(err.starts_with("CSV line 2, column name"), "{err}");
        let err = csv_column("amount\n1\n\n2\n,\n", "amount", false).expect_err("empty");
        assert!(err.contains("is empty"), "{err}");
        let err = csv_column(CSV, "price", false).expect_err("no such column");
        assert!(err.contains("name, amount"), "{err}");
        let err = csv_column(CSV, "5", true).expect_err("short rows");
        assert!(err.contains("no column 5"), "{err}");
    }
}
