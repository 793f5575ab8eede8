//! The Lambdas link only what runs in Lambda: neither the template reader
//! (`stack`, with template.yaml compiled in) nor its YAML parser, nor this
//! crate's provisioning and admin tools, is in a function binary's normal
//! dependency closure; nor are the test-only ports (the `test-ports`
//! features: injected faults, lost answers, recorded calls) enabled in it.

use std::process::Command;

const LAMBDAS: [&str; 3] = ["sum_array", "times_two", "reduce"];
const LOCAL_ONLY: [&str; 3] = ["stack", "serde_yaml_ng", "stack-tools"];
/// The features that build what only tests (`test-ports`) or only the local
/// runner (`local`: request counting, IAM denial reports) use.
const NOT_IN_LAMBDA: [(&str, &str); 3] = [
    ("pipeline", "test-ports"),
    ("aws-ports", "test-ports"),
    ("aws-ports", "local"),
];

/// `cargo tree -p <package> -e normal`, one `(depth, name)` per line.
fn normal_tree(package: &str) -> Vec<(usize, String)> {
    tree(package, &["-e", "normal"])
}

/// `cargo tree -p <package> <args>`, one `(depth, node)` per line: a
/// package's name, or for a feature `<package> feature "<feature>"`.
fn tree(package: &str, args: &[&str]) -> Vec<(usize, String)> {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--prefix", "depth", "-p", package])
        .args(args)
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
        .filter_map(node)
        .collect()
}

/// One line of `cargo tree --prefix depth` as `(depth, node)`.
fn node(line: &str) -> Option<(usize, String)> {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    let depth = line[..digits].parse().ok()?;
    let rest = &line[digits..];
    let name = rest.split_whitespace().next()?;
    // A feature line: `pipeline feature "test-ports"`, maybe ` (*)` after.
    let feature = rest
        .strip_prefix(name)
        .and_then(|r| r.strip_prefix(" feature \""))
        .and_then(|r| r.split('"').next());
    Some(match feature {
        Some(feature) => (depth, format!("{name} feature \"{feature}\"")),
        None => (depth, name.to_string()),
    })
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

/// The nodes below the first `target` in `tree`, indented by depth: in an
/// inverted tree, what enables it.
fn below(tree: &[(usize, String)], target: &str) -> Option<String> {
    let at = tree.iter().position(|(_, n)| n == target)?;
    let depth = tree[at].0;
    let lines: Vec<String> = tree[at + 1..]
        .iter()
        .take_while(|(d, _)| *d > depth)
        .map(|(d, n)| format!("{}{n}", "  ".repeat(d - depth)))
        .collect();
    Some(lines.join("\n"))
}

#[test]
fn lambdas_enable_no_test_only_nor_local_only_ports() {
    let mut found = Vec::new();
    for lambda in LAMBDAS {
        for (package, feature) in NOT_IN_LAMBDA {
            // Inverted, the tree's first level is every feature of
            // `package` the build enables, however it is enabled.
            let tree = tree(lambda, &["-e", "normal,features", "-i", package]);
            let default = format!(r#"{package} feature "default""#);
            assert!(
                tree.iter().any(|(_, n)| *n == default),
                "cargo tree -p {lambda} -i {package} does not list its default feature: \
                 is its output read right? {tree:?}"
            );
            let local_only = format!(r#"{package} feature "{feature}""#);
            if let Some(enabled_by) = below(&tree, &local_only) {
                found.push(format!("{lambda}: {local_only}, enabled by\n{enabled_by}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a Lambda builds test-only or local-only ports:\n{}",
        found.join("\n")
    );
}

#[test]
fn reads_packages_and_features_from_tree_lines() {
    assert_eq!(
        node("2aws-ports v0.1.0 (/work/crates/aws-ports)"),
        Some((2, "aws-ports".to_string()))
    );
    assert_eq!(
        node(r#"1pipeline feature "test-ports" (*)"#),
        Some((1, r#"pipeline feature "test-ports""#.to_string()))
    );
    assert_eq!(node("no depth"), None);
}

#[test]
fn finds_what_enables_a_feature() {
    let tree: Vec<(usize, String)> = [(0, "p"), (1, "p f"), (2, "a"), (3, "b"), (1, "p g")]
        .into_iter()
        .map(|(d, n)| (d, n.to_string()))
        .collect();
    assert_eq!(below(&tree, "p f").as_deref(), Some("  a\n    b"));
    assert_eq!(below(&tree, "p g").as_deref(), Some(""));
    assert_eq!(below(&tree, "x"), None);
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
