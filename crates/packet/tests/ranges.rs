//! The byte-range readers: every element counted once and summed exactly for
//! every range size, and a bad record reported at its offset by exactly one
//! range, for all three formats. For a long run:
//!
//! ```sh
//! PROPTEST_CASES=20000 cargo test -p packet --release --test ranges
//! ```

use packet::ranges::{
    column_index, line_of, ranges_of, read_from, read_range, resolve_column, BadData, Format,
    RangeError, RangeSum, MAX_RECORD_BYTES,
};
use packet::{check_number, parse_array, sum_texts, Number, NumberError};
use proptest::prelude::*;
use std::io::{self, BufReader, Read};
use std::ops::Range;

/// Every range of `object`, each read through a buffer of `buffer` bytes
/// (small buffers make records cross buffer refills too).
fn read_all(
    format: Format,
    object: &[u8],
    range_bytes: u64,
    buffer: usize,
) -> Vec<(Range<u64>, Result<RangeSum, RangeError>)> {
    let size = object.len() as u64;
    ranges_of(size, range_bytes)
        .map(|range| {
            let from = read_from(range.start) as usize;
            let reader = BufReader::with_capacity(buffer, &object[from..]);
            let result = read_range(format, range.clone(), size, reader);
            (range, result)
        })
        .collect()
}

fn whole(format: Format, object: &[u8]) -> Result<RangeSum, RangeError> {
    read_range(format, 0..object.len() as u64, object.len() as u64, object)
}

/// The ranges' counts and sums add up to the elements', and no range reads
/// more than one record and separator (`tail`) past its end.
fn check_sums(
    format: Format,
    object: &[u8],
    numbers: &[String],
    tail: u64,
    range_bytes: u64,
    buffer: usize,
) -> Result<(), TestCaseError> {
    let mut elements = 0;
    let mut doubled_sum = Number::zero();
    for (range, result) in read_all(format, object, range_bytes, buffer) {
        let part = result.map_err(|e| TestCaseError::fail(format!("{range:?}: {e}")))?;
        let limit = range.end - range.start + 1 + tail;
        prop_assert!(
            part.bytes_read <= limit,
            "{range:?} read {} bytes, more than {limit}",
            part.bytes_read
        );
        elements += part.elements;
        doubled_sum = doubled_sum + part.doubled_sum;
    }
    prop_assert_eq!(elements, numbers.len() as u64);
    let expected = sum_texts(numbers.iter().map(String::as_str)).doubled();
    prop_assert_eq!(doubled_sum, expected);
    Ok(())
}

/// The object's error (the smallest offset any range reports) is at
/// `expected`, and exactly one range reports it.
fn check_error(
    format: Format,
    object: &[u8],
    expected: u64,
    range_bytes: u64,
    buffer: usize,
) -> Result<(), TestCaseError> {
    let mut offsets = Vec::new();
    for (range, result) in read_all(format, object, range_bytes, buffer) {
        match result {
            Ok(_) => {}
            Err(RangeError::BadData { offset, .. }) => offsets.push(offset),
            Err(e) => return Err(TestCaseError::fail(format!("{range:?}: {e}"))),
        }
    }
    prop_assert_eq!(
        offsets.iter().min().copied(),
        Some(expected),
        "{:?}",
        offsets
    );
    let reporters = offsets.iter().filter(|&&o| o == expected).count();
    prop_assert_eq!(reporters, 1, "{:?}", offsets);
    Ok(())
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        "-?(0|[1-9][0-9]{0,20})\\.[0-9]{1,16}",
        "-?[1-9][0-9]{0,5}(\\.[0-9]{1,6})?[eE][+-]?[0-9]{1,2}",
        (any::<bool>(), 1usize..120).prop_map(|(negative, zeros)| {
            format!("{}1.{}", if negative { "-" } else { "" }, "0".repeat(zeros))
        }),
        "-?[1-9][0-9]{37}",
        Just("0".to_string()),
        Just("-0".to_string()),
    ]
    .prop_filter("a DynamoDB Number", |n| check_number(n).is_ok())
}

fn numbers() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(number(), 0..40)
}

