//! Secret names taken from request paths, and the glob patterns that scopes
//! and `ALLOWED_SECRETS` are written in.

use percent_encoding::percent_decode_str;

use super::error::ApiError;

/// Longest secret name Secrets Manager accepts.
const MAX_NAME: usize = 512;

/// Decodes and checks a secret name given as raw (still percent-encoded)
/// path segments. A name may contain `/`, either literally or as `%2F`.
pub fn parse_name(raw: &str) -> Result<String, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_name",
            "the secret name is empty",
        ));
    }
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| ApiError::bad_request("invalid_name", "the secret name is not UTF-8"))?;
    validate_name(&decoded)?;
    Ok(decoded.into_owned())
}

/// Secrets Manager names: letters, digits and `/_+=.@-`, at most 512
/// characters. Anything else is refused here with the reason, before any
/// call to Secrets Manager.
pub fn validate_name(name: &str) -> Result<(), ApiError> {
    if name.chars().any(|c| c == '\0') {
        return Err(ApiError::bad_request(
            "invalid_name",
            "the secret name contains a NUL byte",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_name",
            "the secret name contains control characters",
        ));
    }
    if name.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_name",
            "the secret name is empty",
        ));
    }
    if name.split('/').any(|seg| seg == ".." || seg == ".") || name.contains('\\') {
        return Err(ApiError::bad_request(
            "invalid_name",
            "path traversal ('.' or '..' segments) is not allowed in secret names",
        ));
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return Err(ApiError::bad_request(
            "invalid_name",
            "the secret name has an empty path segment",
        ));
    }
    if name.chars().count() > MAX_NAME {
        return Err(ApiError::bad_request(
            "invalid_name",
            "the secret name is longer than 512 characters",
        ));
    }
    if name.starts_with("arn:") || name.contains(':') {
        return Err(ApiError::bad_request(
            "invalid_name",
            "use the secret's name, not its ARN",
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c)))
    {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("the secret name contains {c:?}; allowed are letters, digits and /_+=.@-"),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`: any run of characters within one `/` segment.
    Star,
    /// `**`: any run of characters, across segments.
    DoubleStar,
}

/// A glob over secret names: `*` stays within one `/` segment, `**` crosses
/// segments. Everything else matches literally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    toks: Vec<Tok>,
}

impl Pattern {
    pub fn new(source: &str) -> Result<Self, String> {
        let source = source.trim();
        if source.is_empty() {
            return Err("empty pattern".to_owned());
        }
        if source.chars().any(char::is_control) {
            return Err(format!("pattern {source:?} contains control characters"));
        }
        let mut toks = Vec::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '*' {
                if chars.peek() == Some(&'*') {
                    chars.next();
                    while chars.peek() == Some(&'*') {
                        chars.next();
                    }
                    toks.push(Tok::DoubleStar);
                } else {
                    toks.push(Tok::Star);
                }
            } else {
                toks.push(Tok::Lit(c));
            }
        }
        Ok(Self {
            source: source.to_owned(),
            toks,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `name` matches the whole pattern. Works on bytes: `/` is
    /// ASCII, so a UTF-8 name cannot split a segment wrongly.
    pub fn matches(&self, name: &str) -> bool {
        // Fast paths for the common shapes: a literal, and `prefix/**`.
        match self.toks.as_slice() {
            [] => return name.is_empty(),
            [lits @ .., Tok::DoubleStar] if lits.iter().all(|t| matches!(t, Tok::Lit(_))) => {
                return self
                    .literal_prefix(lits.len())
                    .is_some_and(|p| name.starts_with(p));
            }
            toks if toks.iter().all(|t| matches!(t, Tok::Lit(_))) => {
                return self.source == name;
            }
            _ => {}
        }
        let name = name.as_bytes();
        let mut buf = [0u8; 4];
        // reach[j]: the tokens so far can match name[..j].
        let mut reach = vec![false; name.len() + 1];
        let mut next = vec![false; name.len() + 1];
        reach[0] = true;
        for tok in &self.toks {
            next.iter_mut().for_each(|n| *n = false);
            match tok {
                Tok::Lit(c) => {
                    let lit = c.encode_utf8(&mut buf).as_bytes();
                    for j in 0..name.len() {
                        if reach[j] && name[j..].starts_with(lit) {
                            next[j + lit.len()] = true;
                        }
                    }
                }
                Tok::Star | Tok::DoubleStar => {
                    let crosses = *tok == Tok::DoubleStar;
                    for j in 0..=name.len() {
                        next[j] =
                            reach[j] || (j > 0 && next[j - 1] && (crosses || name[j - 1] != b'/'));
                    }
                }
            }
            std::mem::swap(&mut reach, &mut next);
            if !reach.iter().any(|r| *r) {
                return false;
            }
        }
        reach[name.len()]
    }

    /// The literal text of the first `n` tokens when they are all literals.
    fn literal_prefix(&self, n: usize) -> Option<&str> {
        let end = self
            .source
            .char_indices()
            .nth(n)
            .map_or(self.source.len(), |(i, _)| i);
        self.source.get(..end)
    }
}

/// Comma-separated patterns (`ALLOWED_SECRETS`).
pub fn parse_patterns(list: &str) -> Result<Vec<Pattern>, String> {
    list.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(Pattern::new)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        Pattern::new(p).unwrap().matches(n)
    }

    #[test]
    fn single_star_stays_in_a_segment() {
        assert!(m("app/*", "app/db"));
        assert!(!m("app/*", "app/db/x"));
        assert!(m("app/*/db", "app/prod/db"));
        assert!(!m("app/*/db", "app/prod/eu/db"));
        assert!(m("db-*", "db-main"));
        assert!(!m("db-*", "db-a/b"));
        assert!(m("app/*", "app/"));
        assert!(!m("app/*", "other/db"));
    }

    #[test]
    fn double_star_crosses_segments() {
        assert!(m("app/**", "app/a/b/c"));
        assert!(m("**", "anything/at/all"));
        assert!(m("app/**/db", "app/x/y/db"));
        assert!(!m("app/**", "app"));
        assert!(!m("app/**", "apps/x"));
    }

    #[test]
    fn literal_patterns_match_exactly() {
        assert!(m("prod/db", "prod/db"));
        assert!(!m("prod/db", "prod/db2"));
        assert!(!m("prod/db", "prod/d"));
        assert!(m("a+b=c@d.e", "a+b=c@d.e"));
    }

    #[test]
    fn names_are_checked_and_decoded() {
        assert_eq!(parse_name("app%2Fdb").unwrap(), "app/db");
        assert_eq!(parse_name("app/db").unwrap(), "app/db");
        for (raw, needle) in [
            ("app%2F..%2Fx", "traversal"),
            ("..", "traversal"),
            ("a/./b", "traversal"),
            ("a%00b", "NUL"),
            ("a%0Ab", "control"),
            ("a%1Fb", "control"),
            ("a%20b", "' '"),
            ("a//b", "empty path segment"),
            ("arn:aws:secretsmanager:x", "ARN"),
            ("%FF", "UTF-8"),
        ] {
            let e = parse_name(raw).unwrap_err();
            assert!(e.to_string().contains(needle), "{raw}: {e}");
        }
        assert!(parse_name(&"a".repeat(513)).is_err());
        assert!(parse_name(&"a".repeat(512)).is_ok());
    }
}
