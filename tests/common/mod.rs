//! Starting `adder serve` as a child process and talking to it over HTTP.

#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use test_support::Moto;

/// A running `adder serve`, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    client: reqwest::Client,
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
        let mut args = vec![
            "--backend",
            "aws",
            "--endpoint-url",
            moto.endpoint(),
            "--prefix",
            prefix,
        ];
        args.extend_from_slice(extra);
        Server::start(&args, &moto.env())
    }

    pub fn start(args: &[&str], env: &[(&'static str, String)]) -> Server {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_adder"))
            .arg("serve")
            .args(["--port", &port.to_string()])
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start adder serve");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
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
    }
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
