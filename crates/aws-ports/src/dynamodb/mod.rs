//! The scratchpad and sums tables on DynamoDB, and the attribute encoding
//! they share.

pub mod scratchpad;
pub mod sums;

pub use scratchpad::DynamoScratchpad;
pub use sums::DynamoSums;

use crate::errors::from_sdk;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use packet::Number;
use pipeline::{PortError, Put};
use std::collections::HashMap;

/// A DynamoDB item, as the SDK gives it.
pub type Item = HashMap<String, AttributeValue>;

/// A number as DynamoDB stores it: a Number when it fits DynamoDB's 38 digits
/// and exponent range, otherwise the exact decimal text in a String, so a sum
/// that outgrows the Number type is still kept without rounding.
pub(crate) fn number_value(n: &Number) -> AttributeValue {
    if n.fits_dynamodb() {
        AttributeValue::N(n.to_string())
    } else {
        AttributeValue::S(n.to_string())
    }
}

pub(crate) fn count_value(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// Writes `item` into `table` unless an item with its key exists, which
/// `absent` (an `attribute_not_exists` of a key attribute) tells.
pub(crate) async fn put_if_absent(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: Item,
    absent: &str,
) -> Result<Put, PortError> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(absent)
        .send()
        .await;
    match result {
        Ok(_) => Ok(Put::Created),
        Err(e) => match e.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(Put::AlreadyThere),
            _ => Err(from_sdk(&format!("PutItem on {table}"), e)),
        },
    }
}

/// Reads attributes of an item, naming the table and attribute when one is
/// missing or of the wrong type: a malformed row is a bug or a foreign
/// writer, never worth a retry.
pub struct Reader<'a> {
    pub table: &'a str,
    pub item: &'a Item,
}

impl Reader<'_> {
    fn malformed(&self, attribute: &str, problem: &str) -> PortError {
        PortError::Rejected(format!(
            "table {}: attribute {attribute} {problem}",
            self.table
        ))
    }

    fn get(&self, attribute: &str) -> Result<&AttributeValue, PortError> {
        self.item
            .get(attribute)
            .ok_or_else(|| self.malformed(attribute, "is missing"))
    }

    pub fn string(&self, attribute: &str) -> Result<String, PortError> {
        match self.get(attribute)? {
            AttributeValue::S(s) => Ok(s.clone()),
            _ => Err(self.malformed(attribute, "is not a string (S)")),
        }
    }

    pub fn optional_string(&self, attribute: &str) -> Result<Option<String>, PortError> {
        match self.item.get(attribute) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.string(attribute).map(Some),
        }
    }

    pub fn count(&self, attribute: &str) -> Result<u64, PortError> {
        match self.get(attribute)? {
            AttributeValue::N(n) => n
                .parse()
                .map_err(|_| self.malformed(attribute, "is not a non-negative integer")),
            _ => Err(self.malformed(attribute, "is not a number (N)")),
        }
    }

    pub fn optional_count(&self, attribute: &str) -> Result<Option<u64>, PortError> {
        match self.item.get(attribute) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.count(attribute).map(Some),
        }
    }

    /// A number written by [`number_value`]: N, or S holding the exact decimal.
    pub fn number(&self, attribute: &str) -> Result<Number, PortError> {
        match self.get(attribute)? {
            AttributeValue::N(text) | AttributeValue::S(text) => Number::parse_unchecked(text)
                .map_err(|_| self.malformed(attribute, "is not a decimal number")),
            _ => Err(self.malformed(attribute, "is neither N nor S")),
        }
    }

    pub fn optional_number(&self, attribute: &str) -> Result<Option<Number>, PortError> {
        match self.item.get(attribute) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(_) => self.number(attribute).map(Some),
        }
    }

    pub fn boolean(&self, attribute: &str) -> Result<bool, PortError> {
        match self.get(attribute)? {
            AttributeValue::Bool(b) => Ok(*b),
            _ => Err(self.malformed(attribute, "is not a boolean (BOOL)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_that_outgrow_dynamodb_become_strings() {
        let n = |s: &str| Number::parse_unchecked(s).expect("number");
        assert_eq!(number_value(&n("0.3")), AttributeValue::N("0.3".into()));
        let wide = n("123456789012345678901234567890123456789012345678901234567890");
        assert!(matches!(number_value(&wide), AttributeValue::S(_)));
        let item: Item = [("v".to_string(), number_value(&wide))].into();
        let reader = Reader {
            table: "t",
            item: &item,
        };
        assert_eq!(reader.number("v"), Ok(wide));
    }

    #[test]
    fn names_the_malformed_attribute() {
        let item: Item = [("n".to_string(), AttributeValue::S("x".into()))].into();
        let reader = Reader {
            table: "T",
            item: &item,
        };
        assert_eq!(
            reader.count("n"),
            Err(PortError::Rejected(
                "table T: attribute n is not a number (N)".into()
            ))
        );
        assert_eq!(
            reader.boolean("missing"),
            Err(PortError::Rejected(
                "table T: attribute missing is missing".into()
            ))
        );
        assert!(reader.number("n").is_err());
    }
}
