//! Object plans (issue 12): arrays summed from an S3 object by byte ranges.
//!
//! They are drawn from their own RNG stream (the seed xor a constant), apart
//! from the array plans, so a seed's array plans and run parameters are what
//! they were before objects existed. Each object is written from its elements
//! in one of the formats, noting the byte where each record starts: a range
//! owns the records that start in it, so what every leaf must hold follows
//! from those offsets alone (and, for a job that groups, from each CSV
//! record's fields, noted as written), independently of `packet::ranges`.

use crate::elements::element;
use crate::jobs::{Oracle, PlanJob};
use packet::job::{Record, Stored};
use packet::ranges::Format;
use packet::Tree;
use pipeline::{Column, FormatRequest};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::fmt;

/// The bucket every object is put in.
pub const BUCKET: &str = "in";

/// The header name of the numbers' column in every generated CSV.
pub const CSV_NAME: &str = "amount";

/// Most leaves an object's tree may have: keeps a run's cost near an array
/// plan's (2,000 packets at most), far below `pipeline::MAX_RANGES`.
const MAX_LEAVES: u64 = 1_500;

/// How an object lays its numbers out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Json {
        pretty: bool,
    },
    Lines,
    /// The numbers are field `column` of `columns`; a client names the
    /// column by its header name when `by_name`.
    Csv {
        column: usize,
        columns: usize,
        header: bool,
        by_name: bool,
    },
}

impl Layout {
    /// The format the pipeline must resolve the request to.
    pub fn format(self) -> Format {
        match self {
            Layout::Json { .. } => Format::JsonArray,
            Layout::Lines => Format::Lines,
            Layout::Csv { column, header, .. } => Format::Csv { column, header },
        }
    }

    /// What a client asks for.
    pub fn request(self) -> FormatRequest {
        match self {
            Layout::Json { .. } => FormatRequest::JsonArray,
            Layout::Lines => FormatRequest::Lines,
            Layout::Csv {
                column,
                header,
                by_name,
                ..
            } => FormatRequest::Csv {
                column: if by_name {
                    Column::Name(CSV_NAME.to_string())
                } else {
                    Column::Index(column)
                },
                header,
            },
        }
    }

    /// The header name a client gives column `c`, if it names columns so.
    pub fn column_name(self, c: usize) -> Option<String> {
        match self {
            Layout::Csv {
                column,
                by_name: true,
                ..
            } => Some(if c == column {
                CSV_NAME.to_string()
            } else {
                format!("c{c}")
            }),
            _ => None,
        }
    }

    /// The key's extension, from which a notification's format follows.
    fn extension(self) -> &'static str {
        match self {
            Layout::Json { .. } => "json",
            Layout::Lines => "txt",
            Layout::Csv { .. } => "csv",
        }
    }
}

/// The bytes of one version of an object and what they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The valid elements' texts, in order.
    pub elements: Vec<String>,
    /// The byte where each element's record starts.
    pub starts: Vec<u64>,
    pub bytes: Vec<u8>,
    /// The byte where the one invalid record starts, if any.
    pub bad_at: Option<u64>,
    /// CSV only: each element's record, field by field, as a CSV reader
    /// gives it (unquoted; spaces kept): the keys of a job that groups.
    pub fields: Vec<Vec<String>>,
}

impl Content {
    /// Element `i`'s key in CSV column `column`, if it has one.
    pub fn key(&self, i: usize, column: usize) -> Option<&str> {
        self.fields.get(i)?.get(column).map(String::as_str)
    }
}

/// How an object array is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `submit_object` from this many clients at once, each retrying.
    Clients(usize),
    /// An S3 notification on the TimesTwo queue; `twice`: redelivered later.
    Notification { twice: bool },
}

/// What happens to the object once its array exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    Overwrite(Content),
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPlan {
    pub key: String,
    pub layout: Layout,
    pub content: Content,
    pub range_bytes: u64,
    pub fan_in: u64,
    pub start: Start,
    /// A client passes the ETag it uploaded (a retry after an overwrite is
    /// then refused); otherwise it names the key alone.
    pub pin_etag: bool,
    pub mutation: Option<Mutation>,
    /// The mutation happens at the first scheduler step from this one at
    /// which the original's array exists.
    pub mutate_after: u64,
    /// The step at which a redelivered notification arrives.
    pub renotify_at: u64,
}

impl ObjectPlan {
    /// The version's content: 0 the original, 1 the overwrite.
    pub fn version(&self, v: usize) -> Option<&Content> {
        match (v, &self.mutation) {
            (0, _) => Some(&self.content),
            (1, Some(Mutation::Overwrite(c))) => Some(c),
            _ => None,
        }
    }