/// Records that are not numbers, none containing whitespace or `,` (which
/// would make them two records or a structural error elsewhere).
const BAD_VALUES: &[&str] = &[
    "NaN",
    "01",
    "1.2.3",
    "true",
    "null",
    "1e999",
    "123456789012345678901234567890123456789",
    "-",
    "1x",
    "abc",
    "+1",
    ".5",
    "{\"a\":1}",
];

/// The longest line with its `\n`: what a line format's range may read past
/// its end (it may start inside any line, the header too, and skip it).
fn longest_line(object: &[u8]) -> u64 {
    object
        .split(|&b| b == b'\n')
        .map(|l| l.len() + 1)
        .max()
        .unwrap_or(0) as u64
}

fn range_bytes() -> impl Strategy<Value = (bool, u64)> {
    (any::<bool>(), any::<u64>())
}

/// 1 to 8 bytes, or anything up to past the object's end.
fn range_size((small, seed): (bool, u64), object: &[u8]) -> u64 {
    if small {
        1 + seed % 8
    } else {
        1 + seed % (object.len() as u64 + 16)
    }
}

fn buffer() -> impl Strategy<Value = usize> {
    prop_oneof![1usize..16, Just(8192)]
}

fn gap() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![" ", "\t", "\n", "\r\n", "  "]),
        0..3,
    )
    .prop_map(|v| v.concat())
}

/// A JSON array laid out with random whitespace; values may be replaced to
/// corrupt it.
#[derive(Debug, Clone)]
struct JsonFile {
    lead: String,
    values: Vec<String>,
    /// Whitespace after `[`, then around each `,`, then before `]`.
    gaps: Vec<String>,
    trail: String,
    closed: bool,
}

impl JsonFile {
    fn strategy() -> impl Strategy<Value = JsonFile> {
        (numbers(), gap(), gap()).prop_flat_map(|(values, lead, trail)| {
            let n = values.len();
            prop::collection::vec(gap(), 2 * n + 2).prop_map(move |gaps| JsonFile {
                lead: lead.clone(),
                values: values.clone(),
                gaps,
                trail: trail.clone(),
                closed: true,
            })
        })
    }

    /// The object and the offset of each value.
    fn build(&self) -> (Vec<u8>, Vec<u64>) {
        let mut text = format!("{}[{}", self.lead, self.gaps[0]);
        let mut offsets = Vec::new();
        for (i, value) in self.values.iter().enumerate() {
            if i > 0 {
                text += &format!("{},{}", self.gaps[2 * i - 1], self.gaps[2 * i]);
            }
            offsets.push(text.len() as u64);
            text += value;
        }
        text += &self.gaps[self.gaps.len() - 1];
        if self.closed {
            text += "]";
        }
        text += &self.trail;
        (text.into_bytes(), offsets)
    }

    /// The longest value plus the longest run of whitespace in `object`
    /// (this file, built): what a range may read past its end.
    fn tail(&self, object: &[u8]) -> u64 {
        let record = self.values.iter().map(String::len).max().unwrap_or(1);
        let space = |b: &u8| b" \t\r\n".contains(b);
        let run = object.split(|b| !space(b)).map(<[u8]>::len).max();
        (record + run.unwrap_or(0)) as u64
    }
}

