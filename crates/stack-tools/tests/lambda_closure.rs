//! The Lambdas link only what runs in Lambda: neither the template reader
//! (`stack`, with template.yaml compiled in) nor its YAML parser, nor this
//! crate's provisioning and admin tools, is in a function binary's normal
//! dependency closure.

use std::process::Command;

const LAMBDAS: [&str; 3] = ["sum_array", "times_two", "reduce"];
const LOCAL_ONLY: [&str; 3] = ["stack", "serde_yaml_ng", "stack-tools"];

/// `cargo tree -p <package> -e normal`, one `(depth, name)` per line.
fn normal_tree(package: &str) -> Vec<(usize, String)> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "depth",
            "-p",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let digits = line.chars().take_while(char::is_ascii_digit).count();
            let depth = line[..digits].parse().ok()?;
            let name = line[digits..].split_whitespace().next()?;
            Some((depth, name.to_string()))
        })
        .collect()
}

/// The first path in `tree` from its root to a package named `target`.
fn path_to(tree: &[(usize, String)], target: &str) -> Option<String> {
    let mut path: Vec<&str> = Vec::new();
    for (depth, name) in tree {
        path.truncate(*depth);
        path.push(name);
        if name == target {
            return Some(path.join(" -> "));
        }
    }
    None
}

#[test]
fn lambdas_link_no_template_reader_nor_local_tools() {
    let mut found = Vec::new();
    for lambda in LAMBDAS {
        let tree = normal_tree(lambda);
        assert!(
            tree.iter().any(|(_, n)| n == "aws-ports"),
            "cargo tree -p {lambda} does not list aws-ports: is its output read right? {tree:?}"
        );
        found.extend(
            LOCAL_ONLY
                .iter()
                .filter_map(|crate_name| path_to(&tree, crate_name)),
        );
    }
    assert!(
        found.is_empty(),
        "a Lambda links local-only code:\n{}",
        found.join("\n")
    );
}

#[test]
fn finds_the_path_to_a_crate() {
    let tree: Vec<(usize, String)> = [(0, "a"), (1, "b"), (2, "c"), (1, "d"), (2, "e")]
        .into_iter()
        .map(|(d, n)| (d, n.to_string()))
        .collect();
    assert_eq!(path_to(&tree, "e").as_deref(), Some("a -> d -> e"));
    assert_eq!(path_to(&tree, "x"), None);
}
