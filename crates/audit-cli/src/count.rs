//! [`Count`]: "1 record", "2 records" in the commands' human output.

use std::fmt;

/// A number and a noun, the noun in the singular for exactly one.
pub(crate) struct Count<'a> {
    n: u64,
    one: &'a str,
}

/// `n` of `one` (singular noun; the plural adds `s`).
pub(crate) fn count<N: TryInto<u64>>(n: N, one: &str) -> Count<'_> {
    Count {
        n: n.try_into().unwrap_or(u64::MAX),
        one,
    }
}

impl fmt::Display for Count<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.n == 1 { "" } else { "s" };
        write!(f, "{} {}{s}", self.n, self.one)
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        let check = |n: u64, want: &str| assert_eq!(count(n, "record").to_string(), want);
        check(0, "0 records");
        check(1, "1 record");
        check(2, "2 records");
        check(u64::MAX, "18446744073709551615 records");
    }
}
