//! Which IAM action authorises which API operation.
//!
//! AWS mostly checks `<prefix>:<Operation>`, but SQS's batch operations have
//! no action of their own: `SendMessageBatch` is authorised by
//! `sqs:SendMessage`, and so on (SQS API reference, each batch operation's
//! "Permissions"). DynamoDB's batch operations do have their own actions
//! (`dynamodb:BatchWriteItem`). moto, when it enforces IAM, checks the
//! operation's own name, so a policy for moto lists both.
//!
//! S3's object reads have no action of their own either: `HeadObject` and
//! `GetObject` are authorised by `s3:GetObject`, or by `s3:GetObjectVersion`
//! when the request names a version (`?versionId=`; S3 API reference,
//! HeadObject and GetObject "Permissions"). moto checks S3 by those IAM
//! names too, except that it checks a versioned HeadObject as `s3:GetObject`.

/// SQS batch operations and the single-message action that authorises each.
const SQS_BATCHES: [(&str, &str); 3] = [
    ("SendMessageBatch", "SendMessage"),
    ("DeleteMessageBatch", "DeleteMessage"),
    ("ChangeMessageVisibilityBatch", "ChangeMessageVisibility"),
];

/// S3 operations that read an object: the action depends on the request.
const S3_OBJECT_READS: [&str; 2] = ["HeadObject", "GetObject"];

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
        _ => operation,
    };
    format!("{prefix}:{single}")
}

/// The IAM action AWS checks for one request of `operation`, whose URI query
/// (after `?`, if any) is `query`: [`action_of`], except for S3's object
/// reads, where naming a version changes the action.
pub fn action_of_request(prefix: &str, operation: &str, query: &str) -> String {
    if prefix != "s3" || !S3_OBJECT_READS.contains(&operation) {
        return action_of(prefix, operation);
    }
    let versioned = query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("versionId"));
    match versioned {
        true => "s3:GetObjectVersion".to_string(),
        false => "s3:GetObject".to_string(),
    }
}

/// Every `<prefix>:<Operation>` that `action` allows: its own and, for an SQS
/// single-message action, its batch form.
pub fn operations_allowed_by(action: &str) -> Vec<String> {
    let mut operations = vec![action.to_string()];
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
    fn s3_object_reads_need_get_object_or_get_object_version() {
        assert_eq!(action_of_request("s3", "HeadObject", ""), "s3:GetObject");
        assert_eq!(
            action_of_request("s3", "GetObject", "x-id=GetObject"),
            "s3:GetObject"
        );
        for operation in ["HeadObject", "GetObject"] {
            assert_eq!(
                action_of_request("s3", operation, "versionId=abc&x-id=GetObject"),
                "s3:GetObjectVersion"
            );
        }
        assert_eq!(
            action_of_request("s3", "GetObject", "versionIdx=1"),
            "s3:GetObject"
        );
        assert_eq!(action_of_request("s3", "PutObject", ""), "s3:PutObject");
        assert_eq!(
            action_of_request("sqs", "SendMessageBatch", "versionId=1"),
            "sqs:SendMessage"
        );
        assert_eq!(prefix_of("S3"), "s3");
    }
}
