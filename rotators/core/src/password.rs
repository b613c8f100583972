//! Password policy and generator.
//!
//! The policy mirrors Secrets Manager's `GetRandomPassword` parameters and the
//! environment variables of AWS's rotation templates; the generator runs in
//! process on the operating system's CSPRNG, so no API round trip is needed.

use std::collections::BTreeMap;

use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use rand::{Rng, TryRngCore};
use secrecy::SecretString;

use crate::RotatorError;

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
/// The punctuation set of `GetRandomPassword`.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/// What AWS's rotation templates exclude by default.
pub const DEFAULT_EXCLUDE_CHARACTERS: &str = ":/@\"'\\";
pub const DEFAULT_LENGTH: usize = 32;
/// `GetRandomPassword`'s maximum.
pub const MAX_LENGTH: usize = 4096;

/// Tag prefix for per-secret overrides, e.g. `secrets-rotation:password-length`.
pub const TAG_PREFIX: &str = "secrets-rotation:";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub length: usize,
    pub exclude_characters: String,
    pub exclude_numbers: bool,
    pub exclude_punctuation: bool,
    pub exclude_uppercase: bool,
    pub exclude_lowercase: bool,
    pub include_space: bool,
    pub require_each_included_type: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            length: DEFAULT_LENGTH,
            exclude_characters: DEFAULT_EXCLUDE_CHARACTERS.to_owned(),
            exclude_numbers: false,
            exclude_punctuation: false,
            exclude_uppercase: false,
            exclude_lowercase: false,
            include_space: false,
            require_each_included_type: true,
        }
    }
}

fn parse_bool(name: &str, raw: &str) -> Result<bool, RotatorError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(RotatorError::Config(format!(
            "{name} must be true or false"
        ))),
    }
}

impl PasswordPolicy {
    /// Reads the templates' variables (`PASSWORD_LENGTH`, `EXCLUDE_CHARACTERS`,
    /// `EXCLUDE_NUMBERS`, `EXCLUDE_PUNCTUATION`, `EXCLUDE_UPPERCASE`,
    /// `EXCLUDE_LOWERCASE`, `REQUIRE_EACH_INCLUDED_TYPE`, plus `INCLUDE_SPACE`)
    /// through `get`, so tests need not touch the process environment.
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Result<Self, RotatorError> {
        let mut p = Self::default();
        p.apply(|key| get(key))?;
        p.validate()?;
        Ok(p)
    }

    pub fn from_env() -> Result<Self, RotatorError> {
        Self::from_env_with(|k| std::env::var(k).ok())
    }

    /// Overrides from the secret's tags, e.g. `secrets-rotation:password-length`,
    /// `secrets-rotation:exclude-characters`, `secrets-rotation:exclude-punctuation`.
    pub fn with_tags(&self, tags: &BTreeMap<String, String>) -> Result<Self, RotatorError> {
        let mut p = self.clone();
        p.apply(|env_name| {
            let tag = format!(
                "{TAG_PREFIX}{}",
                env_name.to_ascii_lowercase().replace('_', "-")
            );
            tags.get(&tag).cloned()
        })?;
        p.validate()?;
        Ok(p)
    }

    fn apply(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), RotatorError> {
        if let Some(v) = get("PASSWORD_LENGTH") {
            self.length = v.trim().parse().map_err(|_| {
                RotatorError::Config("PASSWORD_LENGTH must be a whole number".into())
            })?;
        }
        if let Some(v) = get("EXCLUDE_CHARACTERS") {
            self.exclude_characters = v;
        }
        let flags: [(&str, &mut bool); 6] = [
            ("EXCLUDE_NUMBERS", &mut self.exclude_numbers),
            ("EXCLUDE_PUNCTUATION", &mut self.exclude_punctuation),
            ("EXCLUDE_UPPERCASE", &mut self.exclude_uppercase),
            ("EXCLUDE_LOWERCASE", &mut self.exclude_lowercase),
            ("INCLUDE_SPACE", &mut self.include_space),
            (
                "REQUIRE_EACH_INCLUDED_TYPE",
                &mut self.require_each_included_type,
            ),
        ];
        for (name, slot) in flags {
            if let Some(v) = get(name) {
                *slot = parse_bool(name, &v)?;
            }
        }
        Ok(())
    }

