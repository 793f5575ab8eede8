//! The element texts a seed draws, for arrays and for objects alike: small
//! integers, decimals, and integers past f64's exact range.

use rand::rngs::SmallRng;
use rand::Rng;

/// One element's text.
pub(crate) fn element(rng: &mut SmallRng) -> String {
    match rng.gen_range(0..100) {
        0..=49 => rng.gen_range(-1000i64..=1000).to_string(),
        50..=79 => format!(
            "{}.{:02}",
            rng.gen_range(-500i64..=500),
            rng.gen_range(1..100u32)
        ),
        80..=89 => format!("0.{:03}", rng.gen_range(1..1000u32)),
        _ => {
            // Beyond f64's exact integers, within DynamoDB's 38 digits.
            let digits = rng.gen_range(16..=30);
            let mut s = String::from(if rng.gen_bool(0.3) { "-" } else { "" });
            s.push(char::from(b'1' + rng.gen_range(0..9u8)));
            for _ in 1..digits {
                s.push(char::from(b'0' + rng.gen_range(0..10u8)));
            }
            s
        }
    }
}
