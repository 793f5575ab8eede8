//! Removes what [`crate::provision`] made for a prefix: every queue, table
//! and bucket of the template named `{prefix}-{LogicalId}`, a bucket emptied
//! of every object version and delete marker first (a versioned bucket
//! cannot be deleted otherwise). Idempotent: what is already gone is skipped.

use crate::provision::{sdk, ProvisionError};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use stack::Stack;
use stack_names as ids;

/// What one teardown removed, by kind, and what it found already gone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub queues: Vec<String>,
    pub tables: Vec<String>,
    /// Each bucket with the object versions and delete markers it held.
    pub buckets: Vec<(String, usize)>,
    pub absent: Vec<String>,
}

/// Removes `stack`'s resources named for `prefix`.
pub async fn teardown(
    stack: &Stack,
    sdk_config: &SdkConfig,
    prefix: &str,
) -> Result<Removed, ProvisionError> {
    let mut removed = Removed::default();
    let s3_config = aws_sdk_s3::config::Builder::from(sdk_config)
        .force_path_style(sdk_config.endpoint_url().is_some());
    let s3 = aws_sdk_s3::Client::from_conf(s3_config.build());
    // Buckets first: their notifications name the queues.
    for spec in &stack.buckets {
        let name = ids::local_bucket_name(prefix, &spec.logical_id);
        match empty_bucket(&s3, &name).await? {
            Some(objects) => {
                s3.delete_bucket()
                    .bucket(&name)
                    .send()
                    .await
                    .map_err(sdk(&name, "DeleteBucket"))?;
                removed.buckets.push((name, objects));
            }
            None => removed.absent.push(name),
        }
    }
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk_config);
    for spec in &stack.tables {
        let name = format!("{prefix}-{}", spec.logical_id);
        match dynamodb.delete_table().table_name(&name).send().await {
            Ok(_) => removed.tables.push(name),
            Err(e) if e.code() == Some("ResourceNotFoundException") => removed.absent.push(name),
            Err(e) => return Err(sdk(&name, "DeleteTable")(e)),
        }
    }
    let sqs = aws_sdk_sqs::Client::new(sdk_config);
    for spec in stack.queues_in_creation_order() {
        let name = format!("{prefix}-{}", spec.logical_id);
        let url = match sqs.get_queue_url().queue_name(&name).send().await {
            Ok(found) => found.queue_url.unwrap_or_default(),
            Err(e) if is_missing_queue(e.code()) => {
                removed.absent.push(name);
                continue;
            }
            Err(e) => return Err(sdk(&name, "GetQueueUrl")(e)),
        };
        sqs.delete_queue()
            .queue_url(url)
            .send()
            .await
            .map_err(sdk(&name, "DeleteQueue"))?;
        removed.queues.push(name);
    }
    Ok(removed)
}

fn is_missing_queue(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist")
    )
}

/// Deletes every object version and delete marker of `bucket`; `None` when
/// there is no such bucket, else how many it deleted.
async fn empty_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Option<usize>, ProvisionError> {
    let mut deleted = 0;
    loop {
        // Listing from the start each time: what was listed is deleted.
        let page = match s3.list_object_versions().bucket(bucket).send().await {
            Ok(page) => page,
            Err(e) if e.code() == Some("NoSuchBucket") => return Ok(None),
            Err(e) => return Err(sdk(bucket, "ListObjectVersions")(e)),
        };
        let versions = page
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(
                page.delete_markers()
                    .iter()
                    .map(|m| (m.key(), m.version_id())),
            );
        let objects: Vec<ObjectIdentifier> = versions
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key?)
                    .set_version_id(version.map(str::to_string))
                    .build()
                    .ok()
            })
            .collect();
        if objects.is_empty() {
            return Ok(Some(deleted));
        }
        deleted += objects.len();
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| {
                crate::provision::failed(
                    bucket,
                    "DeleteObjects",
                    pipeline::PortError::Rejected(e.to_string()),
                )
            })?;
        let out = s3
            .delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(sdk(bucket, "DeleteObjects"))?;
        // DeleteObjects answers 200 with the objects it could not delete
        // (AccessDenied, an object lock): listing again would find them
        // again, forever.
        if let Some(refused) = out.errors().first() {
            let why = format!(
                "{} object versions were not deleted, first {}: {}: {}",
                out.errors().len(),
                refused.key().unwrap_or("?"),
                refused.code().unwrap_or("Unknown"),
                refused.message().unwrap_or("no message")
            );
            return Err(crate::provision::failed(
                bucket,
                "DeleteObjects",
                pipeline::PortError::Rejected(why),
            ));
        }
    }
}
