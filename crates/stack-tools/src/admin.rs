//! An operator's tools over the stack's queues and tables: which arrays are
//! pending, what an array's scratchpad holds, what sits in a dead-letter
//! queue and why, and moving dead letters back to their queue.
//!
//! These read more than the functions ever do (a Scan of the sums table,
//! every message of a queue), so they are for a person at a terminal, never
//! for the pipeline itself.

use aws_config::SdkConfig;
use aws_ports::dynamodb::{scratchpad, sums, Reader};
use aws_ports::{from_sdk, DynamoScratchpad, DynamoSums, SqsQueue};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;
use packet::{MapMessage, NodeId, ReduceMessage, Tree};
use pipeline::{PortError, Queue, Scratchpad, ScratchpadRow, Status, Sums};
use stack_names as ids;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Aws(#[from] PortError),
    #[error("the stack has no output {0} (is it the distributed adder's stack?)")]
    MissingOutput(String),
    #[error("queue {0} does not exist (wrong --prefix or endpoint, or the runner never started?)")]
    NoSuchQueue(String),
    #[error("array {0} is not in the sums table")]
    UnknownArray(String),
    #[error("array {array_id}: {problem}")]
    BadRecord { array_id: String, problem: String },
}

/// Deployed names of the stack's queues and tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub times_two_queue_url: String,
    pub times_two_dead_letter_queue_url: String,
    pub reduce_queue_url: String,
    pub reduce_dead_letter_queue_url: String,
    pub object_created_queue_url: String,
    pub object_created_dead_letter_queue_url: String,
    pub scratchpad_table: String,
    pub sums_table: String,
}

/// The names of template.yaml's `Outputs` the tools read. A deployed
/// stack's outputs are looked up by these names, never by their order.
pub mod output {
    /// The API's base URL.
    pub const API_URL: &str = "ApiUrl";
    pub const TIMES_TWO_QUEUE_URL: &str = "TimesTwoQueueUrl";
    pub const TIMES_TWO_DEAD_LETTER_QUEUE_URL: &str = "TimesTwoDeadLetterQueueUrl";
    pub const REDUCE_QUEUE_URL: &str = "ReduceQueueUrl";
    pub const REDUCE_DEAD_LETTER_QUEUE_URL: &str = "ReduceDeadLetterQueueUrl";
    pub const SCRATCHPAD_TABLE_NAME: &str = "ScratchpadTableName";
    pub const SUMS_TABLE_NAME: &str = "SumsTableName";
    pub const OBJECT_CREATED_QUEUE_URL: &str = "ObjectCreatedQueueUrl";
    pub const OBJECT_CREATED_DEAD_LETTER_QUEUE_URL: &str = "ObjectCreatedDeadLetterQueueUrl";
}

/// The stack outputs [`Resources::from_outputs`] reads.
pub const OUTPUTS: [&str; 8] = [
    output::TIMES_TWO_QUEUE_URL,
    output::TIMES_TWO_DEAD_LETTER_QUEUE_URL,
    output::REDUCE_QUEUE_URL,
    output::REDUCE_DEAD_LETTER_QUEUE_URL,
    output::SCRATCHPAD_TABLE_NAME,
    output::SUMS_TABLE_NAME,
    output::OBJECT_CREATED_QUEUE_URL,
    output::OBJECT_CREATED_DEAD_LETTER_QUEUE_URL,
];