    /// The S3 event notification of the original upload, eTag bare as S3 sends it.
    pub fn notification(&self, etag: &str) -> String {
        format!(
            r#"{{"Records":[{{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{{"bucket":{{"name":"{BUCKET}"}},"object":{{"key":"{}","size":{},"eTag":"{}"}}}}}}]}}"#,
            self.key,
            self.content.bytes.len(),
            etag.trim_matches('"')
        )
    }
}

/// The configuration of the function that handles notifications: one per run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    pub range_bytes: u64,
    pub fan_in: u64,
    pub csv_column: String,
}

/// What every leaf of one version's tree must hold, running one job.
pub struct ObjectExpected {
    pub tree: Tree,
    pub oracle: Oracle,
    /// The job's value of each leaf's elements.
    pub leaves: Vec<Stored>,
    pub counts: Vec<u64>,
    /// The leaf owning the bad record: from it on, what ranges read is
    /// unspecified (a symptom of the defect may read as a number).
    pub bad_leaf: Option<u64>,
    /// The job over every element, in one go.
    pub total: Stored,
    pub elements: u64,
}

impl ObjectExpected {
    pub fn of(
        content: &Content,
        range_bytes: u64,
        fan_in: u64,
        job: &PlanJob,
    ) -> Result<ObjectExpected, String> {
        let size = content.bytes.len() as u64;
        let tree = Tree::new(size.max(1), range_bytes, fan_in).map_err(|e| e.to_string())?;
        let step = range_bytes.max(1);
        let oracle = Oracle::of(&job.spec)?;
        let records = records(content, job.key_column)?;
        // A range owns the records that start in it.
        let mut owned: Vec<Vec<Record<'_>>> = vec![Vec::new(); tree.leaves() as usize];
        for (record, start) in records.iter().zip(&content.starts) {
            let leaf = owned
                .get_mut((start / step) as usize)
                .ok_or_else(|| format!("an element at byte {start}, past the last leaf"))?;
            leaf.push(*record);
        }
        let leaves = owned
            .iter()
            .map(|leaf| oracle.map(leaf.iter().copied()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ObjectExpected {
            counts: owned.iter().map(|leaf| leaf.len() as u64).collect(),
            total: oracle.map(records.into_iter())?,
            tree,
            oracle,
            leaves,
            bad_leaf: content.bad_at.map(|at| at / step),
            elements: content.elements.len() as u64,
        })
    }
}

/// The records a job sees in `content`: each element, keyed by its
/// field in `key_column` if the job groups.
fn records(content: &Content, key_column: Option<usize>) -> Result<Vec<Record<'_>>, String> {
    let key = |i: usize| match key_column {
        None => Ok(None),
        Some(c) => content
            .key(i, c)
            .map(Some)
            .ok_or_else(|| format!("element {i} has no field {c}")),
    };
    content
        .elements
        .iter()
        .enumerate()
        .map(|(i, number)| {
            Ok(Record {
                number,
                key: key(i)?,
            })
        })
        .collect()
}

/// One item of an object: a valid element or the bad record.
enum Item {
    Good(String),
    Bad(String),
}

/// Appends items, noting where each starts.
#[derive(Default)]
struct Out {
    bytes: Vec<u8>,
    elements: Vec<String>,
    starts: Vec<u64>,
    bad_at: Option<u64>,
    fields: Vec<Vec<String>>,
}

impl Out {
    fn push(&mut self, s: &str) {
        self.bytes.extend_from_slice(s.as_bytes());
    }
    /// Notes that the item's record starts here.
    fn start(&mut self, item: &Item) {
        let at = self.bytes.len() as u64;
        match item {
            Item::Good(text) => {
                self.elements.push(text.clone());
                self.starts.push(at);
            }
            Item::Bad(_) => self.bad_at = Some(at),
        }
    }
    fn content(self) -> Content {
        Content {
            elements: self.elements,
            starts: self.starts,
            bytes: self.bytes,
            bad_at: self.bad_at,
            fields: self.fields,
        }
    }
}

fn json(rng: &mut SmallRng, items: &[Item], pretty: bool) -> Content {
    let nl = if rng.gen_bool(0.3) { "\r\n" } else { "\n" };
    let indent = if rng.gen_bool(0.5) { "  " } else { "\t" };
    let mut out = Out::default();
    out.push("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(if rng.gen_bool(0.5) { "," } else { ", " });
        }
        if pretty {
            out.push(nl);
            out.push(indent);
        }
        out.start(item);
        match item {
            Item::Good(t) | Item::Bad(t) => out.push(t),
        }
    }
    if pretty {
        out.push(nl);
    }
    out.push("]");
    if pretty {
        out.push(nl);
    }
    out.content()
}

fn blank(rng: &mut SmallRng) -> &'static str {
    ["", "  ", "\t", " \t "][rng.gen_range(0..4)]
}

