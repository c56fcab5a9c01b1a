//! A strict JSON tokenizer over UTF-8 text, shared by the record parser and
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
}

/// A decoded string token.
pub(crate) struct JsonStr<'a> {
    /// The decoded value; borrowed when the token had no escape.
    pub(crate) value: Cow<'a, str>,
    /// Every escape in the token was the canonical one for its character.
    pub(crate) canonical_escapes: bool,
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
    text: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

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
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek_byte() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes the literal byte string `lit` if it is next.
    pub(crate) fn eat_lit(&mut self, lit: &[u8]) -> bool {
        let end = self.pos + lit.len();
        if self.bytes().get(self.pos..end) == Some(lit) {
            self.pos = end;
            true
        } else {
            false
        }
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
        let first = self.pos;
        let mut mag: u128 = 0;
        let mut overflow = false;
        while let Some(d @ b'0'..=b'9') = self.peek_byte() {
            if self.pos > first && mag == 0 && !overflow {
                // A digit after a leading zero.
                return Err(LexError::Syntax {
                    offset: self.pos,
                    expected: "no leading zero",
                });
            }
            self.pos += 1;
            match mag
                .checked_mul(10)
                .and_then(|m| m.checked_add(u128::from(d - b'0')))
            {
                Some(m) if m <= u128::from(u64::MAX) + 1 => mag = m,
                _ => overflow = true,
            }
        }
        if self.pos == first {
            return match self.peek_byte() {
                None => Err(LexError::Eof { offset: self.pos }),
                Some(_) => Err(LexError::Syntax {
                    offset: self.pos,
                    expected: "a digit",
                }),
            };
        }
        if let Some(b'.' | b'e' | b'E') = self.peek_byte() {
            return Err(LexError::Float { offset: start });
        }
        if overflow {
            return Err(LexError::OutOfRange { offset: start });
        }
        if neg && mag == 0 {
            return Err(LexError::NegativeZero { offset: start });
        }
        let v = if neg { -(mag as i128) } else { mag as i128 };
        Integer::new(v).ok_or(LexError::OutOfRange { offset: start })
    }

    /// Consumes a string token.
    pub(crate) fn string(&mut self) -> Result<JsonStr<'a>, LexError> {
        self.expect(b'"', "a string")?;
        let start = self.pos;
        let bytes = self.bytes();
        // Fast scan: most strings have no escape.
        loop {
            match bytes.get(self.pos) {
                None => return Err(LexError::Eof { offset: self.pos }),
                Some(b'"') => {
                    let value = self.text.get(start..self.pos).ok_or(LexError::Syntax {
                        offset: start,
                        expected: "a string",
                    })?;
                    self.pos += 1;
                    return Ok(JsonStr {
                        value: Cow::Borrowed(value),
                        canonical_escapes: true,
                    });
                }
                Some(b'\\') => break,
                Some(&b) if b < 0x20 => return Err(LexError::ControlInString { offset: self.pos }),
                Some(_) => self.pos += 1,
            }
        }
        // Slow path: decode escapes into an owned string.
        let mut out = String::from(self.text.get(start..self.pos).unwrap_or_default());
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
            out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
            if self.eat(b'"') {
                return Ok(JsonStr {
                    value: Cow::Owned(out),
                    canonical_escapes: canonical,
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

impl<'a> Lexer<'a> {
    /// Moves back to an earlier position (only ever one this lexer reported).
    pub(crate) fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.text.len());
    }
}
