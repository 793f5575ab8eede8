//! Which IAM action authorises which API operation.
//!
//! AWS mostly checks `<prefix>:<Operation>`, but SQS's batch operations have
//! no action of their own: `SendMessageBatch` is authorised by
//! `sqs:SendMessage`, and so on (SQS API reference, each batch operation's
//! "Permissions"). DynamoDB's batch operations do have their own actions
//! (`dynamodb:BatchWriteItem`). moto, when it enforces IAM, checks the
//! operation's own name, so a policy for moto lists both.
//!
//! S3's operations are authorised by actions of other names: HeadObject by
//! `s3:GetObject`, HeadBucket and ListObjectsV2 by `s3:ListBucket`, a
//! GetObject or HeadObject naming a version by `s3:GetObjectVersion` (which
//! the operation's name alone does not tell; see [`action_of_request`]).

/// SQS batch operations and the single-message action that authorises each.
const SQS_BATCHES: [(&str, &str); 3] = [
    ("SendMessageBatch", "SendMessage"),
    ("DeleteMessageBatch", "DeleteMessage"),
    ("ChangeMessageVisibilityBatch", "ChangeMessageVisibility"),
];

/// S3 operations whose IAM action has another name, with that action.
const S3_ACTIONS: [(&str, &str); 6] = [
    ("HeadObject", "GetObject"),
    ("HeadBucket", "ListBucket"),
    ("ListObjectsV2", "ListBucket"),
    (
        "PutBucketNotificationConfiguration",
        "PutBucketNotification",
    ),
    ("PutBucketEncryption", "PutEncryptionConfiguration"),
    ("PutPublicAccessBlock", "PutBucketPublicAccessBlock"),
];

/// Whether an S3 action applies to objects (`arn:aws:s3:::bucket/key`)
/// rather than to a bucket (`arn:aws:s3:::bucket`): IAM matches each against
/// its own kind of ARN only, so a grant on the other kind allows nothing.
pub fn is_object_action(action: &str) -> bool {
    action.strip_prefix("s3:").is_some_and(|op| {
        op.contains("Object") || op == "AbortMultipartUpload" || op == "ListMultipartUploadParts"
    })
}

/// The IAM prefix of an SDK service name (`SQS` → `sqs`, `DynamoDB` → `dynamodb`).
pub fn prefix_of(sdk_service: &str) -> String {
    sdk_service.to_ascii_lowercase()
}

/// The IAM action AWS checks for `operation` of the service with IAM prefix `prefix`.
pub fn action_of(prefix: &str, operation: &str) -> String {
    let single = match prefix {
        "sqs" => SQS_BATCHES
            .iter()
            .find(|(batch, _)| *batch == operation)
            .map_or(operation, |(_, single)| single),
        "s3" => S3_ACTIONS
            .iter()
            .find(|(op, _)| *op == operation)
            .map_or(operation, |(_, action)| action),
        _ => operation,
    };
    format!("{prefix}:{single}")
}

/// Like [`action_of`], for a request that may name an object's version:
/// reading a version is `s3:GetObjectVersion`, not `s3:GetObject`.
pub fn action_of_request(prefix: &str, operation: &str, names_version: bool) -> String {
    let action = action_of(prefix, operation);
    match (action.as_str(), names_version) {
        ("s3:GetObject", true) => "s3:GetObjectVersion".to_string(),
        _ => action,
    }
}

/// Every `<prefix>:<Operation>` that `action` allows: its own and, for an SQS
/// single-message action, its batch form; for `s3:ListBucket`, moto's name
/// for a HeadBucket (`s3:HeadBucket`).
pub fn operations_allowed_by(action: &str) -> Vec<String> {
    let mut operations = vec![action.to_string()];
    if action == "s3:ListBucket" {
        operations.push("s3:HeadBucket".to_string());
    }
    if let Some(single) = action.strip_prefix("sqs:") {
        operations.extend(
            SQS_BATCHES
                .iter()
                .filter(|(_, s)| *s == single)
                .map(|(batch, _)| format!("sqs:{batch}")),
        );
    }
    operations
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqs_batches_are_authorised_by_their_single_action() {
        assert_eq!(action_of("sqs", "SendMessageBatch"), "sqs:SendMessage");
        assert_eq!(action_of("sqs", "DeleteMessageBatch"), "sqs:DeleteMessage");
        assert_eq!(action_of("sqs", "ReceiveMessage"), "sqs:ReceiveMessage");
        assert_eq!(
            action_of("dynamodb", "BatchWriteItem"),
            "dynamodb:BatchWriteItem"
        );
        assert_eq!(prefix_of("DynamoDB"), "dynamodb");
        assert_eq!(
            operations_allowed_by("sqs:SendMessage"),
            ["sqs:SendMessage", "sqs:SendMessageBatch"]
        );
        assert_eq!(
            operations_allowed_by("dynamodb:GetItem"),
            ["dynamodb:GetItem"]
        );
    }

    #[test]
    fn s3_operations_are_authorised_by_their_actions() {
        assert_eq!(action_of("s3", "HeadObject"), "s3:GetObject");
        assert_eq!(action_of("s3", "GetObject"), "s3:GetObject");
        assert_eq!(action_of("s3", "HeadBucket"), "s3:ListBucket");
        assert_eq!(
            action_of("s3", "PutBucketNotificationConfiguration"),
            "s3:PutBucketNotification"
        );
        assert_eq!(
            action_of_request("s3", "HeadObject", true),
            "s3:GetObjectVersion"
        );
        assert_eq!(action_of_request("s3", "GetObject", false), "s3:GetObject");
        assert_eq!(
            action_of_request("sqs", "SendMessageBatch", true),
            "sqs:SendMessage"
        );
        assert_eq!(
            operations_allowed_by("s3:ListBucket"),
            ["s3:ListBucket", "s3:HeadBucket"]
        );
        assert!(is_object_action("s3:GetObject") && is_object_action("s3:GetObjectVersion"));
        assert!(!is_object_action("s3:ListBucket") && !is_object_action("sqs:SendMessage"));
    }
}
