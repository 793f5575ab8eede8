//! Turning `adder sum`'s arguments, file or stdin into a request body.

use std::io::Read;
use std::path::Path;

/// The JSON array to POST, from numbers on the command line, one JSON array
/// argument, a file, or stdin.
pub fn body(numbers: &[String], file: Option<&Path>) -> Result<String, String> {
    if let Some(path) = file {
        if !numbers.is_empty() {
            return Err("give numbers or --file, not both".into());
        }
        if path == Path::new("-") {
            return read_stdin();
        }
        return std::fs::read_to_string(path)
            .map(without_byte_order_mark)
            .map_err(|e| format!("cannot read {}: {e}", path.display()));
    }
    match numbers {
        [] => read_stdin(),
        [one] if one.trim_start().starts_with('[') => Ok(one.clone()),
        many => {
            for (i, n) in many.iter().enumerate() {
                packet::check_number(n)
                    .map_err(|e| format!("argument {} is not a number we can sum: {e}", i + 1))?;
            }
            Ok(format!("[{}]", many.join(",")))
        }
    }
}

fn read_stdin() -> Result<String, String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    Ok(without_byte_order_mark(text))
}

/// A file saved by some Windows editors starts with a UTF-8 byte order
/// mark. The API refuses one in a body (JSON has none), so the client,
/// which knows it read a file, drops it, as the object readers do.
fn without_byte_order_mark(text: String) -> String {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_leading_byte_order_mark_is_dropped() {
        assert_eq!(without_byte_order_mark("\u{feff}[1]".into()), "[1]");
        assert_eq!(without_byte_order_mark("[1]".into()), "[1]");
        assert_eq!(
            without_byte_order_mark("[1,\u{feff}2]".into()),
            "[1,\u{feff}2]"
        );
    }

    #[test]
    fn numbers_become_an_array() {
        let args: Vec<String> = ["1", "-2.5", "3e2"].iter().map(|s| s.to_string()).collect();
        assert_eq!(body(&args, None), Ok("[1,-2.5,3e2]".into()));
        assert_eq!(body(&["[1, 2]".into()], None), Ok("[1, 2]".into()));
        let err = body(&["1".into(), "abc".into()], None).expect_err("not a number");
        assert!(err.contains("argument 2"), "{err}");
        assert!(body(&["1".into()], Some(Path::new("x"))).is_err());
        assert!(body(&[], Some(Path::new("/nonexistent/file.json"))).is_err());
    }
}
