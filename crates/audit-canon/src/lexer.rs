//! A strict JSON tokenizer over bytes, shared by the record parser and
//! the canonical validator. It never panics and never allocates a length it
//! read from the input: strings are borrowed unless they hold escapes.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::borrow::Cow;

use crate::value::Integer;

/// What went wrong, at which byte offset of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LexError {
    /// Something other than what the grammar allows here.
    Syntax { offset: usize, expected: &'static str },
    /// The input ends inside a value.
    Eof { offset: usize },
    /// A number with a fraction or exponent.
    Float { offset: usize },
    /// `-0`.
    NegativeZero { offset: usize },
    /// An integer outside `i64::MIN..=u64::MAX`.
    OutOfRange { offset: usize },
    /// A raw control character inside a string.
    ControlInString { offset: usize },
    /// An escape the grammar does not have.
    BadEscape { offset: usize },
    /// A `\u` escape of an unpaired UTF-16 surrogate.
    LoneSurrogate { offset: usize },
    /// A string token that is not UTF-8.
    InvalidUtf8 { offset: usize },
}

/// A decoded string token.
pub(crate) struct JsonStr<'a> {
    /// The decoded value; borrowed when the token had no escape.
    pub(crate) value: Cow<'a, str>,
    /// Every escape in the token was the canonical one for its character.
    pub(crate) canonical_escapes: bool,
    /// The decoded value is pure ASCII (and so trivially NFC).
    pub(crate) ascii: bool,
}

/// One bit (0x80) set in each byte lane of `w` that is `"`, `\\` or a control
/// character, counting from the lowest lane; lanes above the first hit may
/// hold false positives, so only the lowest set bit is meaningful.
fn special_bytes(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    below_space | has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\')))
}

/// The kind of the next value, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peeked {
    Object,
    Array,
    String,
    Number,
    True,
    False,
    Null,
}

