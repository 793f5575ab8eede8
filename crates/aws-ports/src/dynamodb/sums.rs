//! [`Sums`] on a DynamoDB table keyed by `arrayId`.

use super::{count_value, number_value, put_if_absent, Item, Reader};
use crate::errors::from_sdk;
use async_trait::async_trait;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use packet::job::{JobSpec, Stored};
use pipeline::{
    Claimed, Completion, Failing, Failure, FailureKind, KeyClaim, PortError, Progress, Put, Status,
    SumRecord, Sums, FAILED_RECORD_RETENTION_SECONDS,
};
use std::collections::HashMap;

// The attribute names are public for the admin tools' Scans
// (`stack-tools`), which read the table directly.
pub const ARRAY_ID: &str = "arrayId";
pub const STATUS: &str = "status";
pub const ARRAY_LENGTH: &str = "arrayLength";
const CHUNK_SIZE: &str = "chunkSize";
const FAN_IN: &str = "fanIn";
/// The original's name for the result (`SET resultSum = :resultSum`), kept so
/// `aws dynamodb get-item` on the sums table reads as its users were promised.
pub const RESULT_SUM: &str = "resultSum";
/// The result of a job other than `sum`, encoded.
pub const RESULT_VALUE: &str = "resultValue";
/// The job an array runs, as JSON; absent for `sum`, the default.
pub const JOB: &str = "job";
pub const SUBMITTED_AT: &str = "submittedAt";
const FINISHED_AT: &str = "finishedAt";
pub const REDUCED_ELEMENTS: &str = "reducedElements";
const MAPPED_BYTES: &str = "mappedBytes";
/// Every range of an object array was sent.
const RANGES_ENQUEUED: &str = "rangesEnqueued";
const ELEMENT_COUNT: &str = "elementCount";
/// An object array's object (bucket, key, version, ETag, size, format), as JSON.
const SOURCE: &str = "source";
pub const DEADLINE_AT: &str = "deadlineAt";
pub const FAILURE: &str = "failure";
pub const REASON: &str = "reason";
/// A bad-data failure's byte offset (`Failure::offset`).
const FAILURE_OFFSET: &str = "failureOffset";

