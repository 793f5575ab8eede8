//! Property tests ("fuzz") of everything that reads untrusted text: the
//! request body parser and the two queue message decoders. They run with
//! proptest's default case count in `cargo test`; for a long run:
//!
//! ```sh
//! PROPTEST_CASES=100000 cargo test -p packet --release --test fuzz
//! ```

use packet::{
    check_number, parse_array, BodyError, MapMessage, NodeId, ReduceMessage, Tree, MAX_CHUNK_SIZE,
    MAX_ELEMENT_TEXT, MAX_MESSAGE_BYTES,
};
use proptest::prelude::*;
use serde_json::Value;

/// Text that is often almost JSON: arbitrary strings rarely get past the
/// first byte, these reach the parser's deeper paths.
fn jsonish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(" ".to_string()),
        Just("{}".to_string()),
        Just("{\"a\":1}".to_string()),
        Just("\"1\"".to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("NaN".to_string()),
        Just("Infinity".to_string()),
        Just("\u{feff}".to_string()),
        Just("/*c*/".to_string()),
        Just("-".to_string()),
        Just("1e400".to_string()),
        Just("123456789012345678901234567890123456789".to_string()),
        "-?[0-9]{1,4}(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,3})?",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(token, 0..24).prop_map(|t| t.concat())
}

/// A number text that DynamoDB's Number type holds.
fn valid_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        "-?(0|[1-9][0-9]{0,20})\\.[0-9]{1,16}",
        "-?[1-9][0-9]{0,5}(\\.[0-9]{1,6})?[eE][+-]?[0-9]{1,2}",
        Just("0".to_string()),
        Just("-0.0".to_string()),
        Just("9007199254740993".to_string()),
    ]
}

/// Number texts built to be expensive: long runs of zeros on either side of
/// up to 38 significant digits, a decimal point anywhere, huge and tiny
/// exponents, zero-padded exponents. Many are valid DynamoDB Numbers.
fn adversarial_number() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        0usize..3000,
        "[1-9]([0-9]{0,36}[1-9])?",
        0usize..3000,
        any::<prop::sample::Index>(),
        // The power of ten of the leading digit; a few beyond the range.
        -140i64..136,
        0usize..40,
    )
        .prop_map(|(negative, lead, digits, trail, point, power, pad)| {
            let all = format!("{}{digits}{}", "0".repeat(lead), "0".repeat(trail));
            let at = point.index(all.len() + 1).max(1);
            let (int, frac) = all.split_at(at);
            // The exponent that puts the leading digit at 10^power.
            let leading_at = at as i64 - 1 - lead as i64;
            let exponent = power - leading_at;
            let int = match int.trim_start_matches('0') {
                "" => "0",
                kept => kept,
            };
            let sign = if negative { "-" } else { "" };
            let dot = if frac.is_empty() { "" } else { "." };
            let exp_sign = if exponent < 0 { "-" } else { "+" };
            format!(
                "{sign}{int}{dot}{frac}e{exp_sign}{}{}",
                "0".repeat(pad),
                exponent.abs()
            )
        })
}

