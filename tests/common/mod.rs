//! Starting `adder serve` as a child process and talking to it over HTTP.

#![allow(dead_code)]

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use test_support::iam::{Principal, Principals};
use test_support::Moto;

/// A running `adder serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub client: reqwest::Client,
    /// Where its stderr goes, when it is watched for denied requests.
    log: Option<PathBuf>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Server {
    /// `adder serve --backend aws` against `moto`, with extra flags.
    pub fn aws(moto: &Moto, prefix: &str, extra: &[&str]) -> Server {
        Server::start(&aws_args(moto, prefix, extra), &moto.env())
    }

    /// Like [`Server::aws`], on a moto that enforces IAM (see
    /// `test_support::iam`): it provisions as the deployer, and each function
    /// and its poller sign as the function's own IAM user. Its log is watched:
    /// [`Server::wait`] fails at the first request IAM denied, naming it.
    pub fn aws_iam(moto: &Moto, principals: &Principals, prefix: &str, extra: &[&str]) -> Server {
        Server::aws_iam_env(moto, principals, prefix, extra, &[])
    }

    /// [`Server::aws_iam`] with settings of the functions' own (such as
    /// `NOTIFIED_JOB`) given in the environment, as a deployment's are.
    pub fn aws_iam_env(
        moto: &Moto,
        principals: &Principals,
        prefix: &str,
        extra: &[&str],
        settings: &[(&'static str, String)],
    ) -> Server {
        let mut env = principals.runner_env(moto);
        env.extend(settings.iter().cloned());
        let log = std::env::temp_dir().join(format!(
            "adder-serve-{}-{prefix}-{}.log",
            std::process::id(),
            free_port()
        ));
        Server::spawn(&aws_args(moto, prefix, extra), &env, Some(log))
    }

    pub fn start(args: &[&str], env: &[(&'static str, String)]) -> Server {
        Server::spawn(args, env, None)
    }

    fn spawn(args: &[&str], env: &[(&'static str, String)], log: Option<PathBuf>) -> Server {
        let port = free_port();
        let stderr = match &log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("a log file")),
            None => Stdio::inherit(),
        };
        let child = Command::new(env!("CARGO_BIN_EXE_adder"))
            .arg("serve")
            .args(["--port", &port.to_string()])
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start adder serve");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "adder serve did not listen within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Ctrl-C, as a user stops it: SIGINT, then its exit (within `within`).
    pub fn interrupt(&mut self, within: Duration) -> Duration {
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        while self.child.try_wait().ok().flatten().is_none() {
            assert!(
                started.elapsed() < within,
                "adder serve still running {within:?} after Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        started.elapsed()
    }

    /// The log lines of requests IAM denied (the runner logs "IAM denied
    /// <action>"); empty when the log is not watched.
    pub fn denials(&self) -> Vec<String> {
        let Some(path) = &self.log else {
            return Vec::new();
        };
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("IAM denied") || l.contains("not authorized"))
            .map(str::to_string)
            .collect()
    }

    /// Fails the test if IAM denied any request so far.
    pub fn assert_nothing_denied(&self) {
        let denials = self.denials();
        assert!(
            denials.is_empty(),
            "IAM denied {} request(s):\n{}",
            denials.len(),
            denials.join("\n")
        );
    }

    /// POSTs `body` to /sumArray: (status, JSON answer).
    pub async fn post(&self, body: &str) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/sumArray", self.base))
            .body(body.to_string())
            .send()
            .await
            .expect("POST /sumArray");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// GET /sums/{id}: (status, raw body text).
    pub async fn get(&self, id: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}/sums/{id}", self.base))
            .send()
            .await
            .expect("GET /sums");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Submits `body` and waits for its sum; returns the sum's exact JSON text.
    pub async fn sum(&self, body: &str, within: Duration) -> String {
        let (status, answer) = self.post(body).await;
        assert_eq!(status, 200, "POST answered {answer}");
        let id = answer["arrayId"].as_str().expect("arrayId").to_string();
        self.wait(&id, within).await
    }

    /// Waits until array `id` is done; returns its sum's exact JSON text.
    pub async fn wait(&self, id: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            self.assert_nothing_denied();
            let (status, text) = self.get(id).await;
            assert_eq!(status, 200, "{text}");
            let json: Value = serde_json::from_str(&text).expect("JSON");
            if json["status"] == "done" {
                return raw_sum(&text);
            }
            assert!(
                Instant::now() < deadline,
                "array {id} not done in {within:?}: {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if let Some(log) = &self.log {
            let _ = std::fs::remove_file(log);
        }
    }
}

fn aws_args<'a>(moto: &'a Moto, prefix: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--backend",
        "aws",
        "--endpoint-url",
        moto.endpoint(),
        "--prefix",
        prefix,
    ];
    args.extend_from_slice(extra);
    args
}

/// An SDK configuration for `moto` that signs as `principal`.
pub async fn sdk_as(moto: &Moto, principal: &Principal) -> aws_config::SdkConfig {
    aws_ports::load_sdk_config(aws_ports::Account::Emulator {
        endpoint: moto.endpoint(),
        access_key_id: &principal.access_key_id,
        secret_access_key: &principal.secret_access_key,
    })
    .await
}

/// The `sum` member's text exactly as sent (no float conversion on the way).
pub fn raw_sum(text: &str) -> String {
    #[derive(serde::Deserialize)]
    struct View<'a> {
        #[serde(borrow)]
        sum: &'a serde_json::value::RawValue,
    }
    let view: View = serde_json::from_str(text).expect("a sum");
    view.sum.get().to_string()
}

/// The exact expected sum of doubled elements.
pub fn expected(elements: &[String]) -> String {
    let total: packet::Number = elements
        .iter()
        .map(|e| packet::Number::parse(e).expect("number").doubled())
        .sum();
    total.to_string()
}

pub fn array(elements: &[String]) -> String {
    format!("[{}]", elements.join(","))
}

/// Runs `adder args…` with extra environment and `stdin`: (exit code, stdout, stderr).
pub fn run_adder(
    args: &[&str],
    env: &[(&str, String)],
    stdin: Option<&str>,
) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_adder"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run adder");
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin.unwrap_or("").as_bytes());
    }
    let out = child.wait_with_output().expect("adder output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Messages of `queue`: (visible, in flight).
pub async fn depth(sqs: &aws_sdk_sqs::Client, queue: &str) -> (u64, u64) {
    let answer = sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("queue attributes");
    let get = |name: QueueAttributeName| -> u64 {
        answer
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// Waits until every queue of `queues` holds no message, visible or in
/// flight: every message sent to them has been handled and deleted.
pub async fn wait_until_empty(sqs: &aws_sdk_sqs::Client, queues: &[&str], within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let mut left = Vec::new();
        for queue in queues {
            let (visible, in_flight) = depth(sqs, queue).await;
            if visible + in_flight > 0 {
                left.push(format!("{queue}: {visible} visible, {in_flight} in flight"));
            }
        }
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "queues not empty after {within:?}: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
