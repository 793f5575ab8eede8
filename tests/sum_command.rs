//! `adder sum` on the embedded backend: the README's first command.

mod common;

fn adder(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    common::run_adder(args, &[], stdin)
}

#[test]
fn sums_arguments_json_files_and_stdin() {
    assert_eq!(adder(&["sum", "1", "2", "3", "4", "5"], None).0, 0);
    assert_eq!(adder(&["sum", "1", "2", "3", "4", "5"], None).1, "30\n");
    assert_eq!(adder(&["sum", "[0.1, 0.2, 0.3]"], None).1, "1.2\n");
    assert_eq!(
        adder(&["sum", "-5", "3"], None).1,
        "-4\n",
        "negative numbers need no --"
    );
    assert_eq!(
        adder(&["sum"], Some("[9007199254740993]")).1,
        "18014398509481986\n"
    );
    assert_eq!(adder(&["sum"], Some("[]")).1, "0\n");
    let file = std::env::temp_dir().join(format!("adder-sum-{}.json", std::process::id()));
    let many: Vec<String> = (1..=20_000).map(|i| i.to_string()).collect();
    std::fs::write(&file, format!("[{}]", many.join(","))).expect("write");
    let path = file.to_string_lossy().to_string();
    assert_eq!(
        adder(
            &[
                "sum",
                "--file",
                &path,
                "--chunk-size",
                "10",
                "--fan-in",
                "4"
            ],
            None
        )
        .1,
        "400020000\n"
    );
    let _ = std::fs::remove_file(file);
}

#[test]
fn bad_input_exits_2_with_the_reason() {
    let (code, out, err) = adder(&["sum", "1", "x"], None);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("argument 2"), "{err}");
    let (code, _, err) = adder(&["sum", "[1, true]"], None);
    assert_eq!(code, 2);
    assert!(err.contains("element 1 is a boolean"), "{err}");
    let (code, _, err) = adder(&["sum"], Some("[1,\n2,x]"));
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "adder: stdin: byte 6 (line 2): `x` is not a JSON number\n  help: give numbers \
         (`1 2 3`), one JSON array (`'[1,2,3]'`), --file FILE, or pipe them in\n"
    );
}

/// One grammar for every command: what `sum` reads, `submit` reads, with
/// the same message for the same mistake (submit fails before sending).
#[test]
fn sum_and_submit_read_input_alike() {
    let seq: String = (1..=10).map(|i| format!("{i}\n")).collect();
    assert_eq!(
        adder(&["sum"], Some(&seq)).1,
        "110\n",
        "seq 1 10 | adder sum"
    );
    assert_eq!(
        adder(&["sum", "--file", "-", "--format", "lines"], Some("1\n2\n")).1,
        "6\n"
    );
    assert_eq!(
        adder(
            &["sum", "--format", "csv", "--column", "b"],
            Some("a,b\n1,2\n3,4\n")
        )
        .1,
        "12\n"
    );
    let bad = temp_file("bad.json", "[1,\n2,x]");
    let path = bad.to_string_lossy().to_string();
    let said = format!("adder: {path}: byte 6 (line 2): `x` is not a JSON number\n");
    for command in ["sum", "submit"] {
        let (code, _, err) = adder(&[command, "--file", &path], None);
        assert_eq!(code, 2, "{command}");
        assert!(err.starts_with(&said), "{command}: {err}");
    }
    let quoted = temp_file("quoted.csv", "a\n\"1\n2\"\n");
    let path = quoted.to_string_lossy().to_string();
    for command in ["sum", "submit"] {
        let (code, _, err) = adder(&[command, "--file", &path, "--format", "csv"], None);
        assert_eq!(
            code, 2,
            "{command}: a line break inside quotes is refused: {err}"
        );
    }
    let _ = std::fs::remove_file(bad);
    let _ = std::fs::remove_file(quoted);
}