#[derive(Debug, Clone)]
enum JsonDamage {
    Value(&'static str),
    NestedArray,
    MissingComma,
    ExtraComma,
    Unclosed,
}

fn json_damage() -> impl Strategy<Value = JsonDamage> {
    prop_oneof![
        prop::sample::select(BAD_VALUES).prop_map(JsonDamage::Value),
        Just(JsonDamage::Value("\"1\"")),
        Just(JsonDamage::NestedArray),
        Just(JsonDamage::MissingComma),
        Just(JsonDamage::ExtraComma),
        Just(JsonDamage::Unclosed),
    ]
}

/// A number per line, with padding, `\n` or `\r\n`, blank lines.
#[derive(Debug, Clone)]
struct LinesFile {
    lines: Vec<Line>,
    final_newline: bool,
}

#[derive(Debug, Clone)]
struct Line {
    blanks_before: String,
    left: &'static str,
    text: String,
    right: &'static str,
    ending: &'static str,
}

fn line_of_number(text: String) -> impl Strategy<Value = Line> {
    (
        prop::sample::select(vec!["", "", "\n", "  \n", "\r\n", "\t \r\n"]),
        prop::sample::select(vec!["", "", " ", "\t"]),
        prop::sample::select(vec!["", "", " ", " \t"]),
        prop::sample::select(vec!["\n", "\n", "\r\n"]),
    )
        .prop_map(move |(blanks_before, left, right, ending)| Line {
            blanks_before: blanks_before.to_string(),
            left,
            text: text.clone(),
            right,
            ending,
        })
}

impl LinesFile {
    fn strategy() -> impl Strategy<Value = LinesFile> {
        numbers().prop_flat_map(|values| {
            let lines: Vec<_> = values.into_iter().map(line_of_number).collect();
            (lines, any::<bool>()).prop_map(|(lines, final_newline)| LinesFile {
                lines,
                final_newline,
            })
        })
    }

    fn numbers(&self) -> Vec<String> {
        self.lines.iter().map(|l| l.text.clone()).collect()
    }

    /// The object and the offset of each number's line.
    fn build(&self) -> (Vec<u8>, Vec<u64>) {
        let mut text = String::new();
        let mut offsets = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            text += &line.blanks_before;
            offsets.push(text.len() as u64);
            text += line.left;
            text += &line.text;
            text += line.right;
            if i + 1 < self.lines.len() || self.final_newline {
                text += line.ending;
            }
        }
        (text.into_bytes(), offsets)
    }
}

/// CSV with other columns of text (quoted, with commas and `""`), the
/// numbers in one column, quoted or padded, optionally a header.
#[derive(Debug, Clone)]
struct CsvFile {
    header: bool,
    column: usize,
    records: Vec<Vec<String>>,
    numbers: Vec<String>,
    endings: Vec<&'static str>,
}

const OTHER_FIELDS: &[&str] = &[
    "abc",
    "",
    "\"x,y\"",
    "\"say \"\"hi\"\"\"",
    " 7 ",
    "\"  \"",
    "\"\"",
];

fn csv_record(number: String, column: usize, columns: usize) -> impl Strategy<Value = Vec<String>> {
    (
        prop::collection::vec(prop::sample::select(OTHER_FIELDS), columns),
        prop::sample::select(vec!["{}", " {} ", "\"{}\"", "\" {}\""]),
    )
        .prop_map(move |(others, style)| {
            let mut fields: Vec<String> = others.iter().map(|f| f.to_string()).collect();
            fields[column] = style.replace("{}", &number);
            fields
        })
}

impl CsvFile {
    fn strategy() -> impl Strategy<Value = CsvFile> {
        (numbers(), 1usize..4, any::<bool>())
            .prop_flat_map(|(numbers, columns, header)| {
                (Just(numbers), 0..columns, Just(columns), Just(header))
            })
            .prop_flat_map(|(numbers, column, columns, header)| {
                let n = numbers.len();
                let records: Vec<_> = numbers
                    .iter()
                    .map(|number| csv_record(number.clone(), column, columns))
                    .collect();
                let endings =
                    prop::collection::vec(prop::sample::select(vec!["\n", "\r\n", "\n\n"]), n + 1);
                (records, endings).prop_map(move |(records, endings)| CsvFile {
                    header,
                    column,
                    records,
                    numbers: numbers.clone(),
                    endings,
                })
            })
    }

    fn format(&self) -> Format {
        Format::Csv {
            column: self.column,
            header: self.header,
        }
    }

    /// The object and the offset of each record's line.
    fn build(&self) -> (Vec<u8>, Vec<u64>) {
        let mut text = String::new();
        if self.header {
            let names: Vec<String> = (0..self.records.first().map_or(1, Vec::len))
                .map(|k| format!("\"col {k}\""))
                .collect();
            text += &names.join(",");
            text += self.endings[0];
        }
        let mut offsets = Vec::new();
        for (record, ending) in self.records.iter().zip(&self.endings[1..]) {
            offsets.push(text.len() as u64);
            text += &record.join(",");
            text += ending;
        }
        (text.into_bytes(), offsets)
    }
}

