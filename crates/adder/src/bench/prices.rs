//! The prices every estimate of the bill uses, in one table: us-east-1,
//! on-demand list prices, free tiers ignored. Each says where it was read
//! and when; change a price, its date and docs/performance.md together.

/// One list price.
#[derive(Debug, Clone, Copy)]
pub struct Price {
    /// US dollars for one `unit`.
    pub usd: f64,
    // `unit` and `source` are for the reader (and the test that every price
    // has a source); the report prints only the date.
    #[allow(dead_code)]
    pub unit: &'static str,
    /// The AWS pricing page it was read from.
    #[allow(dead_code)]
    pub source: &'static str,
    /// When it was read (year-month).
    pub as_of: &'static str,
}

/// SQS standard queue, per request (each started 64 KiB of payload is one request).
pub const SQS_REQUEST: Price = Price {
    usd: 0.40 / 1e6,
    unit: "SQS standard request (per started 64 KiB)",
    source: "https://aws.amazon.com/sqs/pricing/",
    as_of: "2026-11",
};
/// DynamoDB on-demand, per write request unit (1 KB).
pub const DYNAMODB_WRITE_UNIT: Price = Price {
    usd: 0.625 / 1e6,
    unit: "DynamoDB on-demand write request unit (1 KB)",
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    as_of: "2026-11",
};
/// DynamoDB on-demand, per read request unit (4 KB strongly consistent).
pub const DYNAMODB_READ_UNIT: Price = Price {
    usd: 0.125 / 1e6,
    unit: "DynamoDB on-demand read request unit (4 KB, strongly consistent)",
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    as_of: "2026-11",
};
/// Lambda, per invocation.
pub const LAMBDA_REQUEST: Price = Price {
    usd: 0.20 / 1e6,
    unit: "Lambda invocation",
    source: "https://aws.amazon.com/lambda/pricing/",
    as_of: "2026-11",
};
/// Lambda on arm64, per GB-second (GB = the function's MemorySize / 1024).
pub const LAMBDA_GB_SECOND: Price = Price {
    usd: 0.000_013_333_4,
    unit: "Lambda arm64 GB-second",
    source: "https://aws.amazon.com/lambda/pricing/",
    as_of: "2026-11",
};
/// API Gateway REST API, per request.
pub const API_REQUEST: Price = Price {
    usd: 3.50 / 1e6,
    unit: "API Gateway REST API request",
    source: "https://aws.amazon.com/api-gateway/pricing/",
    as_of: "2026-11",
};
/// S3 Standard GET and HEAD, per request (data transfer within a region is free).
pub const S3_GET_REQUEST: Price = Price {
    usd: 0.40 / 1e6,
    unit: "S3 Standard GET or HEAD request",
    source: "https://aws.amazon.com/s3/pricing/",
    as_of: "2026-11",
};

/// Every price above.
pub const ALL: [Price; 7] = [
    SQS_REQUEST,
    DYNAMODB_WRITE_UNIT,
    DYNAMODB_READ_UNIT,
    LAMBDA_REQUEST,
    LAMBDA_GB_SECOND,
    API_REQUEST,
    S3_GET_REQUEST,
];

/// The date an estimate states: that of its most recently read price.
pub fn as_of() -> &'static str {
    ALL.iter().map(|p| p.as_of).max().unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_price_says_where_and_when_it_was_read() {
        for price in ALL {
            assert!(price.usd > 0.0, "{price:?}");
            assert!(
                price.source.starts_with("https://aws.amazon.com/"),
                "{price:?}"
            );
            let (year, month) = price.as_of.split_once('-').expect("YYYY-MM");
            assert!(year.len() == 4 && month.len() == 2, "{price:?}");
        }
        assert_eq!(as_of(), "2026-11", "the date the report prints");
    }
}
