//! The API over HTTP, for `crate::submit`'s submit, read and wait.

use super::sign::Signer;
use super::ApiArgs;
use crate::error::Error;
use crate::submit::{Api, Wait};
use std::time::Duration;

/// Shortest and longest pause between two reads while waiting: quick for
/// small arrays, gentle on a deployed API (each read is a billed request).
const FIRST_POLL: Duration = Duration::from_millis(100);
const MAX_POLL: Duration = Duration::from_secs(2);

/// How `submit --wait` and `wait` wait: with a progress bar, backing off.
pub fn backing_off(timeout: Duration) -> Wait {
    Wait {
        timeout,
        first_poll: FIRST_POLL,
        max_poll: MAX_POLL,
        progress: true,
    }
}

/// An HTTP client of one API.
pub struct Client {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
    signer: Option<Signer>,
    /// Sent as `Idempotency-Key` with every POST.
    idempotency_key: Option<String>,
}

impl Client {
    /// A client of the API `args` names (the stack's `ApiUrl` with --stack).
    pub async fn new(args: &ApiArgs) -> Result<Client, Error> {
        let base = match &args.stack {
            Some(stack) => {
                let sdk = local::sdk_config(None).await;
                let outputs = super::target::stack_outputs(&sdk, stack).await?;
                let name = stack_tools::output::API_URL;
                outputs
                    .get(name)
                    .cloned()
                    .ok_or_else(|| Error::Aws(format!("stack {stack} has no {name} output")))?
            }
            None => args.api.clone(),
        };
        check_base(&base)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Aws(format!("cannot build an HTTP client: {e}")))?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            api_key: args.api_key.clone(),
            signer: if args.sigv4 {
                Some(Signer::from_env().await?)
            } else {
                None
            },
            idempotency_key: None,
        })
    }

    /// This client, sending `key` as the `Idempotency-Key` of its POSTs.
    pub fn with_idempotency_key(self, key: Option<String>) -> Client {
        Client {
            idempotency_key: key,
            ..self
        }
    }
}

/// Whether `base` is an http(s) URL: `localhost:3000` is not (reqwest would
/// say only "builder error").
fn check_base(base: &str) -> Result<(), Error> {
    match reqwest::Url::parse(base) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(()),
        _ if !base.contains("://") => Err(Error::Usage(format!(
            "--api {base:?} has no scheme: give the whole URL, like http://{base}"
        ))),
        _ => Err(Error::Usage(format!(
            "--api {base:?} is not an http:// or https:// URL"
        ))),
    }
}

impl Api for Client {
    /// Sends a request (signed with --sigv4); answers (status, body text).
    async fn call(
        &self,
        method: http::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, String), Error> {
        let url = format!("{}{path}", self.base);
        let mut headers: Vec<(String, String)> = Vec::new();
        if body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        if let Some(key) = &self.api_key {
            headers.push(("x-api-key".into(), key.clone()));
        }
        if let Some(key) = self
            .idempotency_key
            .as_ref()
            .filter(|_| method == http::Method::POST)
        {
            headers.push((handlers::api::IDEMPOTENCY_HEADER.into(), key.clone()));
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
        let response = request.send().await.map_err(|source| Error::Unreachable {
            base: self.base.clone(),
            source,
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|source| Error::Unreachable {
            base: self.base.clone(),
            source,
        })?;
        Ok((status, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_url_needs_its_scheme() {
        let refused = |base: &str| check_base(base).err().map(|e| e.to_string());
        assert_eq!(refused("http://127.0.0.1:3000"), None);
        assert_eq!(
            refused("https://abc.execute-api.us-east-1.amazonaws.com/prod"),
            None
        );
        assert_eq!(
            refused("localhost:3000").as_deref(),
            Some(
                r#"--api "localhost:3000" has no scheme: give the whole URL, like http://localhost:3000"#
            )
        );
        assert_eq!(
            refused("ftp://host").as_deref(),
            Some(r#"--api "ftp://host" is not an http:// or https:// URL"#)
        );
    }
}
