//! Submit an array and wait for its sum: the one loop behind `adder sum`,
//! `adder bench` and `adder submit --wait`, over any [`Api`]: the Router in
//! process ([`local::InProcess`]) or a server over HTTP (`client::api::Client`).

use crate::error::Error;
use handlers::wire::{ArrayAccepted, ObjectAccepted, ObjectRequest, SumView};
use http::Method;
use indicatif::{ProgressBar, ProgressStyle};
use local::InProcess;
use packet::job::JobSpec;
use std::time::{Duration, Instant};

/// Something that answers the API's requests: (status, body text).
pub trait Api {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, String), Error>;
}

/// The local pipeline's Router, called in process.
impl Api for InProcess {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, String), Error> {
        Ok(self.request(method, path, body).await?)
    }
}

/// Progress as (done, total): elements of an array, bytes of an object.
fn progress(record: &SumView) -> Option<(u64, u64)> {
    match (&record.object, record.bytes_mapped, record.array_length) {
        (Some(object), mapped, _) => Some((mapped.unwrap_or(0), object.size)),
        (None, _, Some(n)) => Some((record.reduced_elements?.min(n), n)),
        (None, _, None) => None,
    }
}

/// POSTs an object request.
pub async fn submit_object(
    api: &impl Api,
    request: &ObjectRequest,
) -> Result<ObjectAccepted, Error> {
    let body = serde_json::to_string(request)
        .map_err(|e| Error::Input(format!("the POST /sumObject request: {e}")))?;
    let (status, text) = api.call(Method::POST, "/sumObject", Some(body)).await?;
    if status != 200 {
        return Err(Error::refused(status, &text));
    }
    serde_json::from_str(&text).map_err(|e| Error::Unexpected {
        what: format!("POST /sumObject ({e})"),
        text,
    })
}

/// POSTs the array, to be run by `job`.
pub async fn submit(api: &impl Api, body: String, job: &JobSpec) -> Result<ArrayAccepted, Error> {
    // The API would refuse it with 413, and an HTTP server that answers
    // before reading a whole body leaves the client only a broken pipe:
    // say so before sending, with the API's own count.
    let bytes = handlers::event_body_bytes(&body);
    if bytes > handlers::MAX_BODY_BYTES {
        return Err(Error::TooLarge {
            bytes,
            limit: handlers::MAX_BODY_BYTES,
        });
    }
    let path = crate::job::array_path(job);
    let (status, text) = api.call(Method::POST, &path, Some(body)).await?;
    if status != 200 {
        return Err(Error::refused(status, &text));
    }
    serde_json::from_str(&text).map_err(|e| Error::Unexpected {
        what: format!("POST /sumArray ({e})"),
        text,
    })
}

/// GET /sums/{id}: the JSON text as the API sent it.
pub async fn get(api: &impl Api, array_id: &str) -> Result<String, Error> {
    let (status, text) = api
        .call(Method::GET, &format!("/sums/{array_id}"), None)
        .await?;
    if status != 200 {
        return Err(Error::refused(status, &text));
    }
    Ok(text)
}

/// How to wait: how long in all, and the pause between two reads, from
/// `first_poll` growing by half up to `max_poll`.
pub struct Wait {
    pub timeout: Duration,
    pub first_poll: Duration,
    pub max_poll: Duration,
    /// Draw progress on stderr (when it is a terminal).
    pub progress: bool,
}

/// A finished array: its result's exact text (the sum, or another job's
/// result) and its whole record as the API sent it.
pub struct Done {
    pub result: String,
    pub record: String,
}

impl Done {
    /// What a command prints: the result, or with `--json` the record.
    pub fn print(&self, json: bool) {
        match json {
            true => println!("{}", self.record),
            false => println!("{}", self.result),
        }
    }
}

/// Reads the array until it is done (or failed: an error with the reason);
/// returns its result's exact text: the sum, or another job's result.
pub async fn wait(api: &impl Api, array_id: &str, how: &Wait) -> Result<String, Error> {
    Ok(wait_done(api, array_id, how).await?.result)
}

/// [`wait`], keeping the record too.
pub async fn wait_done(api: &impl Api, array_id: &str, how: &Wait) -> Result<Done, Error> {
    let started = Instant::now();
    let bar = if how.progress {
        let bar = ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut pause = how.first_poll;
    let outcome = loop {
        let read = get(api, array_id).await;
        match read.and_then(|text| Ok((read_record(array_id, &text, &bar)?, text))) {
            Ok((Some(result), record)) => break Ok(Done { result, record }),
            Ok((None, _)) => {}
            // A 503 says the table could not be read right now: read again.
            Err(Error::Refused { status: 503, why }) => {
                tracing::warn!(why, "could not read the result yet");
            }
            Err(e) => break Err(e),
        }
        if started.elapsed() > how.timeout {
            break Err(Error::NotDone {
                array_id: array_id.to_string(),
                seconds: how.timeout.as_secs(),
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(how.max_poll);
    };
    bar.finish_and_clear();
    outcome
}

/// One read of the array: its sum once done, `None` while pending (the bar
/// shows how far it is), an error once failed.
fn read_record(array_id: &str, text: &str, bar: &ProgressBar) -> Result<Option<String>, Error> {
    // `sum` stays raw JSON text, so it is printed with every digit the API sent.
    let record: SumView = serde_json::from_str(text).map_err(|e| Error::Unexpected {
        what: format!("GET /sums/{array_id} ({e})"),
        text: text.to_string(),
    })?;
    match record.status.as_str() {
        "failed" => Err(Error::ArrayFailed {
            array_id: array_id.to_string(),
            kind: record.failure.unwrap_or_else(|| "no kind given".into()),
            reason: record.reason.unwrap_or_else(|| "no reason given".into()),
        }),
        "done" => {
            if let Some((_, total)) = progress(&record) {
                bar.set_length(total);
                bar.set_position(total);
            }
            let result = record
                .result
                .or(record.sum)
                .ok_or_else(|| Error::Unexpected {
                    what: format!("GET /sums/{array_id}"),
                    text: "done without a sum".into(),
                })?;
            Ok(Some(result.get().to_string()))
        }
        _ => {
            match progress(&record) {
                Some((done, total)) => {
                    if bar.length().is_none() {
                        // The API counts progress: switch from spinner to bar.
                        let unit = if record.object.is_some() {
                            "bytes mapped"
                        } else {
                            "elements reduced"
                        };
                        bar.set_style(bar_style(unit));
                        bar.set_length(total);
                    }
                    bar.set_position(done);
                }
                None => bar.set_message(format!("{array_id}: {}", record.status)),
            }
            Ok(None)
        }
    }
}

fn bar_style(unit: &str) -> ProgressStyle {
    ProgressStyle::with_template(&format!(
        "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/{{human_len}} {unit}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Submits `body` and waits for its sum: (what was submitted, the sum).
pub async fn submit_and_wait(
    api: &impl Api,
    body: String,
    job: &JobSpec,
    how: &Wait,
) -> Result<(ArrayAccepted, Done), Error> {
    let submitted = submit(api, body, job).await?;
    if how.progress {
        eprintln!(
            "submitted {} ({} elements)",
            submitted.array_id, submitted.array_length
        );
    }
    let done = wait_done(api, &submitted.array_id, how).await?;
    Ok((submitted, done))
}
