//! CloudWatch metrics in Embedded Metric Format: one JSON line per invocation
//! on stdout, which Lambda ships to CloudWatch Logs and CloudWatch turns into
//! metrics, with no API call and no latency on the request path.

use serde_json::{json, Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "DistributedAdder";

/// What one invocation did. Zero counts are still reported, so dashboards see
/// a continuous series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    pub elements_accepted: u64,
    /// Object arrays started by S3 notifications (or found started).
    pub objects_started: u64,
    pub packets_mapped: u64,
    pub packets_merged: u64,
    pub arrays_completed: u64,
    /// Arrays this invocation failed (not enqueued, dead-lettered, expired).
    pub arrays_failed: u64,
    /// Submission-to-result latency of each array completed here.
    pub latencies_ms: Vec<u64>,
    /// Messages received more than once.
    pub retries: u64,
    /// Writes that found their work already done (duplicates, races).
    pub conflicts: u64,
    pub batch_item_failures: u64,
}

impl Metrics {
    /// The EMF document for `function` (the `Function` dimension).
    pub fn to_emf(&self, function: &str) -> Value {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let counts = [
            ("ElementsAccepted", self.elements_accepted),
            ("ObjectsStarted", self.objects_started),
            ("PacketsMapped", self.packets_mapped),
            ("PacketsMerged", self.packets_merged),
            ("ArraysCompleted", self.arrays_completed),
            ("ArraysFailed", self.arrays_failed),
            ("Retries", self.retries),
            ("Conflicts", self.conflicts),
            ("BatchItemFailures", self.batch_item_failures),
        ];
        let mut definitions: Vec<Value> = counts
            .iter()
            .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
            .collect();
        let mut doc = Map::new();
        doc.insert("Function".into(), json!(function));
        for (name, value) in counts {
            doc.insert(name.into(), json!(value));
        }
        if !self.latencies_ms.is_empty() {
            definitions.push(json!({"Name": "ArrayLatency", "Unit": "Milliseconds"}));
            doc.insert("ArrayLatency".into(), json!(self.latencies_ms));
        }
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Function"]],
                    "Metrics": definitions,
                }],
            }),
        );
        Value::Object(doc)
    }

    /// Prints the EMF line when running in Lambda (stdout is the log stream);
    /// elsewhere (the local runner prints results on stdout) logs it at debug.
    pub fn publish(&self, function: &str) {
        let line = self.to_emf(function).to_string();
        if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
            println!("{line}");
        } else {
            tracing::debug!(metrics = %line, "invocation metrics");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_names_every_metric_it_carries() {
        let m = Metrics {
            packets_merged: 3,
            arrays_completed: 1,
            latencies_ms: vec![1500],
            conflicts: 2,
            ..Metrics::default()
        };
        let doc = m.to_emf("reduce");
        let aws = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(aws["Namespace"], NAMESPACE);
        assert_eq!(aws["Dimensions"], json!([["Function"]]));
        let names: Vec<&str> = aws["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .filter_map(|d| d["Name"].as_str())
            .collect();
        for name in &names {
            assert!(doc.get(*name).is_some(), "{name} has no value");
        }
        assert!(names.contains(&"ArrayLatency"));
        assert_eq!(doc["PacketsMerged"], 3);
        assert_eq!(doc["ArrayLatency"], json!([1500]));
        assert_eq!(doc["Function"], "reduce");
        assert!(doc["_aws"]["Timestamp"].as_u64().is_some_and(|t| t > 0));
        let quiet = Metrics::default().to_emf("times_two");
        assert!(quiet.get("ArrayLatency").is_none());
    }
}
