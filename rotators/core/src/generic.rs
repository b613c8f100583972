//! Generic secrets: API keys, tokens, signing keys with no target to update.
//!
//! A plain string gets a new random value; a JSON object gets its `password`
//! field replaced, everything else kept. Anything else is refused.

use async_trait::async_trait;
use secrecy::SecretString;

use crate::json::{classify, SecretShape};
use crate::{Rotator, RotatorError, SecretSource, StepContext};

#[derive(Debug, Default, Clone, Copy)]
pub struct GenericRotator;

/// Attempts at a plain value before the policy is called unusable.
const PLAIN_ATTEMPTS: usize = 64;

/// A new plain value that reads back as a plain string: a generated password
/// may start with `{` or `[`, and such a value would be taken for (broken)
/// JSON on the next read.
fn plain_value(ctx: &StepContext<'_>, first: SecretString) -> Result<SecretString, RotatorError> {
    let mut candidate = first;
    for _ in 0..PLAIN_ATTEMPTS {
        if matches!(classify(&candidate), Ok(SecretShape::Plain)) {
            return Ok(candidate);
        }
        candidate = ctx.policy.generate()?;
    }
    Err(RotatorError::Config(
        "the password policy only produces values that read as JSON; a plain secret needs letters or punctuation other than { and ["
            .into(),
    ))
}

#[async_trait]
impl Rotator for GenericRotator {
    fn name(&self) -> &'static str {
        "generic"
    }

    fn create_pending(
        &self,
        ctx: &StepContext<'_>,
        current: &SecretString,
        new_password: SecretString,
    ) -> Result<SecretString, RotatorError> {
        match classify(current)? {
            SecretShape::Plain => plain_value(ctx, new_password),
            SecretShape::Object(mut json) => {
                if !json.contains("password") {
                    return Err(RotatorError::invalid(
                        "a JSON secret needs a 'password' field for generic rotation",
                    ));
                }
                json.password()?;
                json.set_password(&new_password);
                Ok(json.to_secret())
            }
        }
    }

    async fn set(
        &self,
        _ctx: &StepContext<'_>,
        _current: &SecretString,
        _pending: &SecretString,
        _others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        // No external system holds a generic value.
        Ok(())
    }

    async fn test(
        &self,
        _ctx: &StepContext<'_>,
        _current: &SecretString,
        pending: &SecretString,
        _others: &dyn SecretSource,
    ) -> Result<(), RotatorError> {
        // The pending value must still have a shape we can rotate next time.
        classify(pending).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{classify, SecretShape};
    use crate::PasswordPolicy;
    use secrecy::ExposeSecret;

    fn ctx(policy: &PasswordPolicy) -> StepContext<'_> {
        StepContext {
            secret_id: "arn:test",
            token: "t",
            policy,
        }
    }

    #[test]
    fn plain_and_json() {
        let p = PasswordPolicy::default();
        let out = GenericRotator
            .create_pending(&ctx(&p), &"old-key".into(), "NEW".into())
            .unwrap();
        assert_eq!(out.expose_secret(), "NEW");
        let out = GenericRotator
            .create_pending(
                &ctx(&p),
                &r#"{"password":"x","user":"u"}"#.into(),
                "NEW".into(),
            )
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(out.expose_secret()).unwrap();
        assert_eq!(v["password"], "NEW");
        assert_eq!(v["user"], "u");
        let err = GenericRotator
            .create_pending(
                &ctx(&p),
                &r#"{"apikey":"SECRET-CANARY"}"#.into(),
                "NEW".into(),
            )
            .unwrap_err();
        assert!(err.to_string().contains("password"));
        assert!(!err.to_string().contains("SECRET-CANARY"));
        assert!(GenericRotator
            .create_pending(&ctx(&p), &"[1]".into(), "NEW".into())
            .is_err());
    }

    /// Every punctuation character except `{` and `[`.
    const PUNCT_BUT_BRACKETS: &str = "!\"#$%&'()*+,-./:;<=>?@\\]^_`|}~";

    #[test]
    fn a_plain_value_never_looks_like_json() {
        let p = PasswordPolicy::default();
        for looks_like_json in ["{abc", "[abc", "\"abc\""] {
            let out = GenericRotator
                .create_pending(&ctx(&p), &"old-key".into(), looks_like_json.into())
                .unwrap();
            assert_ne!(out.expose_secret(), looks_like_json);
            assert!(matches!(classify(&out), Ok(SecretShape::Plain)));
        }
        let digits_only = PasswordPolicy {
            exclude_lowercase: true,
            exclude_uppercase: true,
            exclude_punctuation: true,
            ..PasswordPolicy::default()
        };
        // Digits are an opaque value (a PIN), not JSON.
        let out = GenericRotator
            .create_pending(&ctx(&digits_only), &"1234".into(), "5678".into())
            .unwrap();
        assert_eq!(out.expose_secret(), "5678");
        let braces_only = PasswordPolicy {
            exclude_lowercase: true,
            exclude_uppercase: true,
            exclude_numbers: true,
            exclude_characters: PUNCT_BUT_BRACKETS.to_owned(),
            require_each_included_type: false,
            ..PasswordPolicy::default()
        };
        let err = GenericRotator
            .create_pending(&ctx(&braces_only), &"old-key".into(), "{[".into())
            .unwrap_err();
        assert_eq!(err.error_type(), "ConfigurationError");
    }
}