/// Where the reference (serde_json's own `Value`) says the body fails, if it
/// does, in the parser's terms.
fn check_against_reference(body: &str) -> Result<(), TestCaseError> {
    let ours = parse_array(body);
    let reference: Result<Value, _> = serde_json::from_str(body);
    if let Err(e) = &reference {
        // Valid JSON whose number overflows serde's f64 (`1e400`): the
        // reference cannot classify it; it is beyond DynamoDB's range too, so
        // any refusal is right and acceptance is wrong.
        if e.to_string().starts_with("number out of range") {
            prop_assert!(ours.is_err(), "accepted {body:?}");
            return Ok(());
        }
    }
    match (&ours, reference) {
        (Ok(texts), Ok(Value::Array(items))) => {
            prop_assert_eq!(texts.len(), items.len());
            for (text, item) in texts.iter().zip(&items) {
                prop_assert!(item.is_number(), "{text} accepted but is {item}");
                prop_assert!(check_number(text).is_ok());
                // The text is the element as the client wrote it.
                let again: Value = serde_json::from_str(text).map_err(|e| {
                    TestCaseError::fail(format!("element text {text:?} is not JSON: {e}"))
                })?;
                prop_assert_eq!(&again, item);
            }
        }
        (Ok(_), other) => prop_assert!(false, "accepted {body:?}, reference says {other:?}"),
        (Err(BodyError::Empty), _) => prop_assert!(body.trim().is_empty()),
        (Err(BodyError::NotAnArray(_)), Ok(v)) => prop_assert!(!v.is_array(), "{v}"),
        (Err(BodyError::NotANumber { index, .. }), Ok(Value::Array(items))) => {
            prop_assert!(!items[*index].is_number());
            prop_assert!(items[..*index].iter().all(Value::is_number));
        }
        (Err(BodyError::BadNumber { index, .. }), reference) => {
            // serde's f64 may refuse a huge number the DynamoDB check refuses too.
            if let Ok(Value::Array(items)) = reference {
                prop_assert!(items[..=*index].iter().all(Value::is_number));
            }
        }
        (Err(BodyError::InvalidJson(_)), reference) => {
            prop_assert!(reference.is_err(), "refused valid JSON {body:?}");
        }
        (Err(e), reference) => {
            prop_assert!(false, "{body:?}: {e} but reference says {reference:?}")
        }
    }
    // Accepted exactly when the reference sees an array of numbers that all
    // pass the DynamoDB check.
    if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(body) {
        if items.iter().all(Value::is_number) {
            prop_assert!(
                matches!(ours, Ok(_) | Err(BodyError::BadNumber { .. })),
                "{body:?}: {ours:?}"
            );
        }
    }
    Ok(())
}

/// A valid tree, a leaf of it and that leaf's element count.
fn tree_and_leaf() -> impl Strategy<Value = (Tree, u64)> {
    (1u64..5_000, 1u64..300, 2u64..40)
        .prop_filter_map("valid tree", |(len, chunk, fan_in)| {
            Tree::new(len, chunk, fan_in).ok()
        })
        .prop_flat_map(|tree| (Just(tree), 0..tree.leaves()))
}