/// The sums table.
#[derive(Clone, Debug)]
pub struct DynamoSums {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoSums {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> DynamoSums {
        DynamoSums {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn item(record: &SumRecord) -> Item {
        let mut item = HashMap::from([
            (ARRAY_ID.into(), AttributeValue::S(record.array_id.clone())),
            (
                STATUS.into(),
                AttributeValue::S(record.status.as_str().into()),
            ),
            (ARRAY_LENGTH.into(), count_value(record.array_length)),
            (CHUNK_SIZE.into(), count_value(record.chunk_size)),
            (FAN_IN.into(), count_value(record.fan_in)),
            (SUBMITTED_AT.into(), count_value(record.submitted_at_ms)),
        ]);
        if let Some(sum) = &record.sum {
            item.insert(RESULT_SUM.into(), number_value(sum));
        }
        if let Some(value) = &record.result {
            item.insert(RESULT_VALUE.into(), AttributeValue::S(value.clone()));
        }
        if !record.job.is_default() {
            // Strings and JSON values always serialize.
            let json = serde_json::to_string(&record.job).unwrap_or_default();
            item.insert(JOB.into(), AttributeValue::S(json));
        }
        if let Some(at) = record.finished_at_ms {
            item.insert(FINISHED_AT.into(), count_value(at));
        }
        if let Some(n) = record.element_count {
            item.insert(ELEMENT_COUNT.into(), count_value(n));
        }
        if record.enqueued {
            item.insert(RANGES_ENQUEUED.into(), AttributeValue::Bool(true));
        }
        if let Some(source) = &record.source {
            // Strings, integers and enums always serialize.
            let json = serde_json::to_string(source).unwrap_or_default();
            item.insert(SOURCE.into(), AttributeValue::S(json));
        }
        item.insert(DEADLINE_AT.into(), count_value(record.deadline_ms));
        if let Some(at) = record.expires_at_s {
            item.insert(EXPIRES_AT.into(), count_value(at));
        }
        if let Some(failure) = &record.failure {
            item.insert(
                FAILURE.into(),
                AttributeValue::S(failure.kind.as_str().into()),
            );
            item.insert(REASON.into(), AttributeValue::S(failure.reason.clone()));
            if let Some(offset) = failure.offset {
                item.insert(FAILURE_OFFSET.into(), count_value(offset));
            }
        }
        item
    }

    fn record(&self, item: &Item) -> Result<SumRecord, PortError> {
        let r = Reader {
            table: &self.table,
            item,
        };
        let status = r.string(STATUS)?;
        let status = Status::parse(&status).ok_or_else(|| {
            PortError::Rejected(format!(
                "table {}: attribute {STATUS} is {status:?}, not pending, done or failed",
                self.table
            ))
        })?;
        let failure = match r.optional_string(FAILURE)? {
            None => None,
            Some(kind) => Some(Failure {
                kind: FailureKind::parse(&kind).ok_or_else(|| {
                    PortError::Rejected(format!(
                        "table {}: attribute {FAILURE} is {kind:?}, not a known failure",
                        self.table
                    ))
                })?,
                reason: r.optional_string(REASON)?.unwrap_or_default(),
                offset: r.optional_count(FAILURE_OFFSET)?,
            }),
        };
        Ok(SumRecord {
            array_id: r.string(ARRAY_ID)?,
            status,
            array_length: r.count(ARRAY_LENGTH)?,
            chunk_size: r.count(CHUNK_SIZE)?,
            fan_in: r.count(FAN_IN)?,
            job: match r.optional_string(JOB)? {
                None => JobSpec::default(),
                Some(json) => serde_json::from_str(&json).map_err(|e| {
                    PortError::Rejected(format!(
                        "table {}: attribute {JOB} is not a job: {e}",
                        self.table
                    ))
                })?,
            },
            sum: r.optional_number(RESULT_SUM)?,
            result: r.optional_string(RESULT_VALUE)?,
            submitted_at_ms: r.count(SUBMITTED_AT)?,
            finished_at_ms: r.optional_count(FINISHED_AT)?,
            reduced_elements: r.optional_count(REDUCED_ELEMENTS)?.unwrap_or(0),
            mapped_bytes: r.optional_count(MAPPED_BYTES)?.unwrap_or(0),
            enqueued: item
                .get(RANGES_ENQUEUED)
                .is_some_and(|v| v.as_bool().is_ok_and(|b| *b)),
            element_count: r.optional_count(ELEMENT_COUNT)?,
            source: match r.optional_string(SOURCE)? {
                None => None,
                Some(json) => Some(serde_json::from_str(&json).map_err(|e| {
                    PortError::Rejected(format!(
                        "table {}: attribute {SOURCE} is not an object source: {e}",
                        self.table
                    ))
                })?),
            },
            // Records written before deadlines existed get none: they end
            // only when done.
            deadline_ms: r.optional_count(DEADLINE_AT)?.unwrap_or(u64::MAX),
            failure,
            expires_at_s: r.optional_count(EXPIRES_AT)?,
        })
    }

    /// The record a failed conditional write saw: DynamoDB returns it (with
    /// `ALL_OLD`); when the service (or an emulator) leaves it out, a
    /// consistent read stands in. `None`: no record.
    async fn seen(
        &self,
        array_id: &str,
        item: Option<&Item>,
    ) -> Result<Option<SumRecord>, PortError> {
        match item {
            Some(item) => self.record(item).map(Some),
            None => self.get(array_id).await,
        }
    }

    /// Reads an item by its `arrayId`, consistently.
    async fn read(&self, key: String) -> Result<Option<Item>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(ARRAY_ID, AttributeValue::S(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk(&format!("GetItem on {}", self.table), e))?;
        Ok(out.item().cloned())
    }

    /// Sends `update` (an UpdateItem with its expression and its own names
    /// and values) to `array_id`'s record on the condition that the array
    /// has not ended: pending, or failed as dead-lettered (a redrive may
    /// still finish it, or another failure give the newer reason).
    async fn update_unended(
        &self,
        array_id: &str,
        update: UpdateItemFluentBuilder,
        bad_data_after: Option<u64>,
    ) -> Result<Update, PortError> {
        // SumRecord::has_ended in DynamoDB's words.
        let unended = "#status = :pending OR #failure = :dead_lettered \
                       OR (#failure = :not_enqueued AND attribute_exists(#source))";
        // A bad-data failure at a larger offset gives way to this one.
        let update = match bad_data_after {
            None => update.condition_expression(unended),
            Some(offset) => update
                .condition_expression(format!(
                    "{unended} OR (#failure = :bad_data AND #offset > :offset)"
                ))
                .expression_attribute_names("#offset", FAILURE_OFFSET)
                .expression_attribute_values(
                    ":bad_data",
                    AttributeValue::S(FailureKind::BadData.as_str().into()),
                )
                .expression_attribute_values(":offset", count_value(offset)),
        };
        let result = update
            .table_name(&self.table)
            .key(ARRAY_ID, AttributeValue::S(array_id.to_string()))
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#failure", FAILURE)
            .expression_attribute_values(
                ":pending",
                AttributeValue::S(Status::Pending.as_str().into()),
            )
            .expression_attribute_values(
                ":dead_lettered",
                AttributeValue::S(FailureKind::DeadLettered.as_str().into()),
            )
            .expression_attribute_values(
                ":not_enqueued",
                AttributeValue::S(FailureKind::NotEnqueued.as_str().into()),
            )
            .expression_attribute_names("#source", SOURCE)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let e = match result {
            Ok(_) => return Ok(Update::Applied),
            Err(e) => e,
        };
        let Some(UpdateItemError::ConditionalCheckFailedException(failed)) = e.as_service_error()
        else {
            return Err(from_sdk(&format!("UpdateItem on {}", self.table), e));
        };
        Ok(Update::Refused(
            self.seen(array_id, failed.item()).await?.map(Box::new),
        ))
    }

    /// What a failed `complete` found, from the record the condition saw.
    fn completion_of(&self, seen: Option<Box<SumRecord>>) -> Result<Completion, PortError> {
        match seen {
            None => Ok(Completion::Unknown),
            Some(r) if r.status == Status::Done => Ok(Completion::AlreadyDone),
            Some(r) if r.has_ended() => Ok(Completion::Failed),
            // The condition failed on a record it should have matched: it
            // changed between the write and the read. Another try will tell.
            Some(_) => Err(PortError::Unavailable(format!(
                "table {}: completion raced with a concurrent write",
                self.table
            ))),
        }
    }
}

/// What a conditional update of an array's record did.
enum Update {
    Applied,
    /// The array had ended; the record the condition saw (`None`: none).
    Refused(Option<Box<SumRecord>>),
}

/// Idempotency claims share the sums table (one table to provision, back
/// up and protect) under keys no array id can take: array ids are UUIDs.
const CLAIM_PREFIX: &str = "idem#";
const CLAIM_ARRAY_ID: &str = "forArrayId";
const CLAIM_FINGERPRINT: &str = "fingerprint";
/// The sums table's TTL attribute (template.yaml): claims carry it, and so
/// do array records while pending or failed; done records are kept.
const EXPIRES_AT: &str = "expiresAt";

impl DynamoSums {
    fn claimed_from(&self, item: &Item) -> Result<Claimed, PortError> {
        let r = Reader {
            table: &self.table,
            item,
        };
        Ok(Claimed::Existing {
            array_id: r.string(CLAIM_ARRAY_ID)?,
            fingerprint: r.string(CLAIM_FINGERPRINT)?,
        })
    }
}

#[async_trait]
impl Sums for DynamoSums {
    async fn claim_idempotency_key(
        &self,
        claim: &KeyClaim<'_>,
        now_s: u64,
    ) -> Result<Claimed, PortError> {
        let key = format!("{CLAIM_PREFIX}{}", claim.key);
        let item = HashMap::from([
            (ARRAY_ID.to_string(), AttributeValue::S(key.clone())),
            (
                CLAIM_ARRAY_ID.to_string(),
                AttributeValue::S(claim.array_id.to_string()),
            ),
            (
                CLAIM_FINGERPRINT.to_string(),
                AttributeValue::S(claim.fingerprint.to_string()),
            ),
            (EXPIRES_AT.to_string(), count_value(claim.expires_at_s)),
        ]);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // TTL deletes expired items lazily (within days), so an expired
            // claim that is still there must not hold the key.
            .condition_expression("attribute_not_exists(#id) OR #expires < :now")
            .expression_attribute_names("#id", ARRAY_ID)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":now", count_value(now_s))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let e = match result {
            Ok(_) => return Ok(Claimed::New),
            Err(e) => e,
        };
        let Some(PutItemError::ConditionalCheckFailedException(failed)) = e.as_service_error()
        else {
            return Err(from_sdk(&format!("PutItem on {}", self.table), e));
        };
        if let Some(item) = failed.item() {
            return self.claimed_from(item);
        }
        // Without the old item (an emulator may leave it out), read it.
        match self.read(key).await? {
            Some(item) => self.claimed_from(&item),
            None => Err(PortError::Unavailable(format!(
                "table {}: an idempotency claim vanished while it was read; retry",
                self.table
            ))),
        }
    }