    /// The character classes left after exclusions, each non-empty.
    fn classes(&self) -> Vec<Vec<char>> {
        let mut sets: Vec<&str> = Vec::new();
        if !self.exclude_lowercase {
            sets.push(LOWER);
        }
        if !self.exclude_uppercase {
            sets.push(UPPER);
        }
        if !self.exclude_numbers {
            sets.push(DIGITS);
        }
        if !self.exclude_punctuation {
            sets.push(PUNCTUATION);
        }
        if self.include_space {
            sets.push(" ");
        }
        sets.into_iter()
            .map(|s| {
                s.chars()
                    .filter(|c| !self.exclude_characters.contains(*c))
                    .collect::<Vec<_>>()
            })
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Rejects a policy that cannot produce a password.
    pub fn validate(&self) -> Result<(), RotatorError> {
        if self.length == 0 || self.length > MAX_LENGTH {
            return Err(RotatorError::Config(format!(
                "PASSWORD_LENGTH must be between 1 and {MAX_LENGTH}"
            )));
        }
        let classes = self.classes();
        if classes.is_empty() {
            return Err(RotatorError::Config(
                "the password policy excludes every character".into(),
            ));
        }
        if self.require_each_included_type && classes.len() > self.length {
            return Err(RotatorError::Config(format!(
                "PASSWORD_LENGTH {} is shorter than the {} character types REQUIRE_EACH_INCLUDED_TYPE demands",
                self.length,
                classes.len()
            )));
        }
        Ok(())
    }

    /// A new password from the OS CSPRNG.
    pub fn generate(&self) -> Result<SecretString, RotatorError> {
        self.validate()?;
        let classes = self.classes();
        let all: Vec<char> = classes.iter().flatten().copied().collect();
        let mut rng = OsRng.unwrap_err();
        let mut chars: Vec<char> = Vec::with_capacity(self.length);
        if self.require_each_included_type {
            for class in &classes {
                chars.push(class[rng.random_range(0..class.len())]);
            }
        }
        while chars.len() < self.length {
            chars.push(all[rng.random_range(0..all.len())]);
        }
        chars.shuffle(&mut rng);
        let out: String = chars.iter().collect();
        // Overwrite the scratch buffer before it is freed.
        chars.iter_mut().for_each(|c| *c = '\0');
        Ok(SecretString::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn default_policy_excludes_template_characters() {
        let p = PasswordPolicy::default();
        for _ in 0..200 {
            let pw = p.generate().unwrap();
            let s = pw.expose_secret();
            assert_eq!(s.chars().count(), 32);
            assert!(!s.chars().any(|c| ":/@\"'\\ ".contains(c)), "bad char");
            assert!(s.chars().any(|c| c.is_ascii_lowercase()));
            assert!(s.chars().any(|c| c.is_ascii_uppercase()));
            assert!(s.chars().any(|c| c.is_ascii_digit()));
            assert!(s.chars().any(|c| c.is_ascii_punctuation()));
        }
    }

    #[test]
    fn env_and_tags_override() {
        let env = |k: &str| match k {
            "PASSWORD_LENGTH" => Some("12".to_owned()),
            "EXCLUDE_PUNCTUATION" => Some("true".to_owned()),
            _ => None,
        };
        let p = PasswordPolicy::from_env_with(env).unwrap();
        assert_eq!(p.length, 12);
        let pw = p.generate().unwrap();
        assert!(pw
            .expose_secret()
            .chars()
            .all(|c| c.is_ascii_alphanumeric()));
        let tags = BTreeMap::from([
            (
                "secrets-rotation:password-length".to_owned(),
                "8".to_owned(),
            ),
            (
                "secrets-rotation:exclude-numbers".to_owned(),
                "true".to_owned(),
            ),
        ]);
        let t = p.with_tags(&tags).unwrap();
        let pw = t.generate().unwrap();
        assert_eq!(pw.expose_secret().len(), 8);
        assert!(pw.expose_secret().chars().all(|c| c.is_ascii_alphabetic()));
    }

    #[test]
    fn impossible_policies_are_config_errors() {
        let all_out = PasswordPolicy {
            exclude_numbers: true,
            exclude_punctuation: true,
            exclude_uppercase: true,
            exclude_lowercase: true,
            ..Default::default()
        };
        assert!(matches!(all_out.validate(), Err(RotatorError::Config(_))));
        let too_short = PasswordPolicy {
            length: 3,
            ..Default::default()
        };
        assert!(too_short.validate().is_err());
        let zero = PasswordPolicy {
            length: 0,
            ..Default::default()
        };
        assert!(zero.generate().is_err());
        let only_excluded = PasswordPolicy {
            exclude_numbers: true,
            exclude_punctuation: true,
            exclude_uppercase: true,
            exclude_characters: LOWER.to_owned(),
            ..Default::default()
        };
        assert!(only_excluded.validate().is_err());
        let bad = PasswordPolicy::from_env_with(|k| (k == "PASSWORD_LENGTH").then(|| "abc".into()));
        assert!(bad.unwrap_err().to_string().contains("PASSWORD_LENGTH"));
        let bad =
            PasswordPolicy::from_env_with(|k| (k == "EXCLUDE_NUMBERS").then(|| "maybe".into()));
        assert!(bad.unwrap_err().to_string().contains("EXCLUDE_NUMBERS"));
    }

    #[test]
    fn space_can_be_included() {
        let p = PasswordPolicy {
            include_space: true,
            exclude_punctuation: true,
            length: 64,
            ..Default::default()
        };
        for _ in 0..20 {
            assert!(p.generate().unwrap().expose_secret().contains(' '));
        }
    }
}
