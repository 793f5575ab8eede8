//! Which IAM action authorises which API operation.
//!
//! AWS mostly checks `<prefix>:<Operation>`, but SQS's batch operations have
//! no action of their own: `SendMessageBatch` is authorised by
//! `sqs:SendMessage`, and so on (SQS API reference, each batch operation's
//! "Permissions"). DynamoDB's batch operations do have their own actions
//! (`dynamodb:BatchWriteItem`). moto, when it enforces IAM, checks the
//! operation's own name, so a policy for moto lists both.

/// SQS batch operations and the single-message action that authorises each.
const SQS_BATCHES: [(&str, &str); 3] = [
    ("SendMessageBatch", "SendMessage"),
    ("DeleteMessageBatch", "DeleteMessage"),
    ("ChangeMessageVisibilityBatch", "ChangeMessageVisibility"),
];

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
}
