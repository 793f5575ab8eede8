//! Parsing the POSTed JSON array without losing a digit.
//!
//! Elements are kept as the exact text the client sent (a borrowed slice of the
//! body) when it is short, and otherwise rewritten in a short canonical form of
//! the same value ([`canonical`]), checked against DynamoDB's Number limits, and
//! never converted to a float. The errors say what was wrong and where, so the API can answer 400
//! with a message a client can act on.

use crate::number::{canonical, check_number, NumberError};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Why a request body is not an array of numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is empty; send a JSON array of numbers, e.g. [1,2,3]")]
    Empty,
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the request body must be a JSON array of numbers, but it is {0}")]
    NotAnArray(&'static str),
    #[error("element {index} is {found}, but every element must be a number")]
    NotANumber { index: usize, found: &'static str },
    #[error("element {index}: {source}")]
    BadNumber {
        index: usize,
        #[source]
        source: NumberError,
    },
}

fn kind_of(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't') | Some(b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Parses `body` as a JSON array of numbers and returns each element's text,
/// at most [`crate::MAX_ELEMENT_TEXT`] bytes long.
pub fn parse_array(body: &str) -> Result<Vec<Cow<'_, str>>, BodyError> {
    if body.trim().is_empty() {
        return Err(BodyError::Empty);
    }
    let whole: &RawValue =
        serde_json::from_str(body).map_err(|e| BodyError::InvalidJson(e.to_string()))?;
    let kind = kind_of(whole.get());
    if kind != "an array" {
        return Err(BodyError::NotAnArray(kind));
    }
    let elements: Vec<&RawValue> =
        serde_json::from_str(whole.get()).map_err(|e| BodyError::InvalidJson(e.to_string()))?;
    let mut texts = Vec::with_capacity(elements.len());
    for (index, element) in elements.into_iter().enumerate() {
        let text = element.get();
        let found = kind_of(text);
        if found != "a number" {
            return Err(BodyError::NotANumber { index, found });
        }
        check_number(text).map_err(|source| BodyError::BadNumber { index, source })?;
        texts.push(canonical(text));
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_each_element_verbatim() {
        let texts = parse_array(" [1, -2.50, 3e2,\n9007199254740993 ] ").expect("valid");
        assert_eq!(texts, vec!["1", "-2.50", "3e2", "9007199254740993"]);
        assert!(parse_array("[]").expect("valid").is_empty());
    }

    #[test]
    fn long_elements_arrive_short() {
        let long = format!("[1.{}, 2]", "0".repeat(10_000));
        assert_eq!(parse_array(&long).expect("valid"), vec!["1", "2"]);
    }

    #[test]
    fn says_what_and_where() {
        assert_eq!(parse_array(""), Err(BodyError::Empty));
        assert_eq!(parse_array("  \n"), Err(BodyError::Empty));
        assert!(matches!(
            parse_array("[1,2"),
            Err(BodyError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_array("[1] x"),
            Err(BodyError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_array("[NaN]"),
            Err(BodyError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_array("\u{feff}[1]"),
            Err(BodyError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_array("[1 /* c */]"),
            Err(BodyError::InvalidJson(_))
        ));
        assert_eq!(
            parse_array("{\"a\":1}"),
            Err(BodyError::NotAnArray("an object"))
        );
        assert_eq!(
            parse_array("\"[1]\""),
            Err(BodyError::NotAnArray("a string"))
        );
        assert_eq!(parse_array("12"), Err(BodyError::NotAnArray("a number")));
        assert_eq!(parse_array("null"), Err(BodyError::NotAnArray("null")));
        assert_eq!(
            parse_array("[1,\"a\",3]"),
            Err(BodyError::NotANumber {
                index: 1,
                found: "a string"
            })
        );
        assert_eq!(
            parse_array("[1,2,[3]]"),
            Err(BodyError::NotANumber {
                index: 2,
                found: "an array"
            })
        );
        assert_eq!(
            parse_array("[true]"),
            Err(BodyError::NotANumber {
                index: 0,
                found: "a boolean"
            })
        );
        assert_eq!(
            parse_array("[0, null]"),
            Err(BodyError::NotANumber {
                index: 1,
                found: "null"
            })
        );
        let err = parse_array("[0, 1, 1e200]").expect_err("out of range");
        assert!(matches!(err, BodyError::BadNumber { index: 2, .. }));
        assert!(err.to_string().starts_with("element 2:"), "{err}");
    }
}