#[derive(Debug, Clone)]
enum CsvDamage {
    Value(&'static str),
    LineBreakInQuotes(usize),
    MissingColumn,
}

fn csv_damage() -> impl Strategy<Value = CsvDamage> {
    prop_oneof![
        prop::sample::select(BAD_VALUES).prop_map(CsvDamage::Value),
        Just(CsvDamage::Value("1 2")),
        (0usize..4).prop_map(CsvDamage::LineBreakInQuotes),
        Just(CsvDamage::MissingColumn),
    ]
}

proptest! {
    #[test]
    fn json_ranges_count_and_sum_every_element_once(
        file in JsonFile::strategy(), size in range_bytes(), buffer in buffer(),
    ) {
        let (object, _) = file.build();
        let range_bytes = range_size(size, &object);
        check_sums(Format::JsonArray, &object, &file.values, file.tail(&object), range_bytes, buffer)?;
        // The body parser reads the same object as the same numbers.
        let text = std::str::from_utf8(&object).expect("ASCII");
        let parsed = parse_array(text).expect("a valid body");
        prop_assert_eq!(parsed.len(), file.values.len());
        prop_assert_eq!(
            sum_texts(parsed.iter().map(|t| t.as_ref())),
            sum_texts(file.values.iter().map(String::as_str))
        );
    }

    #[test]
    fn lines_ranges_count_and_sum_every_element_once(
        file in LinesFile::strategy(), size in range_bytes(), buffer in buffer(),
    ) {
        let (object, _) = file.build();
        let range_bytes = range_size(size, &object);
        check_sums(Format::Lines, &object, &file.numbers(), longest_line(&object), range_bytes, buffer)?;
    }

    #[test]
    fn csv_ranges_count_and_sum_every_element_once(
        file in CsvFile::strategy(), size in range_bytes(), buffer in buffer(),
    ) {
        let (object, _) = file.build();
        let range_bytes = range_size(size, &object);
        check_sums(file.format(), &object, &file.numbers, longest_line(&object), range_bytes, buffer)?;
    }

    #[test]
    fn a_bad_json_record_is_reported_at_its_offset_by_one_range(
        mut file in JsonFile::strategy(), damage in json_damage(), at in any::<prop::sample::Index>(),
        size in range_bytes(), buffer in buffer(),
    ) {
        let n = file.values.len();
        prop_assume!(n > 0 || matches!(damage, JsonDamage::Unclosed));
        let i = if n > 0 { at.index(n) } else { 0 };
        match damage {
            JsonDamage::Value(bad) => file.values[i] = bad.to_string(),
            JsonDamage::NestedArray => file.values[i] = format!("[{}]", file.values[i]),
            JsonDamage::ExtraComma => file.values[i] = format!(",{}", file.values[i]),
            JsonDamage::MissingComma => {
                prop_assume!(i > 0);
                // Whitespace where the comma was, so the values stay two.
                file.gaps[2 * i - 1] += " ";
            }
            JsonDamage::Unclosed => file.closed = false,
        }
        let (mut object, offsets) = file.build();
        if let JsonDamage::MissingComma = damage {
            let comma = offsets[i] as usize - file.gaps[2 * i].len() - 1;
            prop_assert_eq!(object[comma], b',');
            object[comma] = b' ';
        }
        let expected = match damage {
            JsonDamage::Unclosed => object.len() as u64,
            _ => offsets[i],
        };
        check_error(Format::JsonArray, &object, expected, range_size(size, &object), buffer)?;
    }

    #[test]
    fn a_bad_line_is_reported_at_its_offset_by_one_range(
        mut file in LinesFile::strategy(), bad in prop::sample::select(BAD_VALUES),
        at in any::<prop::sample::Index>(), size in range_bytes(), buffer in buffer(),
    ) {
        prop_assume!(!file.lines.is_empty());
        let i = at.index(file.lines.len());
        file.lines[i].text = bad.to_string();
        let (object, offsets) = file.build();
        check_error(Format::Lines, &object, offsets[i], range_size(size, &object), buffer)?;
    }

    #[test]
    fn a_bad_csv_record_is_reported_at_its_offset_by_one_range(
        mut file in CsvFile::strategy(), damage in csv_damage(),
        at in any::<prop::sample::Index>(), size in range_bytes(), buffer in buffer(),
    ) {
        prop_assume!(!file.records.is_empty());
        let i = at.index(file.records.len());
        let record = &mut file.records[i];
        match damage {
            CsvDamage::Value(bad) => record[file.column] = bad.to_string(),
            CsvDamage::LineBreakInQuotes(field) => {
                let field = field % record.len();
                record[field] = "\"a\nb,\"\"c\"\"\"".to_string();
            }
            CsvDamage::MissingColumn => {
                prop_assume!(file.column > 0);
                record.truncate(file.column);
                // A line of nothing but empty fields is a blank line.
                prop_assume!(!record.join(",").trim().is_empty());
            }
        }
        let (object, offsets) = file.build();
        check_error(file.format(), &object, offsets[i], range_size(size, &object), buffer)?;
    }
}

fn bad_data(result: Result<RangeSum, RangeError>) -> (u64, BadData) {
    match result {
        Err(RangeError::BadData { offset, reason }) => (offset, reason),
        other => panic!("expected bad data, got {other:?}"),
    }
}

fn unexpected(expected: &'static str, found: &'static str) -> BadData {
    BadData::Unexpected { expected, found }
}

/// Each JSON error kind, read whole and with every range size (the first
/// error any range reports must be the whole read's).
#[test]
fn json_structure_errors_name_the_reason_and_offset() {
    let cases: &[(&str, u64, BadData)] = &[
        ("", 0, unexpected("`[`", "the end of the object")),
        (" \n ", 3, unexpected("`[`", "the end of the object")),
        ("1", 0, unexpected("`[`", "a value")),
        ("[1,2", 4, unexpected("`,` or `]`", "the end of the object")),
        (
            "[",
            1,
            unexpected("a number or `]`", "the end of the object"),
        ),
        ("[1,]", 3, unexpected("a number", "`]`")),
        ("[,1]", 1, unexpected("a number or `]`", "`,`")),
        ("[1,,2]", 3, unexpected("a number", "`,`")),
        ("[1 2]", 3, unexpected("`,` or `]`", "a value")),
        ("[1,[2]]", 3, unexpected("a number", "`[`")),
        ("[[1]]", 1, unexpected("a number or `]`", "`[`")),
        (
            "[1] x",
            4,
            unexpected("only whitespace after the array's `]`", "a value"),
        ),
        (
            "[1]]",
            3,
            unexpected("only whitespace after the array's `]`", "`]`"),
        ),
        ("[1 /* c */]", 3, unexpected("`,` or `]`", "a value")),
        (
            "[1, \"a b\"]",
            4,
            NumberError::NotANumber("\"a".into()).into(),
        ),
        ("[1,NaN]", 3, NumberError::NotANumber("NaN".into()).into()),
        ("[01]", 1, NumberError::NotANumber("01".into()).into()),
        (
            "[{\"a\":1}]",
            1,
            NumberError::NotANumber("{\"a\":1}".into()).into(),
        ),
        ("[1e126]", 1, NumberError::OutOfRange("1e126".into()).into()),
        (
            "[1234567890123456789012345678901234567891]",
            1,
            NumberError::TooPrecise {
                text: "1234567890123456789012345678901234567891".into(),
                digits: 40,
            }
            .into(),
        ),
        (
            "[\u{e9}]",
            1,
            NumberError::NotANumber("\u{e9}".into()).into(),
        ),
    ];
    for (text, offset, reason) in cases {
        let object = text.as_bytes();
        assert_eq!(
            bad_data(whole(Format::JsonArray, object)),
            (*offset, reason.clone()),
            "{text:?}"
        );
        for range_bytes in 1..=object.len() as u64 + 1 {
            let first = read_all(Format::JsonArray, object, range_bytes, 3)
                .into_iter()
                .filter_map(|(_, r)| r.err().map(|e| e.offset()))
                .min();
            assert_eq!(first, Some(*offset), "{text:?} by {range_bytes}");
        }
    }
}

#[test]
fn invalid_utf8_is_not_a_number() {
    let (offset, reason) = bad_data(whole(Format::Lines, b"1\n\xff2\n"));
    assert_eq!(offset, 2);
    assert!(matches!(
        reason,
        BadData::Number(NumberError::NotANumber(_))
    ));
}

#[test]
fn empty_arrays_and_objects() {
    for (format, object) in [
        (Format::JsonArray, &b" [ \n ] \n"[..]),
        (Format::Lines, b""),
        (Format::Lines, b"\n \r\n\n"),
        (
            Format::Csv {
                column: 0,
                header: false,
            },
            b"",
        ),
        (
            Format::Csv {
                column: 2,
                header: true,
            },
            b"a,b,c\r\n",
        ),
    ] {
        let sum = whole(format, object).expect("valid");
        assert_eq!(
            (sum.elements, sum.doubled_sum.to_string()),
            (0, "0".to_string())
        );
    }
    assert_eq!(
        bad_data(whole(
            Format::Csv {
                column: 0,
                header: true
            },
            b""
        )),
        (0, BadData::NoHeader)
    );
}

#[test]
fn line_formats_accept_padding_crlf_and_no_final_newline() {
    let sum = whole(Format::Lines, b"1\r\n  -2.5 \t\n\n3e1").expect("valid");
    assert_eq!(
        (sum.elements, sum.doubled_sum.to_string()),
        (3, "57".to_string())
    );
    let csv = b"id,\"value, usd\"\r\n1, 0.1 \r\n2,\"0.2\"\n\n3,\" 0.3\"";
    let sum = whole(
        Format::Csv {
            column: 1,
            header: true,
        },
        csv,
    )
    .expect("valid");
    assert_eq!(
        (sum.elements, sum.doubled_sum.to_string()),
        (3, "1.2".to_string())
    );
}

#[test]
fn csv_errors_name_the_reason_and_the_line_start() {
    let column1 = Format::Csv {
        column: 1,
        header: false,
    };
    let cases: &[(&[u8], u64, BadData)] = &[
        (
            b"a,1\nb\n",
            4,
            BadData::MissingColumn {
                column: 1,
                fields: 1,
            },
        ),
        (b"a,1\nb, \n", 4, BadData::EmptyField(1)),
        (b"a,1\n\"b\nc\",2\n", 4, BadData::QuoteNotClosed),
        (b"a,1\nb,\"2\n", 4, BadData::QuoteNotClosed),
        (b"a,1\nb\"c,2\n", 4, BadData::StrayQuote),
        (b"a,1\n\"b\"c,2\n", 4, BadData::StrayQuote),
        (b"a,1\nb,x\n", 4, NumberError::NotANumber("x".into()).into()),
    ];
    for (object, offset, reason) in cases {
        assert_eq!(bad_data(whole(column1, object)), (*offset, reason.clone()));
    }
    let header = Format::Csv {
        column: 0,
        header: true,
    };
    assert_eq!(
        bad_data(whole(header, b"\"a\nb\"\n1\n")),
        (0, BadData::QuoteNotClosed)
    );
}

#[test]
fn column_names_resolve_from_the_first_line() {
    let header = b"\xef\xbb\xbfid, \"value, usd\" ,\"say \"\"hi\"\"\"\r\n1,2,3\n";
    assert_eq!(column_index(header, "id"), Ok(0));
    assert_eq!(column_index(header, "value, usd"), Ok(1));
    assert_eq!(column_index(header, "say \"hi\""), Ok(2));
    assert_eq!(column_index(b"a,b,a", "a"), Ok(0));
    assert_eq!(
        column_index(header, "1"),
        Err(BadData::NoSuchColumn("1".to_string()))
    );
    assert_eq!(column_index(b"\r\na,b", "a"), Err(BadData::NoHeader));
    assert_eq!(column_index(b"", "a"), Err(BadData::NoHeader));
    assert_eq!(column_index(b"\"a,b", "a"), Err(BadData::QuoteNotClosed));
    // From the object's stream: only its first line is read.
    let mut object = &b"id,value\n1,2\n"[..];
    assert_eq!(resolve_column(&mut object, "value").expect("found"), 1);
    assert_eq!(object, b"1,2\n");
    let missing = resolve_column(&b"id,value"[..], "total");
    assert!(matches!(
        missing,
        Err(RangeError::BadData {
            offset: 0,
            reason: BadData::NoSuchColumn(_)
        })
    ));
    let endless = vec![b'a'; MAX_RECORD_BYTES + 1];
    assert!(matches!(
        resolve_column(&endless[..], "a"),
        Err(RangeError::BadData {
            offset: 0,
            reason: BadData::TooLong
        })
    ));
}

#[test]
fn records_past_the_length_limit_are_refused_without_reading_them_whole() {
    let long = format!("[1, 1{}]", "0".repeat(MAX_RECORD_BYTES));
    let (offset, reason) = bad_data(whole(Format::JsonArray, long.as_bytes()));
    assert_eq!((offset, reason), (4, BadData::TooLong));
    let long = format!("1\n{}\n", " ".repeat(MAX_RECORD_BYTES + 1));
    assert_eq!(
        bad_data(whole(Format::Lines, long.as_bytes())),
        (2, BadData::TooLong)
    );
    // Just under the limit is a valid element, shortened before summing.
    let padded = format!("1.{}", "0".repeat(MAX_RECORD_BYTES - 2));
    let sum = whole(Format::Lines, padded.as_bytes()).expect("valid");
    assert_eq!(
        (sum.elements, sum.doubled_sum.to_string()),
        (1, "2".to_string())
    );
}

/// Fails every read.
struct Broken;

impl Read for Broken {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other("connection reset"))
    }
}