fn lines(rng: &mut SmallRng, items: &[Item]) -> Content {
    let eol = if rng.gen_bool(0.4) { "\r\n" } else { "\n" };
    let mut out = Out::default();
    for (i, item) in items.iter().enumerate() {
        if rng.gen_bool(0.1) {
            out.push(blank(rng));
            out.push(eol);
        }
        out.start(item);
        out.push(if rng.gen_bool(0.2) { blank(rng) } else { "" });
        match item {
            Item::Good(t) | Item::Bad(t) => out.push(t),
        }
        out.push(if rng.gen_bool(0.2) { blank(rng) } else { "" });
        if i + 1 < items.len() || rng.gen_bool(0.7) {
            out.push(eol);
        }
    }
    if rng.gen_bool(0.1) {
        out.push(eol);
    }
    out.content()
}

/// A field that is not the numbers' column.
fn filler(rng: &mut SmallRng, row: usize) -> String {
    match rng.gen_range(0..5) {
        0 => format!("r{row}"),
        1 => "\"a, b\"".to_string(),
        2 => "\"say \"\"hi\"\"\"".to_string(),
        3 => String::new(),
        _ => " x ".to_string(),
    }
}

fn csv(rng: &mut SmallRng, items: &[Item], column: usize, columns: usize, header: bool) -> Content {
    let eol = if rng.gen_bool(0.4) { "\r\n" } else { "\n" };
    let mut out = Out::default();
    if header {
        let names: Vec<String> = (0..columns)
            .map(|c| {
                if c == column {
                    CSV_NAME.to_string()
                } else {
                    format!("c{c}")
                }
            })
            .collect();
        out.push(&names.join(","));
        out.push(eol);
    }
    for (row, item) in items.iter().enumerate() {
        if rng.gen_bool(0.1) {
            out.push(blank(rng));
            out.push(eol);
        }
        out.start(item);
        let number = match item {
            Item::Good(t) => match rng.gen_range(0..4) {
                0 => format!("\"{t}\""),
                1 => format!(" {t}\t"),
                _ => t.clone(),
            },
            Item::Bad(t) => t.clone(),
        };
        // A bad record without the column: only its first fields.
        let short = matches!(item, Item::Bad(t) if t.is_empty()) && column > 0;
        let width = if short { column } else { columns };
        let fields: Vec<String> = (0..width)
            .map(|c| {
                if c == column {
                    number.clone()
                } else if short {
                    format!("r{row}")
                } else {
                    filler(rng, row)
                }
            })
            .collect();
        if matches!(item, Item::Good(_)) {
            out.fields
                .push(fields.iter().map(|f| unquoted(f)).collect());
        }
        out.push(&fields.join(","));
        if row + 1 < items.len() || rng.gen_bool(0.7) {
            out.push(eol);
        }
    }
    out.content()
}

/// A field as a CSV reader gives it: a quoted field without its quotes and
/// with each doubled quote single; any other as written, spaces and all.
fn unquoted(field: &str) -> String {
    match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => field.to_string(),
    }
}

/// Writes `elements` (and the bad record `bad` before element `at`) in `layout`.
fn write(
    rng: &mut SmallRng,
    layout: Layout,
    elements: &[String],
    bad: Option<(usize, String)>,
) -> Content {
    let mut items: Vec<Item> = elements.iter().cloned().map(Item::Good).collect();
    if let Some((at, text)) = bad {
        items.insert(at.min(items.len()), Item::Bad(text));
    }
    match layout {
        Layout::Json { pretty } => json(rng, &items, pretty),
        Layout::Lines => lines(rng, &items),
        Layout::Csv {
            column,
            columns,
            header,
            ..
        } => csv(rng, &items, column, columns, header),
    }
}

/// An invalid record for `layout` (an empty text: a CSV record too short
/// to have the column, or with the column empty).
fn bad_record(rng: &mut SmallRng, layout: Layout) -> String {
    let texts: &[&str] = match layout {
        Layout::Json { .. } => &["abc", "true", "null", "\"12\"", "{}", "[1]", "1e400"],
        Layout::Lines => &["seven", "1.2.3", "0x1F", "1e400", "12abc", "[1]"],
        Layout::Csv { column: 0, .. } => &["abc", "\"1,5\"", "1e400", "--5"],
        Layout::Csv { .. } => &["abc", "\"1,5\"", "1e400", "--5", ""],
    };
    texts[rng.gen_range(0..texts.len())].to_string()
}

fn elements(rng: &mut SmallRng) -> Vec<String> {
    let n = match rng.gen_range(0..100) {
        0..=9 => rng.gen_range(0..=3),
        10..=69 => rng.gen_range(1..=60),
        70..=95 => rng.gen_range(60..=300),
        _ => rng.gen_range(300..=1000),
    };
    (0..n).map(|_| element(rng)).collect()
}

