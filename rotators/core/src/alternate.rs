//! Alternating users, as AWS's templates name them: `<user>` and
//! `<user>_clone`, used in turn, so the previous login keeps working.

use secrecy::SecretString;

use crate::{RotatorError, SecretJson};

pub const CLONE_SUFFIX: &str = "_clone";

/// The other user of the pair: `<user>_clone` for `<user>`, and back.
/// `check` validates a new `_clone` name against the engine's own limits.
pub fn other_user(
    user: &str,
    check: impl FnOnce(&str) -> Result<(), RotatorError>,
) -> Result<String, RotatorError> {
    if let Some(base) = user.strip_suffix(CLONE_SUFFIX) {
        if !base.is_empty() {
            return Ok(base.to_owned());
        }
    }
    let alt = format!("{user}{CLONE_SUFFIX}");
    check(&alt)?;
    Ok(alt)
}

/// createSecret for a database secret: the current JSON with the new
/// password and, for alternating users, `username` set to `next_user`.
/// Every other field is kept.
pub fn pending_db_value(
    current: &SecretString,
    new_password: &SecretString,
    next_user: Option<&str>,
) -> Result<SecretString, RotatorError> {
    let mut json = SecretJson::parse(current)?;
    if let Some(user) = next_user {
        json.set_str("username", user);
    }
    json.set_password(new_password);
    Ok(json.to_secret())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn toggles_and_checks() {
        let ok = |_: &str| Ok(());
        assert_eq!(other_user("app", ok).unwrap(), "app_clone");
        assert_eq!(other_user("app_clone", ok).unwrap(), "app");
        assert_eq!(other_user("_clone", ok).unwrap(), "_clone_clone");
        let err = other_user("app", |_| Err(RotatorError::invalid("too long"))).unwrap_err();
        assert!(err.to_string().contains("too long"));
    }

    #[test]
    fn pending_keeps_other_fields() {
        let cur = SecretString::from(r#"{"username":"u","password":"p","x":1}"#);
        let out = pending_db_value(&cur, &"n".into(), Some("u_clone")).unwrap();
        let v: serde_json::Value = serde_json::from_str(out.expose_secret()).unwrap();
        assert_eq!(
            (
                v["username"].as_str(),
                v["password"].as_str(),
                v["x"].as_i64()
            ),
            (Some("u_clone"), Some("n"), Some(1))
        );
    }
}
