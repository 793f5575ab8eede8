//! Every log line a step writes names its function and its array.

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use pipeline::memory::MemoryBackend;
use pipeline::{submit, Config, SystemClock};
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(data);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn json_lines_carry_function_array_and_packet() {
    let buffer = Buffer::default();
    let sink = buffer.clone();
    // What Lambda sets for template.yaml's LoggingConfig (LogFormat: JSON),
    // with the level raised to see every line. The runtime's initialisation
    // installs a global subscriber: this file holds this one test only.
    std::env::set_var("AWS_LAMBDA_LOG_FORMAT", "JSON");
    std::env::set_var("AWS_LAMBDA_LOG_LEVEL", "DEBUG");
    std::env::remove_var("RUST_LOG");
    lambda_runtime::tracing::init_default_subscriber_with_writer(move || sink.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let array_id = runtime.block_on(async {
        let backend = MemoryBackend::new(Arc::new(SystemClock), 5);
        let ports = backend.ports();
        // Two packets, so that reduce walks (one would be finished by times_two).
        let config = Config {
            chunk_size: 2,
            ..Config::default()
        };
        let accepted = submit(&ports, &config, "[1,2,3]").await.expect("accepted");
        let mut event = SqsEvent::default();
        for (i, body) in backend.times_two_queue.bodies().into_iter().enumerate() {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("m{i}"));
            m.body = Some(body);
            event.records.push(m);
        }
        let mut bad = SqsMessage::default();
        bad.message_id = Some("bad".into());
        bad.body = Some("{\"not\":\"a packet\"}".into());
        event.records.push(bad);
        handlers::handle_times_two(&ports, &config, &event, None).await;
        let mut event = SqsEvent::default();
        for (i, body) in backend.reduce_queue.bodies().into_iter().enumerate() {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("r{i}"));
            m.body = Some(body);
            event.records.push(m);
        }
        handlers::handle_reduce(&ports, &config, &event, None).await;
        accepted.array_id
    });
    let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let in_function: Vec<&Value> = lines
        .iter()
        .filter(|l| l["spans"].as_array().is_some_and(|s| !s.is_empty()))
        .collect();
    assert!(in_function.len() >= 3, "{text}");
    for line in &in_function {
        let spans = line["spans"].as_array().expect("spans");
        let function = spans[0]["name"].as_str().unwrap_or_default();
        assert!(matches!(function, "times_two" | "reduce"), "{line}");
        let names_array = spans.iter().any(|s| s["array_id"] == array_id.as_str());
        let is_refusal =
            line["fields"]["message_id"] == "bad" || line["fields"]["error"].is_string();
        assert!(
            names_array || is_refusal,
            "a line without its array: {line}"
        );
    }
    assert!(
        in_function.iter().any(|l| l["spans"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["packet_id"].is_string()))),
        "reduce lines name the packet they walk from: {text}"
    );
    assert!(
        lines.iter().any(|l| l["fields"]["message_id"] == "bad"),
        "the refused message is logged with its id: {text}"
    );
    assert!(!text.contains("\"a packet\""), "payloads are never logged");
}