impl Resources {
    /// From a deployed stack's outputs (`OutputKey` → `OutputValue`).
    pub fn from_outputs(outputs: &BTreeMap<String, String>) -> Result<Resources, AdminError> {
        let get = |key: &str| {
            outputs
                .get(key)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| AdminError::MissingOutput(key.to_string()))
        };
        Ok(Resources {
            times_two_queue_url: get(output::TIMES_TWO_QUEUE_URL)?,
            times_two_dead_letter_queue_url: get(output::TIMES_TWO_DEAD_LETTER_QUEUE_URL)?,
            reduce_queue_url: get(output::REDUCE_QUEUE_URL)?,
            reduce_dead_letter_queue_url: get(output::REDUCE_DEAD_LETTER_QUEUE_URL)?,
            scratchpad_table: get(output::SCRATCHPAD_TABLE_NAME)?,
            sums_table: get(output::SUMS_TABLE_NAME)?,
            object_created_queue_url: get(output::OBJECT_CREATED_QUEUE_URL)?,
            object_created_dead_letter_queue_url: get(
                output::OBJECT_CREATED_DEAD_LETTER_QUEUE_URL,
            )?,
        })
    }

    /// The `<prefix>-<LogicalId>` resources that [`crate::provision`] makes
    /// for the local runner. Queue URLs depend on the endpoint and account, so
    /// they are looked up (GetQueueUrl) rather than guessed; nothing is created.
    pub async fn from_prefix(sdk: &SdkConfig, prefix: &str) -> Result<Resources, AdminError> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let url = |logical_id: &'static str| {
            let sqs = sqs.clone();
            let name = format!("{prefix}-{logical_id}");
            async move {
                match sqs.get_queue_url().queue_name(&name).send().await {
                    Ok(out) => out
                        .queue_url()
                        .map(str::to_string)
                        .ok_or(AdminError::NoSuchQueue(name)),
                    Err(e) => match e.as_service_error() {
                        Some(GetQueueUrlError::QueueDoesNotExist(_)) => {
                            Err(AdminError::NoSuchQueue(name))
                        }
                        _ => Err(from_sdk(&format!("GetQueueUrl {name}"), e).into()),
                    },
                }
            }
        };
        Ok(Resources {
            times_two_queue_url: url(ids::TIMES_TWO_QUEUE).await?,
            times_two_dead_letter_queue_url: url(ids::TIMES_TWO_DEAD_LETTER_QUEUE).await?,
            reduce_queue_url: url(ids::REDUCE_QUEUE).await?,
            reduce_dead_letter_queue_url: url(ids::REDUCE_DEAD_LETTER_QUEUE).await?,
            object_created_queue_url: url(ids::OBJECT_CREATED_QUEUE).await?,
            object_created_dead_letter_queue_url: url(ids::OBJECT_CREATED_DEAD_LETTER_QUEUE)
                .await?,
            scratchpad_table: format!("{prefix}-{}", ids::SCRATCHPAD_TABLE),
            sums_table: format!("{prefix}-{}", ids::SUMS_TABLE),
        })
    }

    /// The dead-letter queue of `source` and the queue it feeds: (DLQ, source).
    pub fn dead_letter(&self, source: Source) -> (&str, &str) {
        match source {
            Source::TimesTwo => (
                &self.times_two_dead_letter_queue_url,
                &self.times_two_queue_url,
            ),
            Source::Reduce => (&self.reduce_dead_letter_queue_url, &self.reduce_queue_url),
            Source::ObjectCreated => (
                &self.object_created_dead_letter_queue_url,
                &self.object_created_queue_url,
            ),
        }
    }
}

/// One of the three work queues (each has its dead-letter queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    TimesTwo,
    Reduce,
    /// The input bucket's S3 notifications, consumed by times_two too.
    ObjectCreated,
}

impl Source {
    /// Every queue, in the order the commands go through them.
    pub const ALL: [Source; 3] = [Source::TimesTwo, Source::Reduce, Source::ObjectCreated];

    /// The function that consumes the queue, whose logs tell why it failed.
    pub fn function(self) -> &'static str {
        match self {
            Source::TimesTwo | Source::ObjectCreated => "times_two",
            Source::Reduce => "reduce",
        }
    }
}

/// A pending array, as the sums table has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingArray {
    pub array_id: String,
    /// `pending` or `failed`.
    pub status: String,
    /// For a failed array: its failure kind and reason.
    pub failure: Option<(String, String)>,
    pub array_length: u64,
    pub submitted_at_ms: u64,
    /// When a pending array is failed as expired (on its next read).
    pub deadline_ms: Option<u64>,
    /// The progress counter, when the table has one for this array.
    pub reduced_elements: Option<u64>,
}

/// A message in a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: String,
    pub body: String,
    /// Receives counted by SQS, in the source queue and here together.
    pub receive_count: u32,
}

