//! Names that `template.yaml` and the code must agree on, in one place.
//!
//! The logical ids are the template's (`stack`'s tests check that each one
//! names a resource of the right type there). They live in this crate with no
//! dependencies, rather than in `stack`, so that code the Lambdas link
//! (`pipeline`, `aws-ports`) can use them without compiling the template
//! reader and its YAML parser into the functions.

pub mod iam;

/// The map step's queue (`AWS::SQS::Queue`).
pub const TIMES_TWO_QUEUE: &str = "TimesTwoQueue";
/// Where SQS moves a map message after `MaxReceiveCount` receives.
pub const TIMES_TWO_DEAD_LETTER_QUEUE: &str = "TimesTwoDeadLetterQueue";
/// The merge step's queue.
pub const REDUCE_QUEUE: &str = "ReduceQueue";
/// Where SQS moves a merge message after `MaxReceiveCount` receives.
pub const REDUCE_DEAD_LETTER_QUEUE: &str = "ReduceDeadLetterQueue";
/// The queue S3 sends the input bucket's ObjectCreated notifications to.
pub const OBJECT_CREATED_QUEUE: &str = "ObjectCreatedQueue";
/// Where SQS moves a notification after `MaxReceiveCount` receives.
pub const OBJECT_CREATED_DEAD_LETTER_QUEUE: &str = "ObjectCreatedDeadLetterQueue";
/// The objects to sum (`AWS::S3::Bucket`); its new objects are notified to
/// [`OBJECT_CREATED_QUEUE`].
pub const INPUT_BUCKET: &str = "InputBucket";
/// Partial sums (`AWS::DynamoDB::Table`).
pub const SCRATCHPAD_TABLE: &str = "ScratchpadTable";
/// Arrays' status and results.
pub const SUMS_TABLE: &str = "SumsTable";

/// The API's function (`AWS::Serverless::Function`).
pub const SUM_ARRAY_FUNCTION: &str = "SumArrayFunction";
/// The map step's function, fed by [`TIMES_TWO_QUEUE`] and [`OBJECT_CREATED_QUEUE`].
pub const TIMES_TWO_FUNCTION: &str = "TimesTwoFunction";
/// The merge step's function, fed by [`REDUCE_QUEUE`].
pub const REDUCE_FUNCTION: &str = "ReduceFunction";

/// Every queue, in the template's order.
pub const QUEUES: [&str; 6] = [
    TIMES_TWO_QUEUE,
    TIMES_TWO_DEAD_LETTER_QUEUE,
    REDUCE_QUEUE,
    REDUCE_DEAD_LETTER_QUEUE,
    OBJECT_CREATED_QUEUE,
    OBJECT_CREATED_DEAD_LETTER_QUEUE,
];
/// Every table, in the template's order.
pub const TABLES: [&str; 2] = [SCRATCHPAD_TABLE, SUMS_TABLE];
/// Every function, in the template's order.
pub const FUNCTIONS: [&str; 3] = [SUM_ARRAY_FUNCTION, TIMES_TWO_FUNCTION, REDUCE_FUNCTION];
/// Every bucket, in the template's order.
pub const BUCKETS: [&str; 1] = [INPUT_BUCKET];

/// The name the local runner's provisioning gives a bucket of the template:
/// `{prefix}-{logical id}` like its queues and tables, lowercased, as S3
/// bucket names must be.
pub fn local_bucket_name(prefix: &str, logical_id: &str) -> String {
    format!("{prefix}-{logical_id}").to_ascii_lowercase()
}