/// A bad local file summed by ranges names the file, not the object the
/// runner made of it, with no log line before it and no colour codes.
#[test]
fn a_bad_local_file_fails_naming_the_file_alone() {
    let bad = temp_file("bad.csv", "amount\n1\nx\n");
    let path = bad.to_string_lossy().to_string();
    let (code, out, err) = adder(&["sum", "--file", &path, "--column", "amount"], None);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.starts_with("adder: array ") && err.ends_with(&format!(
            "failed (bad_data): {path} is not valid CSV data: byte 9 (line 3): `x` is not a JSON number\n"
        )),
        "{err}"
    );
    assert!(
        !err.contains("s3://") && !err.contains('\u{1b}') && !err.contains("WARN"),
        "{err}"
    );
    let (_, _, logged) = common::run_adder(
        &["sum", "--file", &path, "--column", "amount"],
        &[("RUST_LOG", "warn".to_string())],
        None,
    );
    assert!(
        logged.contains("WARN"),
        "asked for, warnings are logged: {logged}"
    );
    assert!(
        !logged.contains('\u{1b}'),
        "no colour codes off a terminal: {logged}"
    );
    let _ = std::fs::remove_file(bad);
}

#[test]
fn flags_that_cannot_work_say_so() {
    let (code, _, err) = adder(&["submit", "--api", "localhost:3000", "1"], None);
    assert_eq!(
        (code, err.as_str()),
        (2, "adder: --api \"localhost:3000\" has no scheme: give the whole URL, like http://localhost:3000\n")
    );
    let big = format!("[{}]", vec!["1234567"; 800_000].join(","));
    let (code, _, err) = adder(
        &["submit", "--api", "http://127.0.0.1:9", "--file", "-"],
        Some(&big),
    );
    assert_eq!(
        (code, err.as_str()),
        (
            2,
            "adder: the array is 6400001 bytes as a request body; the API accepts at most 6225920 \
             (it would answer 413)\n  help: sum it by byte ranges: `adder sum --file FILE`, or \
             upload it and `adder submit --s3 s3://BUCKET/KEY`\n"
        )
    );
}

/// `--job` runs any job of the deployment's (crates/jobs) through the local
/// runner: the shipped ones and the example histogram, which docs/jobs.md
/// walks a user through writing.
#[test]
fn jobs_run_over_arguments_and_files() {
    assert_eq!(
        adder(
            &["sum", "--job", "stats", "3", "-1.5", "10", "0.25", "7"],
            None
        )
        .1,
        "{\"count\":5,\"sum\":18.75,\"min\":-1.5,\"max\":10,\"mean\":3.75,\"meanExact\":true}\n"
    );
    assert_eq!(
        adder(&["sum", "--job", "stats", "1", "2", "2"], None).1,
        "{\"count\":3,\"sum\":5,\"min\":1,\"max\":2,\"mean\":1.6666666666666666666666666666666666667,\"meanExact\":false}\n"
    );
    assert_eq!(
        adder(&["sum", "--job", "histogram", "--param", "bounds=[0,10]", "-1", "5", "15", "10"], None).1,
        "{\"buckets\":[{\"from\":null,\"below\":0,\"count\":1},{\"from\":0,\"below\":10,\"count\":1},{\"from\":10,\"below\":null,\"count\":2}]}\n"
    );
    let sales = temp_file(
        "sales.csv",
        "region,amount\n\"north, east\",1.5\nsouth,2\n,4\nsouth,0.25\n",
    );
    let path = sales.to_string_lossy().to_string();
    let args = [
        "sum",
        "--file",
        &path,
        "--column",
        "amount",
        "--job",
        "sum-by",
        "--param",
        "by=region",
        "--range-bytes",
        "9",
    ];
    assert_eq!(
        adder(&args, None).1,
        "{\"groups\":[{\"key\":\"\",\"count\":1,\"sum\":4},{\"key\":\"north, east\",\"count\":1,\"sum\":1.5},{\"key\":\"south\",\"count\":2,\"sum\":2.25}]}\n"
    );
    let _ = std::fs::remove_file(sales);
}