pub(crate) struct Lexer<'a> {
    /// The input. Only string tokens may hold non-ASCII bytes; each is
    /// checked as UTF-8 when it is read, and anything else non-ASCII is a
    /// syntax error, so invalid UTF-8 never passes.
    text: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(text: &'a [u8]) -> Self {
        Self { text, pos: 0 }
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.text
    }

    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    #[inline]
    fn peek_byte(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    /// Skips JSON whitespace (only used by the lenient parser).
    pub(crate) fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek_byte() {
            self.pos += 1;
        }
    }

    /// Consumes `b` or fails.
    pub(crate) fn expect(&mut self, b: u8, expected: &'static str) -> Result<(), LexError> {
        match self.peek_byte() {
            Some(x) if x == b => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(LexError::Syntax {
                offset: self.pos,
                expected,
            }),
            None => Err(LexError::Eof { offset: self.pos }),
        }
    }

    /// Consumes `b` if it is next.
    #[inline]
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek_byte() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes the literal byte string `lit` if it is next.
    #[inline]
    pub(crate) fn eat_lit(&mut self, lit: &[u8]) -> bool {
        let end = self.pos + lit.len();
        let Some(here) = self.bytes().get(self.pos..end) else {
            return false;
        };
        // Literals are short and a `memcmp` call costs more than they do:
        // 8..=16 bytes compare as two overlapping words, shorter ones bytewise.
        let same = match (
            here.first_chunk::<8>(),
            here.last_chunk::<8>(),
            lit.first_chunk::<8>(),
            lit.last_chunk::<8>(),
        ) {
            (Some(a), Some(b), Some(c), Some(d)) if lit.len() <= 16 => a == c && b == d,
            _ => here == lit,
        };
        if same {
            self.pos = end;
        }
        same
    }

    /// Consumes `lit` or fails at the current offset.
    pub(crate) fn lit(&mut self, lit: &[u8], expected: &'static str) -> Result<(), LexError> {
        if self.eat_lit(lit) {
            Ok(())
        } else {
            Err(LexError::Syntax {
                offset: self.pos,
                expected,
            })
        }
    }

    /// What kind of value starts here.
    #[inline]
    pub(crate) fn peek(&self) -> Result<Peeked, LexError> {
        Ok(match self.peek_byte() {
            None => return Err(LexError::Eof { offset: self.pos }),
            Some(b'{') => Peeked::Object,
            Some(b'[') => Peeked::Array,
            Some(b'"') => Peeked::String,
            Some(b'-' | b'0'..=b'9') => Peeked::Number,
            Some(b't') => Peeked::True,
            Some(b'f') => Peeked::False,
            Some(b'n') => Peeked::Null,
            Some(_) => {
                return Err(LexError::Syntax {
                    offset: self.pos,
                    expected: "a JSON value",
                });
            }
        })
    }

    /// Consumes `true`, `false` or `null` as announced by [`Self::peek`].
    pub(crate) fn literal(&mut self, p: Peeked) -> Result<(), LexError> {
        let (lit, what): (&[u8], _) = match p {
            Peeked::True => (b"true", "true"),
            Peeked::False => (b"false", "false"),
            _ => (b"null", "null"),
        };
        self.lit(lit, what)
    }

    /// Consumes an integer. Fractions and exponents are `Float`, `-0` is
    /// `NegativeZero`, leading zeros are a syntax error.
    pub(crate) fn integer(&mut self) -> Result<Integer, LexError> {
        let start = self.pos;
        let neg = self.eat(b'-');
        let bytes = self.bytes();
        let first = self.pos;
        let mut mag: u64 = 0;
        while let Some(&d) = bytes.get(self.pos) {
            let digit = d.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            // Up to 19 digits always fit in u64; past that, check.
            mag = if self.pos - first < 19 {
                mag * 10 + u64::from(digit)
            } else {
                match mag.checked_mul(10).and_then(|m| m.checked_add(u64::from(digit))) {
                    Some(m) => m,
                    None => {
                        self.skip_digits();
                        return Err(match self.peek_byte() {
                            Some(b'.' | b'e' | b'E') => LexError::Float { offset: start },
                            _ => LexError::OutOfRange { offset: start },
                        });
                    }
                }
            };
            self.pos += 1;
        }
        let digits = self.pos - first;
        if digits == 0 {
            return match self.peek_byte() {
                None => Err(LexError::Eof { offset: self.pos }),
                Some(_) => Err(LexError::Syntax {
                    offset: self.pos,
                    expected: "a digit",
                }),
            };
        }
        if digits > 1 && bytes.get(first) == Some(&b'0') {
            return Err(LexError::Syntax {
                offset: first + 1,
                expected: "no leading zero",
            });
        }
        if let Some(b'.' | b'e' | b'E') = self.peek_byte() {
            return Err(LexError::Float { offset: start });
        }
        if neg && mag == 0 {
            return Err(LexError::NegativeZero { offset: start });
        }
        let v = if neg { -i128::from(mag) } else { i128::from(mag) };
        Integer::new(v).ok_or(LexError::OutOfRange { offset: start })
    }

    /// Checks an integer whose value is not needed: the same verdict as
    /// [`Self::integer`], without arithmetic unless it has 19 digits or more.
    #[inline]
    pub(crate) fn skip_integer(&mut self) -> Result<(), LexError> {
        let start = self.pos;
        let neg = self.eat(b'-');
        let first = self.pos;
        let bytes = self.bytes();
        while bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        let digits = self.pos - first;
        let lead = bytes.get(first).copied();
        if digits >= 19 || digits == 0 || (digits > 1 && lead == Some(b'0')) || (neg && lead == Some(b'0')) {
            // Rare or failing: let the full parser give the exact verdict.
            self.pos = start;
            return self.integer().map(drop);
        }
        match self.peek_byte() {
            Some(b'.' | b'e' | b'E') => Err(LexError::Float { offset: start }),
            _ => Ok(()),
        }
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek_byte() {
            self.pos += 1;
        }
    }

    /// Consumes a string token.
    #[inline]
    pub(crate) fn string(&mut self) -> Result<JsonStr<'a>, LexError> {
        self.expect(b'"', "a string")?;
        let start = self.pos;
        let bytes = self.bytes();
        // Fast scan, eight bytes at a time: most strings have no escape.
        let mut high = 0u64;
        while let Some(word) = bytes.get(self.pos..self.pos + 8) {
            let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
            let hits = special_bytes(w);
            if hits != 0 {
                let n = (hits.trailing_zeros() / 8) as usize;
                if n > 0 {
                    // Only the lanes before the hit belong to this run.
                    high |= w & (u64::MAX >> (64 - 8 * n));
                }
                self.pos += n;
                break;
            }
            high |= w;
            self.pos += 8;
        }
        loop {
            match bytes.get(self.pos) {
                None => return Err(LexError::Eof { offset: self.pos }),
                Some(b'"') => {
                    let value = self.str_at(start, self.pos)?;
                    self.pos += 1;
                    return Ok(JsonStr {
                        value: Cow::Borrowed(value),
                        canonical_escapes: true,
                        ascii: high & 0x8080_8080_8080_8080 == 0,
                    });
                }
                Some(b'\\') => break,
                Some(&b) if b < 0x20 => return Err(LexError::ControlInString { offset: self.pos }),
                Some(&b) => {
                    high |= u64::from(b);
                    self.pos += 1;
                }
            }
        }
        self.escaped_string(start)
    }

    /// The bytes `start..end` as UTF-8 text.
    #[inline]
    fn str_at(&self, start: usize, end: usize) -> Result<&'a str, LexError> {
        let bytes = self.text.get(start..end).ok_or(LexError::Eof { offset: end })?;
        std::str::from_utf8(bytes).map_err(|e| LexError::InvalidUtf8 {
            offset: start + e.valid_up_to(),
        })
    }

    /// A string token of plain ASCII, no escape and no control character:
    /// its bytes between the quotes. `None` when the token is anything else
    /// (the caller then takes the general path, [`Self::string`]).
    #[inline]
    pub(crate) fn plain_string(&mut self) -> Option<&'a [u8]> {
        const HIGH: u64 = 0x8080_8080_8080_8080;
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        let rest = self.bytes().get(start..).unwrap_or_default();
        let mut words = rest.chunks_exact(8);
        let mut n = 0;
        let mut end = None;
        for word in &mut words {
            let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
            // The lowest hit is exact (see `special_bytes`); `w & HIGH` adds
            // the non-ASCII lanes.
            let hits = special_bytes(w) | (w & HIGH);
            if hits != 0 {
                end = Some(n + (hits.trailing_zeros() / 8) as usize);
                break;
            }
            n += 8;
        }
        let end = match end {
            Some(e) => e,
            None => {
                let tail = words.remainder();
                n + tail
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b))
                    .unwrap_or(tail.len())
            }
        };
        if rest.get(end) != Some(&b'"') {
            return None;
        }
        self.pos = start + end + 1;
        rest.get(..end)
    }

    /// The rest of a string token that holds an escape: decode into an owned
    /// string. Kept out of line so the common path stays small.
    #[cold]
    #[inline(never)]
    fn escaped_string(&mut self, start: usize) -> Result<JsonStr<'a>, LexError> {
        let bytes = self.bytes();
        let mut out = String::from(self.str_at(start, self.pos)?);
        let mut canonical = true;
        loop {
            let run_start = self.pos;
            loop {
                match bytes.get(self.pos) {
                    None => return Err(LexError::Eof { offset: self.pos }),
                    Some(b'"' | b'\\') => break,
                    Some(&b) if b < 0x20 => {
                        return Err(LexError::ControlInString { offset: self.pos });
                    }
                    Some(_) => self.pos += 1,
                }
            }
            out.push_str(self.str_at(run_start, self.pos)?);
            if self.eat(b'"') {
                let ascii = out.is_ascii();
                return Ok(JsonStr {
                    value: Cow::Owned(out),
                    canonical_escapes: canonical,
                    ascii,
                });
            }
            // A backslash.
            let esc_at = self.pos;
            self.pos += 1;
            let c = match self.peek_byte() {
                None => return Err(LexError::Eof { offset: self.pos }),
                Some(c) => c,
            };
            self.pos += 1;
            let ch = match c {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => {
                    canonical = false;
                    '/'
                }
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let (unit, lower) = self.hex4(esc_at)?;
                    let ch = match unit {
                        0xD800..=0xDBFF => {
                            // A high surrogate must be followed by `\u` + low surrogate.
                            if !self.eat_lit(b"\\u") {
                                return Err(LexError::LoneSurrogate { offset: esc_at });
                            }
                            let (low, _) = self.hex4(esc_at)?;
                            if !(0xDC00..=0xDFFF).contains(&low) {
                                return Err(LexError::LoneSurrogate { offset: esc_at });
                            }
                            let cp = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                            canonical = false;
                            char::from_u32(cp).ok_or(LexError::LoneSurrogate { offset: esc_at })?
                        }
                        0xDC00..=0xDFFF => return Err(LexError::LoneSurrogate { offset: esc_at }),
                        _ => char::from_u32(u32::from(unit)).ok_or(LexError::BadEscape { offset: esc_at })?,
                    };
                    let short = matches!(ch, '\u{8}' | '\t' | '\n' | '\u{c}' | '\r');
                    if (ch as u32) >= 0x20 || short || !lower {
                        canonical = false;
                    }
                    ch
                }
                _ => return Err(LexError::BadEscape { offset: esc_at }),
            };
            out.push(ch);
        }
    }

    /// Four hex digits after `\u`; also whether they were all lowercase.
    fn hex4(&mut self, esc_at: usize) -> Result<(u16, bool), LexError> {
        let digits = self
            .bytes()
            .get(self.pos..self.pos + 4)
            .ok_or(LexError::BadEscape { offset: esc_at })?;
        let mut v: u16 = 0;
        let mut lower = true;
        for &d in digits {
            let n = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => {
                    lower = false;
                    d - b'A' + 10
                }
                _ => return Err(LexError::BadEscape { offset: esc_at }),
            };
            v = (v << 4) | u16::from(n);
        }
        self.pos += 4;
        Ok((v, lower))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The word-at-a-time scan must find a special byte at every lane of
    /// every word, and must see non-ASCII wherever it is.
    #[test]
    fn string_scan_finds_every_special_byte_at_every_position() {
        for len in 0..24 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f, 0x0a] {
                    let mut body = vec![b'a'; len];
                    body[at] = special;
                    let mut text = vec![b'"'];
                    text.extend_from_slice(&body);
                    // Never `\"`: a backslash must meet a letter JSON has no escape for.
                    text.extend_from_slice(b"q\"");
                    let mut lx = Lexer::new(&text);
                    let got = lx.string();
                    match special {
                        b'"' => {
                            let s = got.expect("ends at the quote");
                            assert_eq!(s.value.len(), at, "len {len} at {at}");
                            assert_eq!(lx.pos(), at + 2);
                        }
                        b'\\' => assert!(
                            matches!(got, Err(LexError::BadEscape { offset }) if offset == at + 1),
                            "len {len} at {at}: {:?}",
                            got.err()
                        ),
                        _ => assert!(
                            matches!(got, Err(LexError::ControlInString { offset }) if offset == at + 1),
                            "len {len} at {at}"
                        ),
                    }
                }
            }
        }
    }

    #[test]
    fn string_scan_reports_non_ascii_in_any_lane() {
        for len in 1..24 {
            for at in 0..len {
                let mut body: Vec<char> = vec!['a'; len];
                body[at] = 'é';
                let text = format!("\"{}\"", body.iter().collect::<String>());
                let s = Lexer::new(text.as_bytes()).string().unwrap();
                assert!(!s.ascii, "len {len} at {at}");
                let plain = format!("\"{}\"", "a".repeat(len));
                assert!(Lexer::new(plain.as_bytes()).string().unwrap().ascii);
            }
        }
    }
}
