//! Exact decimal numbers with DynamoDB's limits.
//!
//! The original adder used JavaScript doubles, so `[0.1, 0.2, 0.3]` did not sum
//! to `1.2` and integers past 2^53 broke it. Here every value is an exact decimal
//! ([`bigdecimal`]) and every input is checked against what DynamoDB's Number type
//! holds (38 significant digits, magnitudes from 1E-130 to below 1E+126) before
//! it is accepted, so nothing is rounded anywhere in the pipeline.

use bigdecimal::{BigDecimal, Zero};
use num_bigint::Sign;
use std::borrow::Cow;
use std::fmt;
use std::ops::{Add, AddAssign};
use std::str::FromStr;

/// Most significant digits DynamoDB keeps in a Number.
pub const MAX_DIGITS: usize = 38;
/// Largest power of ten of a Number's leading digit.
pub const MAX_EXPONENT: i64 = 125;
/// Smallest power of ten of a Number's leading digit.
pub const MIN_EXPONENT: i64 = -130;
/// Longest element text a packet carries: the canonical form of any number
/// DynamoDB holds (`-` + 38 digits + `e-167`) is at most this long, so every
/// element costs at most this many bytes on the queue and a bounded amount
/// of work in the map, however the client wrote it.
pub const MAX_ELEMENT_TEXT: usize = 44;

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("`{0}` is not a JSON number")]
    NotANumber(String),
    #[error("`{text}` has {digits} significant digits; DynamoDB keeps at most 38")]
    TooPrecise { text: String, digits: usize },
    #[error("`{0}` is outside DynamoDB's Number range (1E-130 to 9.99E+125 in magnitude)")]
    OutOfRange(String),
}

/// An exact decimal number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Number(BigDecimal);

/// Checks that `text` is a JSON number literal that DynamoDB can store,
/// without allocating: it runs once per element on the request path.
pub fn check_number(text: &str) -> Result<(), NumberError> {
    let bytes = text.as_bytes();
    let bad = || NumberError::NotANumber(shorten(text));
    let mut i = 0;
    if bytes.first() == Some(&b'-') {
        i += 1;
    }
    let int_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && bytes[int_start] == b'0') {
        return Err(bad());
    }
    let mut frac_start = i;
    let mut frac_len = 0;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        frac_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        frac_len = i - frac_start;
        if frac_len == 0 {
            return Err(bad());
        }
    }
    let mut exponent: i64 = 0;
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        let negative = match bytes.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let exp_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            // Saturate: anything this large is out of range anyway.
            exponent = exponent
                .saturating_mul(10)
                .saturating_add(i64::from(bytes[i] - b'0'));
            i += 1;
        }
        if i == exp_start {
            return Err(bad());
        }
        if negative {
            exponent = -exponent;
        }
    }
    if i != bytes.len() {
        return Err(bad());
    }
    // Significant digits: the span from the first to the last non-zero digit
    // across the integer and fraction parts.
    let digit_at = |k: usize| {
        if k < int_len {
            bytes[int_start + k]
        } else {
            bytes[frac_start + k - int_len]
        }
    };
    let total = int_len + frac_len;
    let Some(first) = (0..total).find(|&k| digit_at(k) != b'0') else {
        return Ok(()); // zero
    };
    let last = (0..total)
        .rev()
        .find(|&k| digit_at(k) != b'0')
        .unwrap_or(first);
    let digits = last - first + 1;
    if digits > MAX_DIGITS {
        return Err(NumberError::TooPrecise {
            text: shorten(text),
            digits,
        });
    }
    let leading_power = (int_len as i64 - 1 - first as i64).saturating_add(exponent);
    if !(MIN_EXPONENT..=MAX_EXPONENT).contains(&leading_power) {
        return Err(NumberError::OutOfRange(shorten(text)));
    }
    Ok(())
}