#[test]
fn a_job_that_cannot_run_exits_2_with_the_reason() {
    let (code, out, err) = adder(&["sum", "--job", "median", "1"], None);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains(
            r#"no job is called "median"; this deployment runs histogram, stats, sum, sum-by"#
        ),
        "{err}"
    );
    let (code, _, err) = adder(&["sum", "--job", "stats", "--param", "bounds", "1"], None);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            r#"invalid value 'bounds' for '--param <NAME=VALUE>': "bounds" is not NAME=VALUE"#
        ),
        "{err}"
    );
}

/// A file of `text` in the temp dir, named for this test and `suffix`.
fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let file = std::env::temp_dir().join(format!("adder-{}-{name}", std::process::id()));
    std::fs::write(&file, text).expect("write");
    file
}

#[test]
fn sums_files_by_byte_ranges_in_every_format() {
    let values: Vec<String> = (1..=3000).map(|i| format!("{i}.5")).collect();
    let expected = "9006000\n"; // 2 × (Σ i + 3000 × 0.5)
    let csv: String = values.iter().map(|v| format!("x,\"{v}\"\n")).collect();
    let cases = [
        ("lines.txt", values.join("\n"), vec![]),
        (
            "array.json",
            format!("[{}]", values.join(",\n ")),
            vec!["--format", "json"],
        ),
        (
            "named.csv",
            format!("label,amount\n{csv}"),
            vec!["--column", "amount"],
        ),
        (
            "plain.csv",
            csv.clone(),
            vec!["--format", "csv", "--column", "1", "--no-header"],
        ),
    ];
    for (name, text, flags) in cases {
        let file = temp_file(name, &text);
        let path = file.to_string_lossy().to_string();
        let mut args = vec![
            "sum",
            "--file",
            &path,
            "--range-bytes",
            "997",
            "--fan-in",
            "3",
        ];
        args.extend(flags.iter().copied());
        let (code, out, err) = adder(&args, None);
        assert_eq!((code, out.as_str()), (0, expected), "{name}: {err}");
        let _ = std::fs::remove_file(file);
    }
}

#[test]
fn a_bad_file_fails_with_the_place_of_its_bad_record() {
    let file = temp_file("bad.txt", "1\n2\n\n3,5\n4\n");
    let path = file.to_string_lossy().to_string();
    let (code, out, err) = adder(&["sum", "--file", &path, "--range-bytes", "2"], None);
    assert_eq!(
        (code, out.as_str()),
        (2, ""),
        "bad data is the user's to fix: exit 2"
    );
    assert!(
        err.contains("bad_data") && err.contains("byte 5 (line 4)"),
        "{err}"
    );
    let file = temp_file("cols.csv", "a,b\n1,2\n");
    let path = file.to_string_lossy().to_string();
    let (code, _, err) = adder(&["sum", "--file", &path, "--column", "c"], None);
    assert_eq!(code, 2, "a refused request is the caller's to fix");
    assert!(err.contains("422") && err.contains("\"c\""), "{err}");
}

/// A file starting with a UTF-8 byte order mark (as some Windows editors
/// save one) sums as without it: posted whole or read by byte ranges.
#[test]
fn a_byte_order_mark_at_the_start_of_a_file_is_skipped() {
    for (name, text, flags) in [
        ("bom.json", "\u{feff}[1, 2.5]", vec![]),
        (
            "bom-ranges.json",
            "\u{feff}[1, 2.5]",
            vec!["--format", "json"],
        ),
        ("bom.txt", "\u{feff}1\n2.5\n", vec![]),
        ("bom.csv", "\u{feff}n\n1\n2.5\n", vec!["--column", "n"]),
    ] {
        let file = temp_file(name, text);
        let path = file.to_string_lossy().to_string();
        let mut args = vec!["sum", "--file", &path, "--range-bytes", "2"];
        args.extend(flags.iter().copied());
        let (code, out, err) = adder(&args, None);
        assert_eq!((code, out.as_str()), (0, "7\n"), "{name}: {err}");
        let _ = std::fs::remove_file(file);
    }
}