/// Why a dead letter is there, as far as the tables can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The body is not a message of this queue: it will fail again if redriven.
    Undecodable(String),
    /// The array is not in the sums table (never submitted, or expired).
    UnknownArray(String),
    /// The array finished without it: a late duplicate, harmless to redrive or drop.
    ArrayDone(String),
    /// The array waits for it: the function failed on it repeatedly.
    ArrayPending(String),
    /// The sums table could not be read.
    LookupFailed(String),
    /// An S3 notification of these objects (`s3://bucket/key`, comma
    /// separated): times_two failed on it repeatedly (an object that can
    /// never be summed is recorded failed instead, so S3, DynamoDB or SQS
    /// kept failing); redriving it starts them.
    Notification(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Undecodable(e) => write!(f, "undecodable: {e}"),
            Reason::UnknownArray(id) => write!(f, "array {id} unknown"),
            Reason::ArrayDone(id) => write!(f, "array {id} done (late duplicate)"),
            Reason::ArrayPending(id) => write!(f, "array {id} pending: failed repeatedly"),
            Reason::LookupFailed(e) => write!(f, "cannot read the sums table: {e}"),
            Reason::Notification(objects) => write!(f, "S3 notification of {objects}"),
        }
    }
}

/// Visibility for messages taken while listing or redriving: long enough to
/// finish a page, short enough that an interrupted command hides nothing for long.
const HOLD: Duration = Duration::from_secs(30);
/// Long poll per receive: SQS short polls sample a subset of servers and may
/// answer empty while messages exist.
const POLL: Duration = Duration::from_secs(1);

/// The admin tools, over one SQS and one DynamoDB client.
#[derive(Clone, Debug)]
pub struct Admin {
    sqs: aws_sdk_sqs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    resources: Resources,
}

impl Admin {
    pub fn new(sdk: &SdkConfig, resources: Resources) -> Admin {
        Admin {
            sqs: aws_sdk_sqs::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            resources,
        }
    }

    pub fn resources(&self) -> &Resources {
        &self.resources
    }

    fn sums(&self) -> DynamoSums {
        DynamoSums::new(self.dynamodb.clone(), &self.resources.sums_table)
    }

    fn scratchpad_port(&self) -> DynamoScratchpad {
        DynamoScratchpad::new(self.dynamodb.clone(), &self.resources.scratchpad_table)
    }

    /// Every array that is not done, pending or failed: a Scan of the whole
    /// sums table with a filter, so it reads (and bills) every row; fine for
    /// an operator, never for a request path. Oldest first.
    pub async fn pending(&self) -> Result<Vec<PendingArray>, AdminError> {
        let table = &self.resources.sums_table;
        let mut items = self
            .dynamodb
            .scan()
            .table_name(table)
            .filter_expression("#status IN (:pending, :failed)")
            .expression_attribute_names("#status", sums::STATUS)
            .expression_attribute_values(
                ":pending",
                AttributeValue::S(Status::Pending.as_str().into()),
            )
            .expression_attribute_values(
                ":failed",
                AttributeValue::S(Status::Failed.as_str().into()),
            )
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut found = Vec::new();
        while let Some(item) = items
            .try_next()
            .await
            .map_err(|e| from_sdk(&format!("Scan on {table}"), e))?
        {
            found.push(pending_array(&Reader { table, item: &item })?);
        }
        found.sort_by(|a, b| {
            (a.submitted_at_ms, &a.array_id).cmp(&(b.submitted_at_ms, &b.array_id))
        });
        Ok(found)
    }

    /// An array's scratchpad rows, found by walking its merge tree: one
    /// Query per internal node, reading exactly the partitions the reducer
    /// uses. The tree's shape comes from the array's sums record.
    pub async fn scratchpad(&self, array_id: &str) -> Result<Vec<ScratchpadRow>, AdminError> {
        let record = self
            .sums()
            .get(array_id)
            .await?
            .ok_or_else(|| AdminError::UnknownArray(array_id.to_string()))?;
        if record.array_length == 0 {
            return Ok(Vec::new());
        }
        let tree =
            Tree::new(record.array_length, record.chunk_size, record.fan_in).map_err(|e| {
                AdminError::BadRecord {
                    array_id: array_id.to_string(),
                    problem: e.to_string(),
                }
            })?;
        let scratchpad = self.scratchpad_port();
        let mut rows = Vec::new();
        for level in (1..=tree.root().level).rev() {
            for index in 0..tree.width(level) {
                let key = tree.children_partition_key(array_id, NodeId::new(level, index));
                rows.extend(scratchpad.group(&key).await?);
            }
        }
        Ok(rows)
    }