/// `text` (checked with [`check_number`]) in a form no longer than
/// [`MAX_ELEMENT_TEXT`]: short texts stay as the client wrote them (and
/// borrowed); a longer one, which can only be long through redundant zeros
/// or exponent digits, is rewritten as `[-]<significant digits>e<exponent>`.
/// The value is unchanged. Without this, `1.000…0` with a million zeros is
/// a valid element that no queue message can carry and whose exact sum
/// costs seconds of CPU.
pub fn canonical(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_ELEMENT_TEXT {
        return Cow::Borrowed(text);
    }
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], parse_exponent(&rest[i + 1..])),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = int.chars().chain(frac.chars()).collect();
    let leading = digits.trim_start_matches('0');
    let significant = leading.trim_end_matches('0');
    if significant.is_empty() {
        return Cow::Borrowed("0");
    }
    // Power of ten of the last significant digit: the digits after it in
    // the mantissa, minus the fraction's length, plus the exponent.
    let trailing = (leading.len() - significant.len()) as i64;
    let power = exponent
        .saturating_add(trailing)
        .saturating_sub(frac.len() as i64);
    let sign = if negative { "-" } else { "" };
    Cow::Owned(if power == 0 {
        format!("{sign}{significant}")
    } else {
        format!("{sign}{significant}e{power}")
    })
}