    async fn insert(&self, record: &SumRecord) -> Result<Put, PortError> {
        let absent = "attribute_not_exists(arrayId)";
        put_if_absent(&self.client, &self.table, Self::item(record), absent).await
    }

    async fn get(&self, array_id: &str) -> Result<Option<SumRecord>, PortError> {
        let item = self.read(array_id.to_string()).await?;
        item.map(|item| self.record(&item)).transpose()
    }

    async fn complete(
        &self,
        array_id: &str,
        result: &Stored,
        elements: u64,
        finished_at_ms: u64,
    ) -> Result<Completion, PortError> {
        let (attribute, value) = match result {
            Stored::Number(sum) => (RESULT_SUM, number_value(sum)),
            Stored::Text(text) => (RESULT_VALUE, AttributeValue::S(text.clone())),
        };
        let update = self
            .client
            .update_item()
            .update_expression(
                "SET #status = :done, #sum = :sum, #elements = :n, #finishedAt = :at \
                 REMOVE #failure, #reason, #expires",
            )
            .expression_attribute_names("#elements", ELEMENT_COUNT)
            .expression_attribute_values(":n", count_value(elements))
            .expression_attribute_names("#reason", REASON)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_names("#sum", attribute)
            .expression_attribute_names("#finishedAt", FINISHED_AT)
            .expression_attribute_values(":done", AttributeValue::S(Status::Done.as_str().into()))
            .expression_attribute_values(":sum", value)
            .expression_attribute_values(":at", count_value(finished_at_ms));
        match self.update_unended(array_id, update, None).await? {
            Update::Applied => Ok(Completion::Completed),
            Update::Refused(seen) => self.completion_of(seen),
        }
    }

