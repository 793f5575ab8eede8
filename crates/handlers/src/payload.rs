//! What fits one Lambda invocation. Lambda refuses an event over 6 MB
//! whatever made it: API Gateway's event around a request body, or an SQS
//! event source mapping's batch. Both carry text inside JSON strings, where
//! escaping makes it larger than it was sent, so the limits are counted on
//! the escaped text ([`event_body_bytes`]).

/// Lambda's synchronous payload limit (6 MB, 6,291,456 bytes), for the JSON
/// event API Gateway builds around a request body.
pub const LAMBDA_EVENT_LIMIT: usize = 6_291_456;

/// Bytes of a REST event besides its body, at most: API Gateway admits at
/// most 10,240 bytes of request line and headers, which the event carries
/// twice (`headers`, `multiValueHeaders`), escaped (a quote or backslash
/// costs two bytes), plus the request context, path and stage.
/// `tests/event_size.rs` serializes such an event with 10,240 bytes of
/// quotes in its headers and finds it under this.
pub const EVENT_ENVELOPE_BYTES: usize = 64 * 1024;

/// Largest request body accepted, counted as it travels inside the Lambda
/// event ([`event_body_bytes`]): what is left of [`LAMBDA_EVENT_LIMIT`]
/// after the envelope. A compact body (no line breaks, tabs, quotes or
/// backslashes) costs one byte a byte, so this is also the largest body in
/// bytes. API Gateway itself accepts 10 MB: this is the binding limit.
pub const MAX_BODY_BYTES: usize = LAMBDA_EVENT_LIMIT - EVENT_ENVELOPE_BYTES;

/// An SQS event source mapping invokes once a batch's payload reaches
/// "6 MB", which AWS does not define further: read as 6,000,000 bytes, the
/// smaller reading. `template.yaml` keeps every mapping's `BatchSize` times
/// its queue's largest record under it (tests/template_limits.rs), so a
/// batch is never cut short and no received message waits out a visibility
/// timeout it was not processed in.
pub const BATCH_PAYLOAD_LIMIT: usize = 6_000_000;

/// Bytes of one SQS event record besides its body, at most: a 36-byte
/// `messageId`, a receipt handle (at most 1,024 bytes), the body's MD5, the
/// queue's ARN (a name of at most 80 characters), the region, the attributes
/// Lambda passes (receive count, timestamps, sender id, X-Ray trace header)
/// and the field names. tests/template_limits.rs measures a record with
/// every field at its largest.
pub const SQS_RECORD_ENVELOPE_BYTES: usize = 4_096;

/// Bytes `text` takes inside a JSON string of an event, at most: a quote, a
/// backslash and the short escapes (line feed, tab, …) cost two, other
/// control characters six (`\u0000`), a slash two (an encoder may escape
/// it), and a non-ASCII character six a UTF-16 unit (an encoder may write
/// `\uXXXX`). Counted high rather than low, so that what is accepted by this
/// count is never an event Lambda refuses.
pub fn event_body_bytes(text: &str) -> usize {
    text.chars()
        .map(|c| match c {
            '"' | '\\' | '/' | '\n' | '\t' | '\r' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c if c.is_ascii() => 1,
            c => 6 * c.len_utf16(),
        })
        .sum()
}

/// Bytes an SQS record with body `body` adds to a batch's event, at most.
pub fn sqs_record_bytes(body: &str) -> usize {
    event_body_bytes(body) + SQS_RECORD_ENVELOPE_BYTES
}