/// A directory is refused at once: it used to be stored as an object whose
/// every range failed to read, retried until `--timeout` gave up.
#[test]
fn a_directory_is_not_a_file_to_sum() {
    let dir = std::env::temp_dir().join(format!("adder-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let path = dir.to_string_lossy().to_string();
    let started = std::time::Instant::now();
    let (code, out, err) = adder(&["sum", "--file", &path, "--timeout", "20"], None);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains(&format!("{path} is not a file")), "{err}");
    assert!(
        started.elapsed().as_secs() < 10,
        "refused at once, not timed out"
    );
    let _ = std::fs::remove_dir(dir);
}

/// `ADDER_TEMPLATE` points the runner at another template: one that cannot
/// be read is refused naming it, and a readable one is the one played.
#[test]
fn adder_template_names_the_template_the_runner_plays() {
    let missing = std::env::temp_dir().join(format!("adder-no-template-{}", std::process::id()));
    let (code, out, err) = common::run_adder(
        &["sum", "1", "2"],
        &[("ADDER_TEMPLATE", missing.to_string_lossy().to_string())],
        None,
    );
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains(&format!(
            "ADDER_TEMPLATE={}: No such file or directory",
            missing.display()
        )),
        "{err}"
    );
    // A file that is no template shows it is the one read.
    let file = temp_file("template.yaml", "Resources: [\n");
    let (code, _, err) = common::run_adder(
        &["sum", "1", "2"],
        &[("ADDER_TEMPLATE", file.to_string_lossy().to_string())],
        None,
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("template.yaml: the template is not valid YAML"),
        "{err}"
    );
    let edited = stack::TEMPLATE.replace("      BatchSize: 6\n", "      BatchSize: 1\n");
    assert_ne!(
        edited,
        stack::TEMPLATE,
        "the template's TimesTwo batch size"
    );
    std::fs::write(&file, edited).expect("write");
    let (code, out, err) = common::run_adder(
        &["sum", "1", "2", "3", "--chunk-size", "1"],
        &[("ADDER_TEMPLATE", file.to_string_lossy().to_string())],
        None,
    );
    assert_eq!((code, out.as_str()), (0, "12\n"), "{err}");
    let _ = std::fs::remove_file(file);
}

/// With nothing listening at the endpoint, a command says which call failed
/// and why in words, and where it looked: never the SDK's Debug dump.
#[test]
fn an_aws_endpoint_that_does_not_answer_is_named() {
    let (code, _, err) = adder(&["pending", "--endpoint-url", "http://127.0.0.1:9"], None);
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "adder: service unavailable: GetQueueUrl adder-TimesTwoQueue: dispatch failure: io \
             error: client error (Connect): tcp connect error: Connection refused (os error 111)\n  \
             help: nothing answered at http://127.0.0.1:9: is moto running there? \
             (`.venv/bin/moto_server -H 127.0.0.1 -p 5000`)\n"
        )
    );
    let (code, _, err) = adder(
        &[
            "sum",
            "1",
            "--backend",
            "aws",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ],
        None,
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with("adder: could not create the queues and tables: ")
            && err.ends_with("help: nothing answered at http://127.0.0.1:9: is moto running there? (`.venv/bin/moto_server -H 127.0.0.1 -p 5000`)\n")
            && !err.contains("DispatchFailure {"),
        "{err}"
    );
}