#[test]
fn reading_failures_are_not_bad_data() {
    let short = read_range(Format::Lines, 0..10, 10, &b"12\n3"[..]);
    assert!(
        matches!(&short, Err(RangeError::Read { offset: 4, source }) if source.kind() == io::ErrorKind::UnexpectedEof),
        "{short:?}"
    );
    let broken = read_range(Format::JsonArray, 5..10, 10, BufReader::new(Broken));
    assert!(
        matches!(broken, Err(RangeError::Read { offset: 4, .. })),
        "{broken:?}"
    );
    let outside = read_range(Format::Lines, 5..11, 10, &b""[..]);
    assert!(matches!(
        outside,
        Err(RangeError::OutsideObject {
            start: 5,
            end: 11,
            size: 10
        })
    ));
}

/// A reader that records how far it was read.
struct Counted<'a> {
    inner: &'a [u8],
    taken: usize,
}

impl Read for Counted<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(&mut buffer[..1])?;
        self.taken += n;
        Ok(n)
    }
}

#[test]
fn a_range_stops_after_its_last_record_and_the_separator_after_it() {
    let object = b"[10, 20 ,\n 30, 40]";
    // 4..9 is ` 20 ,`: it owns the value 20 and the comma after it, and
    // checks that a value follows the comma (the `3` at byte 11).
    let mut reader = Counted {
        inner: &object[3..],
        taken: 0,
    };
    let sum = read_range(
        Format::JsonArray,
        4..9,
        object.len() as u64,
        BufReader::with_capacity(1, &mut reader),
    )
    .expect("valid");
    assert_eq!(
        (sum.elements, sum.doubled_sum.to_string()),
        (1, "40".to_string())
    );
    // Bytes 3..=11 taken: the look-behind, the range, `\n `, and the `3`.
    assert_eq!(reader.taken, 9);
    assert_eq!(sum.bytes_read, 8);
}

