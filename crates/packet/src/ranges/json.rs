//! A range of a JSON array of numbers.
//!
//! The object is cut into tokens without any context: whitespace separates
//! them, `[`, `]` and `,` are tokens of one byte, and every maximal run of
//! other bytes is a VALUE (which must be a number: a string, object, `NaN`
//! or `01` is a value that fails [`crate::check_number`]). Since no token
//! depends on what came before it (there are no strings to be inside of),
//! a range starting anywhere cuts the same tokens as a reader from byte 0,
//! and a range owns the tokens that start in it.
//!
//! Structure is checked pair by pair: the owner of a token checks which
//! token follows it (reading past its end if needed), and the owner of byte
//! 0 checks that the first token is `[`. Allowed successions:
//! start → `[`; `[` → value or `]`; value → `,` or `]`; `,` → value;
//! `]` → end of object. A token sequence whose every pair is allowed is
//! exactly `[ value (, value)* ]` or `[ ]`, and every pair is checked by
//! exactly one range, so a broken object fails in at least one range
//! whatever the range size, at the offset of the first token out of place.

use super::source::Source;
use super::{bad, BadData, Fold, RangeError};
use crate::job::Job;
use std::io::BufRead;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Start,
    Open,
    Close,
    Comma,
    Value,
    End,
}

impl Token {
    fn of(byte: Option<u8>) -> Token {
        match byte {
            None => Token::End,
            Some(b'[') => Token::Open,
            Some(b']') => Token::Close,
            Some(b',') => Token::Comma,
            Some(_) => Token::Value,
        }
    }

    fn described(self) -> &'static str {
        match self {
            Token::Start => "the start of the object",
            Token::Open => "`[`",
            Token::Close => "`]`",
            Token::Comma => "`,`",
            Token::Value => "a value",
            Token::End => "the end of the object",
        }
    }

    /// What may follow this token, or `None` when `next` may.
    fn refuses(self, next: Token) -> Option<&'static str> {
        use Token::*;
        match (self, next) {
            (Start, Open) | (Open, Value | Close) | (Value, Comma | Close) | (Comma, Value) => None,
            (Close, End) => None,
            (Start, _) => Some("`[`"),
            (Open, _) => Some("a number or `]`"),
            (Value, _) => Some("`,` or `]`"),
            (Comma, _) => Some("a number"),
            (Close, _) => Some("only whitespace after the array's `]`"),
            (End, _) => Some("nothing"),
        }
    }
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_value_byte(byte: u8) -> bool {
    !is_space(byte) && !matches!(byte, b'[' | b']' | b',')
}

pub(super) fn read<R: BufRead, J: Job>(
    source: &mut Source<R>,
    range: &Range<u64>,
    sum: &mut Fold<'_, J>,
) -> Result<(), RangeError> {
    let mut previous = None;
    if range.start == 0 {
        previous = Some(Token::Start);
    } else if source.next()?.is_some_and(is_value_byte) {
        // The look-behind byte is part of a value: whatever of that value
        // lies in this range belongs to the range where it started.
        source.skip_while(is_value_byte)?;
    }
    let mut value = Vec::new();
    loop {
        source.skip_while(is_space)?;
        let offset = source.pos();
        let token = Token::of(source.peek()?);
        if let Some(expected) = previous.and_then(|p: Token| p.refuses(token)) {
            let found = token.described();
            return Err(bad(offset, BadData::Unexpected { expected, found }));
        }
        if offset >= range.end || token == Token::End {
            return Ok(());
        }
        if token == Token::Value {
            source.take_while(is_value_byte, &mut value, offset)?;
            sum.add(&value, None)
                .map_err(|reason| bad(offset, reason))?;
        } else {
            source.next()?;
        }
        previous = Some(token);
    }
}