    async fn mark_enqueued(&self, array_id: &str) -> Result<(), PortError> {
        // A SET, so the SDK's retry of a write that applied is harmless.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(ARRAY_ID, AttributeValue::S(array_id.to_string()))
            .update_expression("SET #enqueued = :yes")
            .condition_expression("attribute_exists(#id)")
            .expression_attribute_names("#enqueued", RANGES_ENQUEUED)
            .expression_attribute_names("#id", ARRAY_ID)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Err(
                    PortError::Rejected(format!("array {array_id} does not exist")),
                ),
                _ => Err(from_sdk(&format!("UpdateItem on {}", self.table), e)),
            },
        }
    }

    async fn add_progress(&self, array_id: &str, progress: Progress) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(ARRAY_ID, AttributeValue::S(array_id.to_string()))
            .update_expression("ADD #reduced :n, #bytes :b")
            .condition_expression("attribute_exists(#id)")
            .expression_attribute_names("#reduced", REDUCED_ELEMENTS)
            .expression_attribute_names("#bytes", MAPPED_BYTES)
            .expression_attribute_names("#id", ARRAY_ID)
            .expression_attribute_values(":n", count_value(progress.elements))
            .expression_attribute_values(":b", count_value(progress.bytes))
            // An ADD is not idempotent: if the SDK retried it after a first
            // attempt that applied but whose answer was lost, the counter
            // would count twice. One attempt only: a lost update lags.
            .customize()
            .config_override(
                aws_sdk_dynamodb::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| from_sdk(&format!("UpdateItem on {}", self.table), e))
    }

    async fn fail(
        &self,
        array_id: &str,
        failure: &Failure,
        now_ms: u64,
    ) -> Result<Failing, PortError> {
        let set = "SET #status = :failed, #failure = :kind, #reason = :reason, \
                   #finishedAt = :at, #expires = :expires";
        let update = match failure.offset {
            Some(offset) => self
                .client
                .update_item()
                .update_expression(format!("{set}, #failureOffset = :failureOffset"))
                .expression_attribute_names("#failureOffset", FAILURE_OFFSET)
                .expression_attribute_values(":failureOffset", count_value(offset)),
            None => self
                .client
                .update_item()
                .update_expression(format!("{set} REMOVE #failureOffset"))
                .expression_attribute_names("#failureOffset", FAILURE_OFFSET),
        };
        let bad_data_after = failure
            .offset
            .filter(|_| failure.kind == FailureKind::BadData);
        let update = update
            .expression_attribute_names("#reason", REASON)
            .expression_attribute_names("#finishedAt", FINISHED_AT)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(
                ":failed",
                AttributeValue::S(Status::Failed.as_str().into()),
            )
            .expression_attribute_values(":kind", AttributeValue::S(failure.kind.as_str().into()))
            .expression_attribute_values(":reason", AttributeValue::S(failure.reason.clone()))
            .expression_attribute_values(":at", count_value(now_ms))
            .expression_attribute_values(
                ":expires",
                count_value(now_ms / 1000 + FAILED_RECORD_RETENTION_SECONDS),
            );
        // A retry of a fail that applied finds it failed already: the same
        // answer as a concurrent fail, and just as harmless.
        Ok(
            match self
                .update_unended(array_id, update, bad_data_after)
                .await?
            {
                Update::Applied => Failing::Failed,
                Update::Refused(None) => Failing::Unknown,
                Update::Refused(Some(r)) => Failing::AlreadyEnded(r.status),
            },
        )
    }
}