#[test]
fn completions_and_json_for_scripts() {
    let (code, bash, _) = adder(&["completions", "bash"], None);
    assert_eq!(code, 0);
    assert!(
        bash.contains("_adder()") && bash.contains("complete -F _adder"),
        "{bash}"
    );
    assert!(
        bash.contains("--idempotency-key") && bash.contains("--json"),
        "every flag"
    );
    let (_, zsh, _) = adder(&["completions", "zsh"], None);
    assert!(zsh.starts_with("#compdef adder"), "{zsh}");
    let (code, out, _) = adder(&["sum", "--json", "1", "2", "3"], None);
    assert_eq!(code, 0);
    let record: serde_json::Value = serde_json::from_str(&out).expect("one JSON record");
    assert_eq!(
        (&record["status"], &record["sum"]),
        (&serde_json::json!("done"), &serde_json::json!(12))
    );
}

/// `serve --bind` listens where it is told, and says so with the backend's
/// name as a user types it.
#[test]
fn serve_listens_on_the_address_it_is_given() {
    use std::io::{BufRead, BufReader, Read, Write};
    let port = std::net::TcpListener::bind("127.0.0.2:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_adder"))
        .args(["serve", "--bind", "127.0.0.2", "--port", &port.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let mut first = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a line");
    assert_eq!(
        first,
        format!("listening on http://127.0.0.2:{port} (memory backend)\n")
    );
    let mut stream = std::net::TcpStream::connect(("127.0.0.2", port)).expect("connect");
    stream
        .write_all(b"GET /sums/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let _ = child.kill();
    let _ = child.wait();
}

/// Every local `adder sum …` the README and docs/jobs.md show with its
/// output (`# …` lines under it) prints that output, so the docs cannot
/// drift from the tool.
#[test]
fn the_docs_commands_print_what_the_docs_show() {
    let mut checked = 0;
    for doc in ["README.md", "docs/jobs.md"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(doc);
        let text = std::fs::read_to_string(&path).expect("the doc");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(command) = line.strip_prefix("adder sum ") else {
                continue;
            };
            if command.contains("--file") {
                continue; // Needs a file the reader makes first.
            }
            let shown: String = lines[i + 1..]
                .iter()
                .take_while(|l| l.starts_with('#'))
                .map(|l| l.trim_start_matches('#'))
                .collect();
            if shown.is_empty() {
                continue;
            }
            let mut args = vec!["sum".to_string()];
            args.extend(shell_words(command));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, out, err) = adder(&args, None);
            let squeeze = |s: &str| s.split_whitespace().collect::<String>();
            assert_eq!(
                (code, squeeze(&out)),
                (0, squeeze(&shown)),
                "{doc}: adder sum {command}: {err}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} commands found");
}

/// Words as a shell splits them, for the docs' simple commands: spaces
/// separate, single quotes group.
fn shell_words(text: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted) = (Vec::new(), String::new(), false);
    for c in text.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// On a terminal (played by `script`), logs asked for are coloured, unless
/// NO_COLOR is set; off a terminal they never are (checked above).
#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let bad = temp_file("tty.csv", "amount\n1\nx\n");
    let run_on_a_terminal = |no_color: Option<&str>| {
        let adder = env!("CARGO_BIN_EXE_adder");
        let colour = match no_color {
            Some(value) => format!("NO_COLOR={value}"),
            None => "-u NO_COLOR".to_string(),
        };
        let command = format!(
            "env {colour} RUST_LOG=warn {adder} sum --file {} --column amount",
            bad.display()
        );
        let out = std::process::Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .output()
            .expect("script(1), from util-linux, plays a terminal");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = run_on_a_terminal(None);
    assert!(
        coloured.contains("WARN") && coloured.contains('\u{1b}'),
        "{coloured:?}"
    );
    let plain = run_on_a_terminal(Some("1"));
    assert!(
        plain.contains("WARN") && !plain.contains('\u{1b}'),
        "{plain:?}"
    );
    let _ = std::fs::remove_file(bad);
}