fn fan_in(rng: &mut SmallRng) -> u64 {
    match rng.gen_range(0..10) {
        0..=4 => rng.gen_range(2..=4),
        5..=7 => rng.gen_range(5..=16),
        _ => rng.gen_range(17..=64),
    }
}

/// Log-uniform from 1 byte (or what keeps the tree within [`MAX_LEAVES`])
/// to twice the object's size: ranges of one byte and one range for all.
fn range_bytes(rng: &mut SmallRng, size: u64) -> u64 {
    let max = 2 * size + 2;
    let min = size.div_ceil(MAX_LEAVES).max(1);
    let drawn = rng.gen_range(0.0f64..((max + 1) as f64).ln()).exp() as u64;
    drawn.clamp(min, max)
}

fn layout(rng: &mut SmallRng, start: Start, csv_column: &str) -> Layout {
    match rng.gen_range(0..3) {
        0 => Layout::Json {
            pretty: rng.gen_bool(0.5),
        },
        1 => Layout::Lines,
        _ => {
            // A notification's CSV is read with the function's column, and a header.
            let fixed = matches!(start, Start::Notification { .. });
            let (by_name, column) = match csv_column.parse::<usize>() {
                Ok(index) if fixed => (false, index),
                _ if fixed => (true, rng.gen_range(0..3)),
                _ => (rng.gen_bool(0.4), rng.gen_range(0..3)),
            };
            Layout::Csv {
                column,
                columns: column + 1 + rng.gen_range(0..=2),
                header: fixed || by_name || rng.gen_bool(0.7),
                by_name,
            }
        }
    }
}

fn plan(rng: &mut SmallRng, j: usize, csv_column: &str) -> ObjectPlan {
    let start = if rng.gen_bool(0.5) {
        Start::Clients(if rng.gen_bool(0.3) { 2 } else { 1 })
    } else {
        Start::Notification {
            twice: rng.gen_bool(0.3),
        }
    };
    let layout = layout(rng, start, csv_column);
    let elements = elements(rng);
    let bad = rng
        .gen_bool(0.15)
        .then(|| (rng.gen_range(0..=elements.len()), bad_record(rng, layout)));
    let content = write(rng, layout, &elements, bad);
    let mutation = if content.bad_at.is_none() && rng.gen_bool(0.12) {
        Some(if rng.gen_bool(0.5) {
            let mut newer = elements.clone();
            newer.push(element(rng));
            Mutation::Overwrite(write(rng, layout, &newer, None))
        } else {
            Mutation::Delete
        })
    } else {
        None
    };
    ObjectPlan {
        key: format!("plan-{j}.{}", layout.extension()),
        range_bytes: range_bytes(rng, content.bytes.len() as u64),
        fan_in: fan_in(rng),
        layout,
        content,
        start,
        pin_etag: rng.gen_bool(0.5),
        mutation,
        mutate_after: rng.gen_range(0..3_000),
        renotify_at: rng.gen_range(0..3_000),
    }
}

/// The object plans of seed `seed` (one plan in four, on average, of a
/// seed's plans) and the notification handler's configuration.
pub fn from_seed(seed: u64) -> (Vec<ObjectPlan>, NotifyConfig) {
    let mut rng = SmallRng::seed_from_u64(seed ^ 0x0b1e_c75e_ed00_0012);
    let csv_column = ["0", "1", "2", CSV_NAME][rng.gen_range(0..4)].to_string();
    let mut plans: Vec<ObjectPlan> = (0..rng.gen_range(0..=2))
        .map(|j| plan(&mut rng, j, &csv_column))
        .collect();
    let largest = plans
        .iter()
        .filter(|p| matches!(p.start, Start::Notification { .. }))
        .map(|p| p.content.bytes.len() as u64)
        .max()
        .unwrap_or(0);
    let notify = NotifyConfig {
        range_bytes: range_bytes(&mut rng, largest),
        fan_in: fan_in(&mut rng),
        csv_column,
    };
    for p in &mut plans {
        if matches!(p.start, Start::Notification { .. }) {
            p.range_bytes = notify.range_bytes;
            p.fan_in = notify.fan_in;
        }
    }
    (plans, notify)
}

impl fmt::Display for ObjectPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.content;
        write!(
            f,
            "{}: {:?}, {} bytes, {} elements, range {} bytes, fan-in {}, {:?}",
            self.key,
            self.layout,
            c.bytes.len(),
            c.elements.len(),
            self.range_bytes,
            self.fan_in,
            self.start
        )?;
        if let Some(at) = c.bad_at {
            write!(f, ", bad record at byte {at}")?;
        }
        match &self.mutation {
            Some(Mutation::Overwrite(n)) => write!(
                f,
                ", overwritten ({} bytes) from step {}",
                n.bytes.len(),
                self.mutate_after
            ),
            Some(Mutation::Delete) => write!(f, ", deleted from step {}", self.mutate_after),
            None => Ok(()),
        }
    }
}