/// The exponent of a checked number text (saturating, like the check).
fn parse_exponent(text: &str) -> i64 {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = digits.bytes().fold(0i64, |acc, b| {
        acc.saturating_mul(10)
            .saturating_add(i64::from(b.wrapping_sub(b'0')))
    });
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

fn shorten(text: &str) -> String {
    const LIMIT: usize = 60;
    if text.len() <= LIMIT {
        text.to_string()
    } else {
        let cut = (0..=LIMIT)
            .rev()
            .find(|&k| text.is_char_boundary(k))
            .unwrap_or(0);
        format!("{}…", &text[..cut])
    }
}

impl Number {
    /// Parses a JSON number literal that DynamoDB can store.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        check_number(text)?;
        Self::parse_unchecked(text)
    }

    /// Parses any exact decimal, however many digits (used for sums, which may
    /// legitimately outgrow DynamoDB's Number and are then stored as strings).
    pub fn parse_unchecked(text: &str) -> Result<Number, NumberError> {
        BigDecimal::from_str(text)
            .map(|d| Number(d.normalized()))
            .map_err(|_| NumberError::NotANumber(shorten(text)))
    }

    pub fn zero() -> Number {
        Number(BigDecimal::zero())
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// Twice this number: the "map" of the adder.
    pub fn doubled(&self) -> Number {
        Number((&self.0 + &self.0).normalized())
    }

    /// Whether DynamoDB's Number type holds this value exactly.
    pub fn fits_dynamodb(&self) -> bool {
        let (digits, scale) = self.0.as_bigint_and_exponent();
        if digits.is_zero() {
            return true;
        }
        let len = digits.magnitude().to_string().len();
        let leading_power = len as i64 - 1 - scale;
        len <= MAX_DIGITS && (MIN_EXPONENT..=MAX_EXPONENT).contains(&leading_power)
    }
}

/// Exact sum of JSON number texts (already checked with [`check_number`]).
pub fn sum_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Number {
    let mut sum = TextSum::default();
    for text in texts {
        sum.add(text);
    }
    sum.total()
}

/// A running exact sum of JSON number texts (already checked with
/// [`check_number`]), for callers that see the texts one at a time, such as
/// the byte-range readers, which stream and cannot hold them all.
///
/// This is the map's inner loop, so ordinary numbers are added as `i128`
/// mantissas over a common power of ten, with no allocation; the first
/// element or partial sum that does not fit moves the sum to [`BigDecimal`].
/// Either way the result is exact.
#[derive(Debug, Clone, Default)]
pub struct TextSum {
    fast: i128,
    scale: u32,
    slow: Option<BigDecimal>,
}

impl TextSum {
    pub fn add(&mut self, text: &str) {
        if self.slow.is_none() {
            if let Some(sum) =
                small(text).and_then(|(m, s)| add_scaled(self.fast, self.scale, m, s))
            {
                (self.fast, self.scale) = sum;
                return;
            }
            self.slow = Some(BigDecimal::new(self.fast.into(), i64::from(self.scale)));
        }
        if let (Some(total), Ok(n)) = (self.slow.as_mut(), BigDecimal::from_str(text)) {
            *total += n;
        }
    }

    pub fn total(self) -> Number {
        Number(
            self.slow
                .unwrap_or_else(|| BigDecimal::new(self.fast.into(), i64::from(self.scale)))
                .normalized(),
        )
    }
}

/// The least and the greatest of checked JSON number texts seen one at a
/// time (the `stats` job's inner loop): compared as `i128` mantissas when
/// both fit, as exact decimals otherwise.
#[derive(Debug, Clone, Default)]
pub struct TextExtremes {
    least: Option<Exact>,
    greatest: Option<Exact>,
}

impl TextExtremes {
    pub fn add(&mut self, text: &str) {
        let x = Exact::of(text);
        if self.least.as_ref().is_none_or(|l| x.cmp(l).is_lt()) {
            self.least = Some(x.clone());
        }
        if self.greatest.as_ref().is_none_or(|g| x.cmp(g).is_gt()) {
            self.greatest = Some(x);
        }
    }
    pub fn least(&self) -> Option<Number> {
        self.least.as_ref().map(Exact::to_number)
    }
    pub fn greatest(&self) -> Option<Number> {
        self.greatest.as_ref().map(Exact::to_number)
    }
}

/// A checked number, small ones as `(mantissa, scale)`.
#[derive(Debug, Clone)]
enum Exact {
    Small(i128, u32),
    Big(BigDecimal),
}

impl Exact {
    fn of(text: &str) -> Exact {
        match small(text) {
            Some((m, s)) => Exact::Small(m, s),
            // Checked texts always parse; zero is never reached.
            None => Exact::Big(BigDecimal::from_str(text).unwrap_or_default()),
        }
    }
    fn big(&self) -> BigDecimal {
        match self {
            Exact::Small(m, s) => BigDecimal::new((*m).into(), i64::from(*s)),
            Exact::Big(b) => b.clone(),
        }
    }
    fn cmp(&self, other: &Exact) -> std::cmp::Ordering {
        if let (Exact::Small(a, sa), Exact::Small(b, sb)) = (self, other) {
            let scale = *sa.max(sb);
            if let (Some(a), Some(b)) = (scale_up(*a, scale - sa), scale_up(*b, scale - sb)) {
                return a.cmp(&b);
            }
        }
        self.big().cmp(&other.big())
    }
    fn to_number(&self) -> Number {
        Number(self.big().normalized())
    }
}

impl Number {
    /// `self / divisor`, and whether that is exact: exact when the quotient
    /// terminates in decimal, otherwise rounded to the nearest number of
    /// [`MAX_DIGITS`] significant digits (a quotient that does not
    /// terminate is never halfway, so there are no ties to break). `None`
    /// for a zero divisor.
    pub fn divided_by(&self, divisor: u64) -> Option<(Number, bool)> {
        use num_bigint::BigUint;
        if divisor == 0 {
            return None;
        }
        let (m, scale) = self.0.as_bigint_and_exponent();
        let negative = m.sign() == Sign::Minus;
        let (m, d, ten) = (
            m.magnitude().clone(),
            BigUint::from(divisor),
            BigUint::from(10u8),
        );
        let signed = |digits: BigUint| {
            let sign = if negative { Sign::Minus } else { Sign::Plus };
            num_bigint::BigInt::from_biguint(sign, digits)
        };
        // A divisor under 2^64 has fewer than 64 factors 2 and 5: the
        // quotient terminates if and only if 10^64 clears the division.
        if (&m * ten.pow(64) % &d).is_zero() {
            let (mut m, mut scale) = (m, scale);
            while !(&m % &d).is_zero() {
                m *= &ten;
                scale += 1;
            }
            let exact = BigDecimal::new(signed(m / &d), scale);
            return Some((Number(exact.normalized()), true));
        }
        // Scale up until the integer quotient has more than MAX_DIGITS
        // digits, then cut the extra ones off, rounding to nearest: the
        // remainder is never zero, so the exact tail is above a cut-off of
        // half exactly when its leading digits are at least half.
        let (mut m, mut scale) = (m, scale);
        while (&m / &d).to_string().len() <= MAX_DIGITS {
            m *= &ten;
            scale += 1;
        }
        let quotient = m / &d;
        let extra = u32::try_from(quotient.to_string().len() - MAX_DIGITS).ok()?;
        let cut = ten.pow(extra);
        let (kept, dropped) = (&quotient / &cut, &quotient % &cut);
        let kept = if dropped >= &cut / 2u8 {
            kept + 1u8
        } else {
            kept
        };
        let rounded = BigDecimal::new(signed(kept), scale - i64::from(extra));
        Some((Number(rounded.normalized()), false))
    }
}

/// Largest number of fraction digits the fast path keeps.
const FAST_SCALE: u32 = 30;

/// Powers of ten that fit an `i128`: a table, since `checked_pow` loops and
/// the map calls this for most elements.
const POW10: [i128; 39] = {
    let mut table = [1i128; 39];
    let mut k = 1;
    while k < table.len() {
        table[k] = table[k - 1] * 10;
        k += 1;
    }
    table
};

fn pow10(k: u32) -> Option<i128> {
    POW10.get(usize::try_from(k).ok()?).copied()
}

/// `m * 10^k`, if it fits an `i128`. Overflow checks on `i128` are library
/// calls; a mantissa under 2^64 times 10^18 or less cannot overflow.
fn scale_up(m: i128, k: u32) -> Option<i128> {
    if k == 0 {
        return Some(m);
    }
    let power = pow10(k)?;
    if k <= 18 && m.unsigned_abs() < 1 << 64 {
        Some(m * power)
    } else {
        m.checked_mul(power)
    }
}

/// `a / 10^sa + b / 10^sb` as `(mantissa, scale)`, if it fits an `i128`.
fn add_scaled(a: i128, sa: u32, b: i128, sb: u32) -> Option<(i128, u32)> {
    let scale = sa.max(sb);
    let a = scale_up(a, scale - sa)?;
    let b = scale_up(b, scale - sb)?;
    Some((a.checked_add(b)?, scale))
}

/// A checked JSON number as `(mantissa, scale)` when it is small enough.
fn small(text: &str) -> Option<(i128, u32)> {
    let negative = text.starts_with('-');
    let bytes = &text.as_bytes()[usize::from(negative)..];
    // One pass over the digits; the text is checked, so anything other
    // than a digit or the point is the exponent's `e`.
    let (mut m, mut digits, mut fraction, mut in_fraction) = (0i128, 0usize, 0i32, false);
    let mut end = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if digits > 36 {
                    return None;
                }
                m = m * 10 + i128::from(b - b'0');
                fraction += i32::from(in_fraction);
            }
            b'.' => in_fraction = true,
            _ => {
                end = i;
                break;
            }
        }
    }
    let exponent = match bytes.get(end + 1..) {
        Some(e) => std::str::from_utf8(e).ok()?.parse::<i32>().ok()?,
        None => 0,
    };
    let mut scale = fraction.checked_sub(exponent)?;
    if scale < 0 {
        m = scale_up(m, u32::try_from(-scale).ok()?)?;
        scale = 0;
    }
    let scale = u32::try_from(scale).ok().filter(|s| *s <= FAST_SCALE)?;
    Some((if negative { -m } else { m }, scale))
}

