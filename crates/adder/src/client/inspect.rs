//! The inspection commands' output: plain aligned text, one row per line,
//! so it reads at a terminal and greps in a script; or with `--json` one
//! JSON document, for a script that wants fields.

use super::target::{admin, AwsArgs};
use super::QueueChoice;
use crate::error::Error;
use serde_json::{json, Value};
use stack_tools::{Reason, Source};
use std::time::{SystemTime, UNIX_EPOCH};

fn sources(choice: Option<QueueChoice>) -> Vec<Source> {
    match choice {
        Some(QueueChoice::TimesTwo) => vec![Source::TimesTwo],
        Some(QueueChoice::Reduce) => vec![Source::Reduce],
        Some(QueueChoice::ObjectCreated) => vec![Source::ObjectCreated],
        None => Source::ALL.to_vec(),
    }
}

fn queue_name(source: Source) -> &'static str {
    match source {
        Source::TimesTwo => "TimesTwo",
        Source::Reduce => "Reduce",
        Source::ObjectCreated => "ObjectCreated",
    }
}

/// "12s", "3m", "5h", "2d": how long ago `ms` (Unix milliseconds) was.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn age(ms: u64) -> String {
    let s = now_ms().saturating_sub(ms) / 1000;
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

pub async fn pending(args: &AwsArgs, json: bool) -> Result<(), Error> {
    let admin = admin(args).await?;
    let arrays = admin.pending().await?;
    if json {
        let rows: Vec<Value> = arrays.iter().map(pending_json).collect();
        println!("{}", Value::Array(rows));
        return Ok(());
    }
    if arrays.is_empty() {
        println!("no pending or failed arrays");
        return Ok(());
    }
    println!(
        "{:<36}  {:>10}  {:>10}  {:>10}  status",
        "arrayId", "elements", "reduced", "submitted"
    );
    let now_ms = now_ms();
    for a in &arrays {
        let reduced = a
            .reduced_elements
            .map_or_else(|| "-".to_string(), |r| r.to_string());
        println!(
            "{:<36}  {:>10}  {:>10}  {:>6} ago  {}",
            a.array_id,
            a.array_length,
            reduced,
            age(a.submitted_at_ms),
            status_of(a, now_ms)
        );
    }
    let failed = arrays.iter().filter(|a| a.status == "failed").count();
    println!("{} pending, {failed} failed", arrays.len() - failed);
    Ok(())
}

fn pending_json(a: &stack_tools::PendingArray) -> Value {
    json!({
        "arrayId": a.array_id,
        "status": a.status,
        "arrayLength": a.array_length,
        "reducedElements": a.reduced_elements,
        "submittedAt": a.submitted_at_ms,
        "deadline": a.deadline_ms,
        "failure": a.failure.as_ref().map(|(kind, _)| kind),
        "reason": a.failure.as_ref().map(|(_, reason)| reason),
    })
}

/// `pending`, `pending, overdue` (failed as expired when next read), or
/// `failed (kind): reason`.
fn status_of(array: &stack_tools::PendingArray, now_ms: u64) -> String {
    match (&array.failure, array.deadline_ms) {
        (Some((kind, reason)), _) => format!("failed ({kind}): {reason}"),
        (None, Some(deadline)) if deadline < now_ms => {
            "pending, overdue: fails as expired when next read".to_string()
        }
        _ => array.status.clone(),
    }
}

pub async fn scratchpad(
    args: &AwsArgs,
    array_id: &str,
    scan: bool,
    json: bool,
) -> Result<(), Error> {
    let admin = admin(args).await?;
    let rows = if scan {
        admin.scan_scratchpad(array_id).await
    } else {
        admin.scratchpad(array_id).await
    }?;
    if json {
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "partition": r.key.partition_key,
                    "packetId": r.key.packet_id,
                    "packetValue": r.packet_value.to_string(),
                    "packetContains": r.packet_contains,
                    "elements": r.elements,
                    "consumed": r.consumed,
                })
            })
            .collect();
        println!("{}", Value::Array(rows));
        return Ok(());
    }
    let width = rows
        .iter()
        .map(|r| r.key.partition_key.len())
        .max()
        .unwrap_or(0)
        .max("partition".len());
    println!(
        "{:<width$}  {:<12}  {:>24}  {:>14}  consumed",
        "partition", "packetId", "packetValue", "packetContains"
    );
    for r in &rows {
        println!(
            "{:<width$}  {:<12}  {:>24}  {:>14}  {}",
            r.key.partition_key,
            r.key.packet_id,
            r.packet_value.to_string(),
            r.packet_contains,
            r.consumed
        );
    }
    let live = rows.iter().filter(|r| !r.consumed).count();
    println!("{} rows, {live} not yet merged", rows.len());
    Ok(())
}

pub async fn dlq_list(
    args: &AwsArgs,
    choice: Option<QueueChoice>,
    bodies: bool,
    json: bool,
) -> Result<(), Error> {
    let admin = admin(args).await?;
    let mut listed = Vec::new();
    for source in sources(choice) {
        let letters = admin.dead_letters(source).await?;
        if json {
            for letter in &letters {
                let reason = admin.reason(source, letter).await;
                listed.push(json!({
                    "queue": queue_name(source),
                    "messageId": letter.message_id,
                    "receiveCount": letter.receive_count,
                    "reason": reason.to_string(),
                    "body": bodies.then_some(&letter.body),
                }));
            }
            continue;
        }
        println!(
            "{} dead-letter queue: {} message(s)",
            queue_name(source),
            letters.len()
        );
        for letter in &letters {
            let reason = admin.reason(source, letter).await;
            let hint = match reason {
                Reason::ArrayPending(_) | Reason::Notification(_) => format!(
                    ", see {}'s logs for message {}",
                    source.function(),
                    letter.message_id
                ),
                Reason::Undecodable(_) => " (will fail again if redriven)".to_string(),
                _ => String::new(),
            };
            println!(
                "  {}  received {}x  {reason}{hint}",
                letter.message_id, letter.receive_count
            );
            if bodies {
                println!("    {}", letter.body);
            }
        }
    }
    if json {
        println!("{}", Value::Array(listed));
    }
    Ok(())
}

pub async fn dlq_redrive(
    args: &AwsArgs,
    choice: Option<QueueChoice>,
    json: bool,
) -> Result<(), Error> {
    let admin = admin(args).await?;
    let mut total = 0;
    let mut moved_from = serde_json::Map::new();
    for source in sources(choice) {
        let moved = admin.redrive(source).await?;
        moved_from.insert(queue_name(source).into(), json!(moved));
        total += moved;
        if json {
            continue;
        }
        println!(
            "moved {moved} message(s) from the {name} dead-letter queue to the {name} queue",
            name = queue_name(source)
        );
    }
    if json {
        println!("{}", json!({"redriven": moved_from, "total": total}));
    } else if choice.is_none() {
        println!("{total} message(s) redriven");
    }
    Ok(())
}
