//! The API over HTTP: submit, read and wait for an array.

use super::sign::Signer;
use super::ApiArgs;
use crate::Failure;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::{Duration, Instant};

/// Shortest and longest pause between two reads while waiting: quick for
/// small arrays, gentle on a deployed API (each read is a billed request).
const FIRST_POLL: Duration = Duration::from_millis(100);
const MAX_POLL: Duration = Duration::from_secs(2);

/// What POST /sumArray answered.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Submitted {
    pub array_id: String,
    pub array_length: u64,
}

/// The fields of GET /sums/{arrayId} the client reads. `sum` stays raw JSON
/// text, so it is printed with every digit the API sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    status: String,
    array_length: u64,
    #[serde(borrow, default)]
    sum: Option<&'a RawValue>,
    /// Absent from APIs that do not count progress yet.
    #[serde(default)]
    reduced_elements: Option<u64>,
    /// Set when failed: the kind of failure and what to do about it.
    #[serde(default)]
    failure: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// An HTTP client of one API.
pub struct Client {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
    signer: Option<Signer>,
}

impl Client {
    /// A client of the API `args` names (the stack's `ApiUrl` with --stack).
    pub async fn new(args: &ApiArgs) -> Result<Client, Failure> {
        let base = match &args.stack {
            Some(stack) => {
                let sdk = crate::backend::sdk_config(None).await;
                let outputs = super::target::stack_outputs(&sdk, stack).await?;
                outputs
                    .get("ApiUrl")
                    .cloned()
                    .ok_or_else(|| (1, format!("stack {stack} has no ApiUrl output")))?
            }
            None => args.api.clone(),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| (1, format!("cannot build an HTTP client: {e}")))?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            api_key: args.api_key.clone(),
            signer: if args.sigv4 {
                Some(Signer::from_env().await?)
            } else {
                None
            },
        })
    }

    /// Sends a request (signed with --sigv4); answers (status, body text).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, String), Failure> {
        let url = format!("{}{path}", self.base);
        let mut headers: Vec<(String, String)> = Vec::new();
        if body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        if let Some(key) = &self.api_key {
            headers.push(("x-api-key".into(), key.clone()));
        }
        if let Some(signer) = &self.signer {
            let signed: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let bytes = body.as_deref().unwrap_or("").as_bytes();
            let extra = signer
                .headers(method.as_str(), &url, &signed, bytes)
                .await?;
            headers.extend(extra);
        }
        let mut request = self.http.request(method, &url);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(|e| {
            (
                1,
                format!(
                    "cannot reach the API at {}: {e} (is `adder serve` running, or is --api right?)",
                    self.base
                ),
            )
        })?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| (1, format!("cannot read the API's answer: {e}")))?;
        Ok((status, text))
    }

    /// POSTs the array.
    pub async fn submit(&self, body: String) -> Result<Submitted, Failure> {
        let (status, text) = self
            .call(reqwest::Method::POST, "/sumArray", Some(body))
            .await?;
        if status != 200 {
            return Err(refusal(status, &text));
        }
        serde_json::from_str(&text).map_err(|e| {
            (
                1,
                format!("unexpected answer from POST /sumArray ({e}): {text}"),
            )
        })
    }

    /// GET /sums/{id}: the JSON text as the API sent it.
    pub async fn get(&self, array_id: &str) -> Result<String, Failure> {
        let (status, text) = self
            .call(reqwest::Method::GET, &format!("/sums/{array_id}"), None)
            .await?;
        if status != 200 {
            return Err(refusal(status, &text));
        }
        Ok(text)
    }

    /// Reads the array until it is done (or failed: an error with the
    /// reason), drawing progress on stderr (only
    /// when it is a terminal); returns the sum's exact text.
    pub async fn wait(&self, array_id: &str, timeout: Duration) -> Result<String, Failure> {
        let started = Instant::now();
        let bar = ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        let mut pause = FIRST_POLL;
        let mut counted = false;
        let outcome = loop {
            let text = match self.get(array_id).await {
                Ok(t) => t,
                Err(e) => break Err(e),
            };
            let record: Record = match serde_json::from_str(&text) {
                Ok(r) => r,
                Err(e) => break Err((1, format!("unexpected answer ({e}): {text}"))),
            };
            if record.status == "failed" {
                break Err((
                    1,
                    format!(
                        "array {array_id} failed ({}): {}",
                        record.failure.as_deref().unwrap_or("no kind given"),
                        record.reason.as_deref().unwrap_or("no reason given")
                    ),
                ));
            }
            if record.status == "done" {
                bar.set_length(record.array_length);
                bar.set_position(record.array_length);
                match record.sum {
                    Some(sum) => break Ok(sum.get().to_string()),
                    None => break Err((1, format!("array {array_id} is done without a sum"))),
                }
            }
            match record.reduced_elements {
                Some(reduced) => {
                    if !counted {
                        // The API counts progress: switch from spinner to bar.
                        counted = true;
                        bar.set_style(bar_style());
                        bar.set_length(record.array_length);
                    }
                    bar.set_position(reduced.min(record.array_length));
                }
                None => bar.set_message(format!(
                    "{array_id}: {} ({} elements)",
                    record.status, record.array_length
                )),
            }
            if started.elapsed() > timeout {
                break Err((
                    1,
                    format!("array {array_id} not done after {} s", timeout.as_secs()),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 3 / 2).min(MAX_POLL);
        };
        bar.finish_and_clear();
        outcome
    }
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} elements reduced",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// An error answer: exit 2 for the client's mistakes (4xx), 1 otherwise.
fn refusal(status: u16, text: &str) -> Failure {
    let why = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.to_string());
    let code = if (400..500).contains(&status) { 2 } else { 1 };
    (code, format!("the API answered {status}: {why}"))
}