proptest! {
    #[test]
    fn fuzz_body_never_panics_on_any_string(body in any::<String>()) {
        let _ = parse_array(&body);
    }

    #[test]
    fn fuzz_body_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_array(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn fuzz_body_agrees_with_the_reference(body in jsonish()) {
        check_against_reference(&body)?;
    }

    #[test]
    fn fuzz_body_agrees_with_the_reference_on_any_string(body in any::<String>()) {
        check_against_reference(&body)?;
    }

    #[test]
    fn fuzz_body_element_texts_round_trip(
        elements in prop::collection::vec(valid_number(), 0..40),
        space in "[ \t\r\n]{0,2}",
    ) {
        let body = format!("{space}[{space}{}{space}]{space}", elements.join(&format!("{space},{space}")));
        let texts = parse_array(&body).map_err(|e| TestCaseError::fail(format!("{body:?}: {e}")))?;
        prop_assert_eq!(texts, elements.iter().map(String::as_str).collect::<Vec<_>>());
    }

    /// The bounds that keep AWS from refusing or timing out on valid input:
    /// whatever the texts, every accepted element is short, the fullest
    /// packet of them fits one queue message and decodes, and its exact sum
    /// has a bounded number of digits, so the map's work is bounded by the
    /// element count.
    #[test]
    fn fuzz_bounds_hold_for_adversarial_numbers(
        texts in prop::collection::vec(adversarial_number(), 1..12),
    ) {
        // Each text on its own: accepted, or refused as a number DynamoDB
        // cannot hold (never as bad JSON, never a panic). Every case keeps
        // the accepted ones for the bounds below; a body of them all is
        // accepted as they are, and a body with a refused one is refused at
        // the first of them.
        let mut elements: Vec<String> = Vec::new();
        let mut first_refused = None;
        for (index, text) in texts.iter().enumerate() {
            match parse_array(&format!("[{text}]")) {
                Ok(one) => elements.extend(one.iter().map(|e| e.to_string())),
                Err(BodyError::BadNumber { index: 0, .. }) => {
                    first_refused.get_or_insert(index);
                }
                Err(e) => return Err(TestCaseError::fail(format!("{text}: refused as {e:?}"))),
            }
        }
        let body = format!("[{}]", texts.join(","));
        match (parse_array(&body), first_refused) {
            (Ok(all), None) => prop_assert_eq!(
                all.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
                elements.clone()
            ),
            (Err(BodyError::BadNumber { index, .. }), Some(first)) => prop_assert_eq!(index, first),
            (whole, first) => {
                return Err(TestCaseError::fail(format!(
                    "the body gave {whole:?}, its texts alone refused first {first:?}"
                )))
            }
        }
        if elements.is_empty() {
            return Ok(());
        }
        for e in &elements {
            prop_assert!(e.len() <= MAX_ELEMENT_TEXT, "{} bytes: {}", e.len(), e);
        }
        let full: Vec<&str> = elements
            .iter()
            .map(|e| e.as_ref())
            .cycle()
            .take(MAX_CHUNK_SIZE as usize)
            .collect();
        let tree = Tree::new(MAX_CHUNK_SIZE, MAX_CHUNK_SIZE, 2).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let packet = MapMessage::encode("0f8fad5b-d9cb-469f-a165-70867728950e", &tree, 0, &full);
        prop_assert!(packet.len() <= MAX_MESSAGE_BYTES, "{} bytes", packet.len());
        let decoded = MapMessage::decode(&packet).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let sum = decoded.doubled_sum().to_string();
        prop_assert!(sum.len() <= 320, "a sum of {} characters", sum.len());
    }

    #[test]
    fn fuzz_messages_never_panic_on_any_string(body in any::<String>()) {
        let _ = MapMessage::decode(&body);
        let _ = ReduceMessage::decode(&body);
    }

    #[test]
    fn fuzz_messages_never_panic_on_near_json(body in jsonish()) {
        let _ = MapMessage::decode(&body);
        let _ = ReduceMessage::decode(&body);
    }

    #[test]
    fn fuzz_map_message_round_trips(
        (tree, leaf) in tree_and_leaf(),
        pool in prop::collection::vec(valid_number(), 300),
        id in any::<u128>(),
    ) {
        let array_id = uuid::Uuid::from_u128(id).to_string();
        let count = tree.contains(NodeId::new(0, leaf)) as usize;
        let elements: Vec<&str> = pool.iter().take(count).map(String::as_str).collect();
        let body = MapMessage::encode(&array_id, &tree, leaf, &elements);
        let decoded = MapMessage::decode(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decoded.array_id, array_id.as_str());
        prop_assert_eq!(decoded.tree, tree);
        prop_assert_eq!(decoded.leaf, NodeId::new(0, leaf));
        prop_assert_eq!(decoded.elements, elements);
    }

    #[test]
    fn fuzz_map_message_survives_any_single_byte_change(
        (tree, leaf) in tree_and_leaf(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let count = tree.contains(NodeId::new(0, leaf)) as usize;
        let ones = vec!["1"; count];
        let body = MapMessage::encode("0f8fad5b-d9cb-469f-a165-70867728950e", &tree, leaf, &ones);
        let mut bytes = body.into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = MapMessage::decode(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn fuzz_reduce_message_round_trips(
        (tree, _) in tree_and_leaf(),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..8),
        id in any::<u128>(),
    ) {
        // Targets: nodes above the leaves, anywhere in the tree.
        let root = tree.root();
        let targets: Vec<NodeId> = picks
            .iter()
            .map(|p| {
                let level = 1 + (p.index(root.level as usize)) as u32;
                NodeId::new(level, p.index(tree.width(level) as usize) as u64)
            })
            .collect();
        let message = ReduceMessage {
            array_id: uuid::Uuid::from_u128(id).to_string(),
            tree,
            targets,
        };
        let decoded = ReduceMessage::decode(&message.encode())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decoded, message);
    }
}

/// Bodies the random search found once; kept so they run every time.
#[test]
fn known_tricky_bodies_agree_with_the_reference() {
    for body in [
        "1e400",
        "[\"a\", 1e400]",
        "[1e400]",
        "-1e400",
        "[[1e999]]",
        "{\"a\":1e400}",
    ] {
        check_against_reference(body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
    }
}
