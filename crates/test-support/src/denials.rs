//! A relay in front of an IAM-enforcing moto that notes every request moto
//! denied, by the action moto names in its answer.
//!
//! A process signing as an IAM user cannot always say what was denied: moto
//! answers a denied request of SQS's JSON protocol in XML, which the SDK reads
//! as `Unknown: no message`, so a function's log names neither IAM nor the
//! action. moto's answer itself does (`User: … is not authorized to perform:
//! sqs:SendMessageBatch`), so the relay reads the answers on their way back
//! and keeps each denial before the caller sees it. It forwards the bytes
//! unchanged: the request's `Host` header, which SigV4 signs, names the relay,
//! and moto checks the signature against what it receives.

use crate::Moto;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What moto's AccessDenied message says before the action.
const MARKER: &[u8] = b"not authorized to perform: ";
/// How far before the marker moto's message starts (`User: <user ARN> is `).
const CONTEXT: usize = 200;

/// Each denied action, with moto's message for its first denial.
type Denied = Arc<Mutex<BTreeMap<String, String>>>;

/// What a [`DenialWatch`] noted: a handle that outlives no relay's use, cheap to clone.
#[derive(Clone, Default)]
pub struct Denials(Denied);

impl Denials {
    /// Each action moto denied so far (in moto's names: `sqs:SendMessageBatch`),
    /// with moto's message (`User: <ARN> is not authorized to perform: <action>`).
    pub fn all(&self) -> BTreeMap<String, String> {
        lock(&self.0).clone()
    }
}

/// The relay; it stops when dropped.
pub struct DenialWatch {
    endpoint: String,
    denied: Denied,
    server: JoinHandle<()>,
}

impl Drop for DenialWatch {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl DenialWatch {
    /// Listens on a free loopback port and relays each connection to `moto`.
    /// Must run inside a tokio runtime.
    pub async fn start(moto: &Moto) -> std::io::Result<DenialWatch> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let upstream = moto.endpoint().trim_start_matches("http://").to_string();
        let denied = Denied::default();
        let noted = denied.clone();
        let server = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream.clone(), noted.clone()));
            }
        });
        Ok(DenialWatch {
            endpoint,
            denied,
            server,
        })
    }

    /// The endpoint to give a client instead of moto's (`AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `moto`'s environment for a child process, pointed at the relay.
    pub fn env(&self, mut env: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
        env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
        env.push(("AWS_ENDPOINT_URL", self.endpoint.clone()));
        env
    }

    /// What the relay noted, and goes on noting.
    pub fn denials(&self) -> Denials {
        Denials(self.denied.clone())
    }
}

fn lock(denied: &Denied) -> MutexGuard<'_, BTreeMap<String, String>> {
    // Each update is one insert: a panicking holder cannot leave it half-made.
    denied
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Copies `client`'s requests to moto and moto's answers back, noting the
/// denials in the answers before passing them on, so that a caller who has
/// seen a denied answer finds it in [`DenialWatch::denied`].
async fn relay(client: TcpStream, upstream: String, denied: Denied) {
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
        let _ = to_server.shutdown().await;
    });
    let mut buffer = vec![0; 64 * 1024];
    let mut window = Vec::new();
    loop {
        let n = match from_server.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        window.extend_from_slice(&buffer[..n]);
        for (action, message) in take_denials(&mut window) {
            lock(&denied).entry(action).or_insert(message);
        }
        if to_client.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to_client.shutdown().await;
    requests.abort();
}

/// The denials (action, message) complete in `window`, which keeps only what
/// a denial split across reads may still need.
fn take_denials(window: &mut Vec<u8>) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut from = 0;
    loop {
        let Some(at) = find(&window[from..], MARKER).map(|i| i + from) else {
            // A marker may be starting at the end, its message before it.
            let keep = window.len().saturating_sub(MARKER.len() + CONTEXT);
            window.drain(..keep.max(from.min(window.len())));
            return found;
        };
        let start = at + MARKER.len();
        let length = window[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b':' || **b == b'*')
            .count();
        if start + length == window.len() {
            // The action may go on in the next read.
            window.drain(..at.saturating_sub(CONTEXT));
            return found;
        }
        let action = String::from_utf8_lossy(&window[start..start + length]).into_owned();
        let before = &window[at.saturating_sub(CONTEXT)..at];
        let opening = find(before, b"User: ").unwrap_or(0);
        let message = String::from_utf8_lossy(&before[opening..]).into_owned()
            + &String::from_utf8_lossy(&window[at..start + length]);
        found.push((action, message));
        from = start + length;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DENIAL: &str = "HTTP/1.1 403 FORBIDDEN\r\n\r\n<ErrorResponse><Errors><Error>\
        <Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/u is \
        not authorized to perform: sqs:SendMessageBatch</Message></Error></Errors></ErrorResponse>";

    #[test]
    fn a_denial_is_found_whole_or_split_across_reads() {
        for split in [0, 40, 150, DENIAL.len() - 20, DENIAL.len() - 5] {
            let mut window = Vec::new();
            let mut found = Vec::new();
            for part in [&DENIAL[..split], &DENIAL[split..], "HTTP/1.1 200 OK\r\n"] {
                window.extend_from_slice(part.as_bytes());
                found.extend(take_denials(&mut window));
            }
            assert_eq!(
                found,
                [(
                    "sqs:SendMessageBatch".to_string(),
                    "User: arn:aws:iam::123456789012:user/u is not authorized to perform: \
                     sqs:SendMessageBatch"
                        .to_string()
                )],
                "split at {split}"
            );
            assert!(window.len() <= MARKER.len() + CONTEXT, "{split}");
        }
    }

    #[test]
    fn answers_without_a_denial_leave_little() {
        let mut window = "HTTP/1.1 200 OK\r\n\r\n{}".repeat(100).into_bytes();
        assert!(take_denials(&mut window).is_empty());
        assert!(window.len() <= MARKER.len() + CONTEXT);
    }
}