impl Add for Number {
    type Output = Number;
    fn add(self, rhs: Number) -> Number {
        Number((self.0 + rhs.0).normalized())
    }
}

impl AddAssign<&Number> for Number {
    fn add_assign(&mut self, rhs: &Number) {
        self.0 += &rhs.0;
    }
}

impl std::iter::Sum for Number {
    fn sum<I: Iterator<Item = Number>>(iter: I) -> Number {
        let mut total = BigDecimal::zero();
        for n in iter {
            total += n.0;
        }
        Number(total.normalized())
    }
}

impl FromStr for Number {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Number, NumberError> {
        Number::parse_unchecked(s)
    }
}

/// Formats as a valid JSON number: plain digits where that stays short,
/// otherwise `<digits>e<exponent>`. Never rounds.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let normalized = self.0.normalized();
        let (digits, scale) = normalized.as_bigint_and_exponent();
        if digits.is_zero() {
            return f.write_str("0");
        }
        if digits.sign() == Sign::Minus {
            f.write_str("-")?;
        }
        let s = digits.magnitude().to_string();
        let len = s.len() as i64;
        if scale <= 0 {
            if -scale <= 20 {
                write!(f, "{s}{}", "0".repeat((-scale) as usize))
            } else {
                write!(f, "{s}e{}", -scale)
            }
        } else if scale < len {
            let point = (len - scale) as usize;
            write!(f, "{}.{}", &s[..point], &s[point..])
        } else if scale - len <= 20 {
            write!(f, "0.{}{s}", "0".repeat((scale - len) as usize))
        } else {
            write!(f, "{s}e-{scale}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        Number::parse(s).expect("valid number")
    }

    #[test]
    fn decimals_sum_exactly() {
        let total: Number = ["0.1", "0.2", "0.3"].iter().map(|s| n(s).doubled()).sum();
        assert_eq!(total.to_string(), "1.2");
    }

    #[test]
    fn large_integers_stay_exact() {
        assert_eq!(
            n("9007199254740993").doubled().to_string(),
            "18014398509481986"
        );
    }

    #[test]
    fn accepts_dynamodb_extremes() {
        for ok in [
            "0",
            "-0",
            "0.0",
            "1E-130",
            "-1e-130",
            "9.9999999999999999999999999999999999999E+125",
            "12345678901234567890123456789012345678",
            "1.2345678901234567890123456789012345678",
            "100000000000000000000000000000000000000000000",
        ] {
            assert_eq!(check_number(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_what_dynamodb_cannot_hold() {
        assert!(matches!(
            check_number("123456789012345678901234567890123456789"),
            Err(NumberError::TooPrecise { digits: 39, .. })
        ));
        assert!(matches!(
            check_number("1E126"),
            Err(NumberError::OutOfRange(_))
        ));
        assert!(matches!(
            check_number("1E-131"),
            Err(NumberError::OutOfRange(_))
        ));
        assert!(matches!(
            check_number("1e99999999999999999999999"),
            Err(NumberError::OutOfRange(_))
        ));
        for bad in [
            "", "-", "01", "1.", ".5", "+1", "1e", "NaN", "Infinity", "1x", "\"1\"", "0x10",
        ] {
            assert!(
                matches!(check_number(bad), Err(NumberError::NotANumber(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn long_texts_become_short_canonical_texts_of_the_same_value() {
        let zeros = "0".repeat(5000);
        for (long, short) in [
            (format!("1.{zeros}"), "1"),
            (format!("-1{zeros}e-5000"), "-1"),
            (format!("0.{zeros}1e300"), "1e-4701"),
            (format!("0.{zeros}"), "0"),
            (format!("12.5{zeros}E+2"), "125e1"),
            (format!("1{zeros}"), "1e5000"),
            (
                format!("{}e-10", "9".repeat(38)),
                "99999999999999999999999999999999999999e-10",
            ),
        ] {
            let canonical = canonical(&long);
            assert_eq!(canonical, short, "{}…", &long[..20]);
            assert!(canonical.len() <= MAX_ELEMENT_TEXT);
            assert_eq!(
                Number::parse_unchecked(&canonical).expect("canonical"),
                Number::parse_unchecked(&long).expect("long")
            );
        }
        assert!(matches!(canonical("1.50"), Cow::Borrowed("1.50")));
    }

    #[test]
    fn formats_as_json_numbers() {
        for (input, shown) in [
            ("1.50", "1.5"),
            ("-0.000001", "-0.000001"),
            ("1E+20", "100000000000000000000"),
            ("1E+30", "1e30"),
            ("1E-30", "1e-30"),
            ("-12.5e-40", "-125e-41"),
            ("-0", "0"),
        ] {
            let shown_now = n(input).to_string();
            assert_eq!(shown_now, shown, "{input}");
            assert!(serde_json::from_str::<serde_json::Value>(&shown_now).is_ok());
            assert_eq!(
                Number::parse_unchecked(&shown_now).expect("reparse"),
                n(input)
            );
        }
    }

    #[test]
    fn knows_when_a_sum_outgrows_dynamodb() {
        assert!(n("9.9999999999999999999999999999999999999E+125").fits_dynamodb());
        let big = n("9.9999999999999999999999999999999999999E+125").doubled();
        assert!(!big.fits_dynamodb());
        let wide = n("1E100") + n("1E-100");
        assert!(!wide.fits_dynamodb());
        assert_eq!(
            Number::parse_unchecked(&wide.to_string()).expect("reparse"),
            wide
        );
    }

    #[test]
    fn sum_texts_is_exact_on_both_paths() {
        let texts = ["0.1", "0.2", "-0.3", "1e2", "25E-3", "-0"];
        assert_eq!(sum_texts(texts).to_string(), "100.025");
        let huge = [
            "99999999999999999999999999999999999999",
            "99999999999999999999999999999999999999",
            "1e-100",
        ];
        assert_eq!(sum_texts(huge), huge.iter().map(|t| n(t)).sum::<Number>());
        assert_eq!(sum_texts([]).to_string(), "0");
    }

    proptest::proptest! {
        #[test]
        fn sum_texts_agrees_with_bigdecimal(texts in proptest::collection::vec("-?[1-9][0-9]{0,39}(\\.[0-9]{1,40})?([eE][+-]?[0-9]{1,3})?", 0..30)) {
            let valid: Vec<&str> = texts.iter().map(String::as_str).filter(|t| check_number(t).is_ok()).collect();
            let slow: Number = valid.iter().map(|t| n(t)).sum();
            proptest::prop_assert_eq!(sum_texts(valid.iter().copied()), slow);
        }

        #[test]
        fn sum_is_order_independent(values in proptest::collection::vec(-1_000_000i64..1_000_000, 0..50), scale in 0u32..6) {
            let nums: Vec<Number> = values.iter().map(|v| n(&format!("{}e-{scale}", v))).collect();
            let forward: Number = nums.iter().cloned().sum();
            let backward: Number = nums.iter().rev().cloned().sum();
            proptest::prop_assert_eq!(forward, backward);
        }

        #[test]
        fn canonical_keeps_the_value_within_the_length_bound(
            negative in proptest::bool::ANY,
            leading_zeros in 0usize..300,
            significant in "[1-9]([0-9]{0,36}[1-9])?",
            trailing_zeros in 0usize..300,
            point in 0usize..700,
            exponent in -700i64..700,
        ) {
            let digits = format!("{}{significant}{}", "0".repeat(leading_zeros), "0".repeat(trailing_zeros));
            let digits = digits.trim_start_matches('0');
            let (int, frac) = digits.split_at(point.min(digits.len()));
            let int = if int.is_empty() { "0" } else { int };
            let sign = if negative { "-" } else { "" };
            let text = if frac.is_empty() {
                format!("{sign}{int}e{exponent}")
            } else {
                format!("{sign}{int}.{frac}e{exponent}")
            };
            if check_number(&text).is_ok() {
                let short = canonical(&text);
                proptest::prop_assert!(short.len() <= MAX_ELEMENT_TEXT, "{} -> {}", text, short);
                proptest::prop_assert!(check_number(&short).is_ok(), "{}", short);
                proptest::prop_assert_eq!(n(&short), n(&text));
            }
        }

        #[test]
        fn check_agrees_with_parse(text in "-?[0-9]{1,45}(\\.[0-9]{1,45})?([eE][+-]?[0-9]{1,4})?") {
            if check_number(&text).is_ok() {
                let parsed = Number::parse(&text).expect("checked numbers parse");
                proptest::prop_assert!(parsed.fits_dynamodb(), "{} -> {}", text, parsed);
            }
        }
    }
}
