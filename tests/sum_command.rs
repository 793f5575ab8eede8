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
    let (code, _, err) = adder(&["sum"], Some("{"));
    assert_eq!(code, 2);
    assert!(err.contains("not valid JSON"), "{err}");
}