#[test]
fn ranges_cover_the_object_in_order() {
    let collect = |size, step| ranges_of(size, step).collect::<Vec<_>>();
    assert_eq!(collect(0, 10), vec![0..0]);
    assert_eq!(collect(10, 10), vec![0..10]);
    assert_eq!(collect(10, 4), vec![0..4, 4..8, 8..10]);
    assert_eq!(collect(3, 0), vec![0..1, 1..2, 2..3]);
    assert_eq!(collect(3, u64::MAX), vec![0..3]);
    assert_eq!(read_from(0), 0);
    assert_eq!(read_from(4), 3);
}

#[test]
fn line_of_counts_line_breaks_before_the_offset() {
    let object = b"a\r\nb\n\nc";
    for (offset, line) in [(0, 1), (2, 1), (3, 2), (5, 3), (6, 4), (99, 4)] {
        assert_eq!(
            line_of(offset, &object[..]).expect("in memory"),
            line,
            "{offset}"
        );
    }
    let failing = line_of(3, Broken);
    assert!(failing.is_err());
}

#[test]
fn formats_travel_as_json() {
    let csv = Format::Csv {
        column: 2,
        header: true,
    };
    let text = serde_json::to_string(&csv).expect("serializable");
    assert_eq!(text, r#"{"format":"csv","column":2,"header":true}"#);
    assert_eq!(serde_json::from_str::<Format>(&text).expect("parses"), csv);
    assert_eq!(
        serde_json::to_string(&Format::JsonArray).expect("serializable"),
        r#"{"format":"json_array"}"#
    );
    assert!(!Format::JsonArray.has_lines() && Format::Lines.has_lines() && csv.has_lines());
}

/// A UTF-8 byte order mark at byte 0 is skipped in every format, whatever
/// the range size and however the reader's buffer cuts it; a bad record
/// after it is still reported at its true byte offset in the object.
#[test]
fn a_byte_order_mark_at_the_start_is_skipped() {
    let csv = Format::Csv {
        column: 1,
        header: false,
    };
    let headed = Format::Csv {
        column: 1,
        header: true,
    };
    let good: [(Format, &[u8]); 4] = [
        (Format::JsonArray, b"\xef\xbb\xbf[1, 2.5,\n-3]"),
        (Format::Lines, b"\xef\xbb\xbf1\n2.5\r\n-3"),
        (csv, b"\xef\xbb\xbfx,1\ny,2.5\nz,-3\n"),
        (headed, b"\xef\xbb\xbfa,b\nx,1\ny,2.5\nz,-3\n"),
    ];
    for (format, object) in good {
        for range_bytes in 1..=object.len() as u64 {
            for buffer in [1, 2, 3, 64] {
                let mut elements = 0;
                let mut doubled = Number::zero();
                for (range, result) in read_all(format, object, range_bytes, buffer) {
                    let part = result.unwrap_or_else(|e| {
                        panic!("{format:?} {range:?} of {range_bytes} (buffer {buffer}): {e}")
                    });
                    elements += part.elements;
                    doubled = doubled + part.doubled_sum;
                }
                assert_eq!(
                    (elements, doubled.to_string()),
                    (3, "1".to_string()),
                    "{format:?}, ranges of {range_bytes}, buffer {buffer}"
                );
            }
        }
    }
    // Offsets count the mark's three bytes: they are the object's.
    let bad: [(Format, &[u8], u64); 4] = [
        (Format::JsonArray, b"\xef\xbb\xbf[1, x]", 7),
        (Format::JsonArray, b"\xef\xbb\xbf1", 3),
        (Format::Lines, b"\xef\xbb\xbf1\nx\n", 5),
        (csv, b"\xef\xbb\xbfx,1\ny,z\n", 7),
    ];
    for (format, object, offset) in bad {
        for range_bytes in 1..=object.len() as u64 {
            check_error(format, object, offset, range_bytes, 2)
                .unwrap_or_else(|e| panic!("{format:?}, ranges of {range_bytes}: {e}"));
        }
    }
    // A mark anywhere else is not one: the record holding it is bad.
    assert_eq!(
        bad_data(whole(Format::Lines, b"1\n\xef\xbb\xbf2\n")).0,
        2,
        "only byte 0 may hold a byte order mark"
    );
    // The line's first record holds the mark, and is reported at byte 0.
    assert_eq!(bad_data(whole(Format::Lines, b"\xef\xbb\xbfx\n")).0, 0);
}