    /// Every scratchpad row whose partition key starts with `array_id`: a Scan
    /// of the whole table, for when the sums record is gone or suspect.
    pub async fn scan_scratchpad(&self, array_id: &str) -> Result<Vec<ScratchpadRow>, AdminError> {
        let table = &self.resources.scratchpad_table;
        let scratchpad = self.scratchpad_port();
        let mut items = self
            .dynamodb
            .scan()
            .table_name(table)
            .filter_expression("begins_with(#a, :a)")
            .expression_attribute_names("#a", scratchpad::PARTITION_KEY)
            .expression_attribute_values(":a", AttributeValue::S(array_id.to_string()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut rows = Vec::new();
        while let Some(item) = items
            .try_next()
            .await
            .map_err(|e| from_sdk(&format!("Scan on {table}"), e))?
        {
            rows.push(scratchpad.row(&item)?);
        }
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(rows)
    }

    /// Every message in `source`'s dead-letter queue, left in place: each is
    /// received once (hidden briefly so a page is not read twice), then made
    /// visible again at once.
    pub async fn dead_letters(&self, source: Source) -> Result<Vec<DeadLetter>, AdminError> {
        let (dlq, _) = self.resources.dead_letter(source);
        let queue = SqsQueue::new(self.sqs.clone(), dlq);
        let mut seen = HashSet::new();
        let mut letters = Vec::new();
        let mut receipts = Vec::new();
        let listed = loop {
            let batch = match queue.receive(10, POLL, HOLD).await {
                Ok(b) => b,
                Err(e) => break Err(e),
            };
            if batch.is_empty() {
                break Ok(());
            }
            for m in batch {
                receipts.push(m.receipt.clone());
                if seen.insert(m.message_id.clone()) {
                    letters.push(DeadLetter {
                        message_id: m.message_id,
                        body: m.body,
                        receive_count: m.receive_count,
                    });
                }
            }
        };
        // Give the messages back even when listing failed half way.
        let released = queue.release(receipts).await;
        listed?;
        released?;
        Ok(letters)
    }

    /// Why `letter` is in `source`'s dead-letter queue: the body decoded as
    /// the function would, then the array's status in the sums table.
    pub async fn reason(&self, source: Source, letter: &DeadLetter) -> Reason {
        let array_id = match source {
            Source::TimesTwo => MapMessage::decode(&letter.body).map(|m| m.array_id.to_string()),
            Source::Reduce => ReduceMessage::decode(&letter.body).map(|m| m.array_id),
            Source::ObjectCreated => return notification_reason(&letter.body),
        };
        let array_id = match array_id {
            Ok(id) => id,
            Err(e) => return Reason::Undecodable(e.to_string()),
        };
        match self.sums().get(&array_id).await {
            Ok(None) => Reason::UnknownArray(array_id),
            Ok(Some(r)) if r.status == Status::Done => Reason::ArrayDone(array_id),
            Ok(Some(_)) => Reason::ArrayPending(array_id),
            Err(e) => Reason::LookupFailed(e.to_string()),
        }
    }

    /// Moves every message of `source`'s dead-letter queue back to `source`;
    /// returns how many. Each page is sent before it is deleted, so an
    /// interruption can leave a message in both queues but never in neither:
    /// the pipeline is idempotent, a duplicate costs a little work, a loss
    /// would stall an array.
    pub async fn redrive(&self, source: Source) -> Result<usize, AdminError> {
        let (dlq_url, source_url) = self.resources.dead_letter(source);
        let dlq = SqsQueue::new(self.sqs.clone(), dlq_url);
        let target = SqsQueue::new(self.sqs.clone(), source_url);
        let mut moved = 0;
        loop {
            let batch = dlq.receive(10, POLL, HOLD).await?;
            if batch.is_empty() {
                return Ok(moved);
            }
            let bodies = batch.iter().map(|m| m.body.clone()).collect();
            target.send(bodies).await?;
            dlq.delete(batch.iter().map(|m| m.receipt.clone()).collect())
                .await?;
            moved += batch.len();
        }
    }
}

/// Why an S3 notification is dead-lettered: the objects it names.
fn notification_reason(body: &str) -> Reason {
    let note: serde_json::Value = match serde_json::from_str(body) {
        Ok(note) => note,
        Err(e) => return Reason::Undecodable(format!("not an S3 event notification: {e}")),
    };
    let objects: Option<Vec<String>> = note["Records"].as_array().map(|records| {
        records
            .iter()
            .map(|r| {
                let text = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
                // Keys as S3 sends them: URL-encoded, `+` for a space.
                format!(
                    "s3://{}/{}",
                    text(&r["s3"]["bucket"]["name"]),
                    text(&r["s3"]["object"]["key"])
                )
            })
            .collect()
    });
    match objects {
        Some(objects) if !objects.is_empty() => Reason::Notification(objects.join(", ")),
        _ => Reason::Undecodable("not an S3 event notification: no Records".into()),
    }
}

/// A row of the sums table as [`Admin::pending`] lists it.
fn pending_array(r: &Reader) -> Result<PendingArray, PortError> {
    let failure = match r.optional_string(sums::FAILURE)? {
        Some(kind) => Some((kind, r.optional_string(sums::REASON)?.unwrap_or_default())),
        None => None,
    };
    Ok(PendingArray {
        array_id: r.string(sums::ARRAY_ID)?,
        status: r.string(sums::STATUS)?,
        failure,
        array_length: r.count(sums::ARRAY_LENGTH)?,
        submitted_at_ms: r.count(sums::SUBMITTED_AT)?,
        deadline_ms: r.optional_count(sums::DEADLINE_AT)?,
        reduced_elements: r.optional_count(sums::REDUCED_ELEMENTS)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_come_from_every_output() {
        let mut outputs: BTreeMap<String, String> = OUTPUTS
            .iter()
            .map(|k| (k.to_string(), format!("value-of-{k}")))
            .collect();
        let r = Resources::from_outputs(&outputs).expect("all outputs");
        assert_eq!(r.sums_table, "value-of-SumsTableName");
        assert_eq!(
            r.dead_letter(Source::Reduce),
            (
                "value-of-ReduceDeadLetterQueueUrl",
                "value-of-ReduceQueueUrl"
            )
        );
        outputs.insert("ScratchpadTableName".into(), String::new());
        assert!(matches!(
            Resources::from_outputs(&outputs),
            Err(AdminError::MissingOutput(k)) if k == "ScratchpadTableName"
        ));
    }

    /// Every output the tools read is one template.yaml declares.
    #[test]
    fn every_output_read_is_declared_in_the_template() {
        let template = include_str!("../../../template.yaml");
        let outputs = &template[template.find("\nOutputs:\n").expect("Outputs")..];
        for name in OUTPUTS.iter().chain([&output::API_URL]) {
            assert!(outputs.contains(&format!("\n  {name}:\n")), "{name}");
        }
    }

    /// Each dead-letter queue's alarm tells the operator the command that
    /// says why and replays its messages.
    #[test]
    fn every_dead_letter_alarm_names_the_dlq_commands() {
        let template = include_str!("../../../template.yaml");
        for (queue, flag) in [
            ("TimesTwo", ""),
            ("Reduce", ""),
            ("ObjectCreated", " --queue object-created"),
        ] {
            let start = template
                .find(&format!("\n  {queue}DeadLetterQueueAlarm:\n"))
                .unwrap_or_else(|| panic!("no {queue}DeadLetterQueueAlarm"));
            let block = &template[start + 1..];
            // Up to the next resource: the next line indented by two.
            let end = block
                .match_indices("\n  ")
                .map(|(i, _)| i)
                .find(|&i| block[i + 3..].starts_with(|c: char| c.is_ascii_alphabetic()))
                .unwrap_or(block.len());
            // The folded description, its lines joined as YAML joins them.
            let text = block[..end]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            for command in ["list", "redrive"] {
                let named = format!("`adder dlq {command}{flag}`");
                assert!(text.contains(&named), "{queue}: {named} in {text}");
            }
        }
    }

    #[test]
    fn a_dead_lettered_notification_names_its_objects() {
        let note = r#"{"Records": [
            {"s3": {"bucket": {"name": "in"}, "object": {"key": "a+b.csv"}}},
            {"s3": {"bucket": {"name": "in"}, "object": {"key": "c.json"}}}]}"#;
        assert_eq!(
            notification_reason(note).to_string(),
            "S3 notification of s3://in/a+b.csv, s3://in/c.json"
        );
        assert_eq!(
            notification_reason(r#"{"Records": []}"#).to_string(),
            "undecodable: not an S3 event notification: no Records"
        );
        assert!(matches!(
            notification_reason("{not json"),
            Reason::Undecodable(_)
        ));
    }

    #[test]
    fn reasons_read_plainly() {
        assert_eq!(
            Reason::ArrayDone("a".into()).to_string(),
            "array a done (late duplicate)"
        );
        assert_eq!(
            Reason::UnknownArray("a".into()).to_string(),
            "array a unknown"
        );
    }
}
