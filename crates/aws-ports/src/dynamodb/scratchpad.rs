//! [`Scratchpad`] on a DynamoDB table keyed by `arrayId` (hash) and
//! `packetId` (range), with the original adder's attribute names: `arrayId`
//! holds a [`RowKey::partition_key`], which is not always an array id.

use super::{count_value, number_value, put_if_absent, Item, Reader};
use crate::errors::{from_build, from_sdk};
use crate::retry::backoff;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::stream::{self, StreamExt};
use packet::job::Stored;
use pipeline::{PortError, Put, RowKey, Scratchpad, ScratchpadRow};
use std::collections::{BTreeMap, HashMap};

/// Public for the admin tools' Scan (`stack-tools`).
pub const PARTITION_KEY: &str = "arrayId";
const PACKET_ID: &str = "packetId";
const PACKET_VALUE: &str = "packetValue";
/// A row's value for a job other than `sum`: its text encoding.
pub const JOB_VALUE: &str = "jobValue";
const ARRAY_LENGTH: &str = "arrayLength";
/// Elements summed in the row (bytes are `packetContains` for an object).
const ELEMENT_COUNT: &str = "elementCount";
const PACKET_CONTAINS: &str = "packetContains";
const EXPIRES_AT: &str = "expiresAt";
const CONSUMED: &str = "consumed";

/// Most writes DynamoDB takes in one BatchWriteItem call. moto takes more, so
/// the limit is kept here rather than discovered in production.
pub const MAX_BATCH_WRITE: usize = 25;
/// BatchWriteItem calls in flight at once for one `retire`.
const WRITES_IN_FLIGHT: usize = 4;
/// Tries for the items a BatchWriteItem leaves unprocessed, the first included.
const WRITE_ATTEMPTS: u32 = 8;

/// The scratchpad table.
#[derive(Clone, Debug)]
pub struct DynamoScratchpad {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoScratchpad {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> DynamoScratchpad {
        DynamoScratchpad {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn item(row: &ScratchpadRow) -> Item {
        let value = match &row.packet_value {
            Stored::Number(n) => (PACKET_VALUE.into(), number_value(n)),
            Stored::Text(t) => (JOB_VALUE.into(), AttributeValue::S(t.clone())),
        };
        HashMap::from([
            (
                PARTITION_KEY.into(),
                AttributeValue::S(row.key.partition_key.clone()),
            ),
            (
                PACKET_ID.into(),
                AttributeValue::S(row.key.packet_id.clone()),
            ),
            value,
            (ARRAY_LENGTH.into(), count_value(row.array_length)),
            (PACKET_CONTAINS.into(), count_value(row.packet_contains)),
            (ELEMENT_COUNT.into(), count_value(row.elements)),
            (EXPIRES_AT.into(), count_value(row.expires_at)),
            (CONSUMED.into(), AttributeValue::Bool(row.consumed)),
        ])
    }

    /// A row as this table stores it (the admin tools read rows by Scan too).
    pub fn row(&self, item: &Item) -> Result<ScratchpadRow, PortError> {
        let r = Reader {
            table: &self.table,
            item,
        };
        Ok(ScratchpadRow {
            key: RowKey {
                partition_key: r.string(PARTITION_KEY)?,
                packet_id: r.string(PACKET_ID)?,
            },
            packet_value: match r.optional_string(JOB_VALUE)? {
                Some(text) => Stored::Text(text),
                None => Stored::Number(r.number(PACKET_VALUE)?),
            },
            array_length: r.count(ARRAY_LENGTH)?,
            packet_contains: r.count(PACKET_CONTAINS)?,
            // Rows written before object arrays: an array's elements are its units.
            elements: match r.optional_count(ELEMENT_COUNT)? {
                Some(n) => n,
                None => r.count(PACKET_CONTAINS)?,
            },
            expires_at: r.count(EXPIRES_AT)?,
            consumed: r.boolean(CONSUMED)?,
        })
    }

    /// Writes one batch of at most [`MAX_BATCH_WRITE`] rows, retrying what
    /// DynamoDB leaves unprocessed (it does so under throttling).
    async fn write_batch(&self, mut writes: Vec<WriteRequest>) -> Result<(), PortError> {
        for attempt in 1..=WRITE_ATTEMPTS {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, writes)
                .send()
                .await
                .map_err(|e| from_sdk(&format!("BatchWriteItem on {}", self.table), e))?;
            writes = out
                .unprocessed_items()
                .and_then(|u| u.get(&self.table))
                .cloned()
                .unwrap_or_default();
            if writes.is_empty() {
                return Ok(());
            }
            if attempt < WRITE_ATTEMPTS {
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
        Err(PortError::Throttled(format!(
            "BatchWriteItem on {}: {} items still unprocessed after {WRITE_ATTEMPTS} tries",
            self.table,
            writes.len()
        )))
    }
}

#[async_trait]
impl Scratchpad for DynamoScratchpad {
    async fn put_new(&self, row: &ScratchpadRow) -> Result<Put, PortError> {
        let absent = "attribute_not_exists(packetId)";
        put_if_absent(&self.client, &self.table, Self::item(row), absent).await
    }

    async fn group(&self, partition_key: &str) -> Result<Vec<ScratchpadRow>, PortError> {
        let mut items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#a = :a")
            .expression_attribute_names("#a", PARTITION_KEY)
            .expression_attribute_values(":a", AttributeValue::S(partition_key.to_string()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut rows = Vec::new();
        while let Some(item) = items
            .try_next()
            .await
            .map_err(|e| from_sdk(&format!("Query on {}", self.table), e))?
        {
            rows.push(self.row(&item)?);
        }
        Ok(rows)
    }

    async fn retire(&self, retired: &[ScratchpadRow]) -> Result<(), PortError> {
        // One BatchWriteItem may not name a key twice; the last write wins, as
        // it would if the rows were written one after the other.
        let unique: BTreeMap<&RowKey, &ScratchpadRow> =
            retired.iter().map(|r| (&r.key, r)).collect();
        let mut writes = Vec::with_capacity(unique.len());
        for row in unique.values() {
            let put = PutRequest::builder()
                .set_item(Some(Self::item(&ScratchpadRow {
                    consumed: true,
                    ..(*row).clone()
                })))
                .build()
                .map_err(|e| from_build("BatchWriteItem PutRequest", e))?;
            writes.push(WriteRequest::builder().put_request(put).build());
        }
        let batches: Vec<Vec<WriteRequest>> = writes
            .chunks(MAX_BATCH_WRITE)
            .map(<[WriteRequest]>::to_vec)
            .collect();
        let results: Vec<Result<(), PortError>> = stream::iter(batches)
            .map(|batch| self.write_batch(batch))
            .buffer_unordered(WRITES_IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().collect()
    }
}
