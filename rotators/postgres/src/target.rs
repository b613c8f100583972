//! The PostgreSQL fields of a secret in AWS's template format.

use rotation_core::{ExposeSecret, RotatorError, SecretJson, SecretString};

/// PostgreSQL's identifier limit (NAMEDATALEN - 1).
pub const MAX_IDENTIFIER: usize = 63;

/// Where and as whom to log in. Holds no password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub dbname: String,
    /// `Some(true)`: TLS required; `Some(false)`: plain; `None`: try TLS first.
    pub ssl: Option<bool>,
    /// The secret holding an admin login: alternating-users rotation.
    pub masterarn: Option<String>,
}

impl Target {
    pub fn from_json(json: &SecretJson) -> Result<Self, RotatorError> {
        if let Some(engine) = json.str_field("engine")? {
            if !matches!(engine, "postgres" | "postgresql") {
                return Err(RotatorError::invalid(
                    "field 'engine' must be 'postgres' for the PostgreSQL rotator",
                ));
            }
        }
        let username = json.required_str("username")?.to_owned();
        check_identifier(&username)?;
        Ok(Self {
            host: json.required_str("host")?.to_owned(),
            port: json.port(5432)?,
            username,
            dbname: json.str_field("dbname")?.unwrap_or("postgres").to_owned(),
            ssl: json.ssl()?,
            masterarn: json.masterarn()?,
        })
    }

    /// Host and port, for error messages (no credentials).
    pub fn endpoint(&self) -> String {
        format!("postgres {}:{}", self.host, self.port)
    }

    pub fn same_server(&self, other: &Target) -> bool {
        self.host.eq_ignore_ascii_case(&other.host) && self.port == other.port
    }
}

/// A secret's login: target plus password.
pub struct Login {
    pub target: Target,
    pub password: SecretString,
}

impl Login {
    pub fn parse(raw: &SecretString) -> Result<Self, RotatorError> {
        let json = SecretJson::parse(raw)?;
        let password = json.password()?;
        if password.expose_secret().contains('\0') {
            return Err(RotatorError::invalid(
                "field 'password' contains a NUL byte",
            ));
        }
        Ok(Self {
            target: Target::from_json(&json)?,
            password,
        })
    }
}

/// A role name we can quote and PostgreSQL can store.
pub fn check_identifier(name: &str) -> Result<(), RotatorError> {
    if name.contains('\0') {
        return Err(RotatorError::invalid(
            "field 'username' contains a NUL byte",
        ));
    }
    if name.len() > MAX_IDENTIFIER {
        return Err(RotatorError::invalid(format!(
            "field 'username' is longer than PostgreSQL's {MAX_IDENTIFIER}-byte limit"
        )));
    }
    Ok(())
}

/// The suffix of the alternate user.
pub use rotation_core::alternate::CLONE_SUFFIX;

/// `<user>` -> `<user>_clone` and back, as AWS's multi-user templates do,
/// refusing a clone name beyond PostgreSQL's identifier limit.
pub fn alternate_username(user: &str) -> Result<String, RotatorError> {
    rotation_core::alternate::other_user(user, |alt| {
        if alt.len() > MAX_IDENTIFIER {
            return Err(RotatorError::invalid(format!(
                "field 'username' with '{CLONE_SUFFIX}' appended would exceed PostgreSQL's {MAX_IDENTIFIER}-byte limit"
            )));
        }
        Ok(())
    })
}

/// Quotes an identifier: `"` around, inner `"` doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal: `'` around, inner `'` doubled. Only ever used for
/// values without backslashes under `standard_conforming_strings`, and never
/// for a plaintext password.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(
            quote_ident(r#"x"; DROP ROLE y;--"#),
            r#""x""; DROP ROLE y;--""#
        );
        assert_eq!(quote_literal("a'b"), "'a''b'");
    }

    #[test]
    fn alternate_names() {
        assert_eq!(alternate_username("app").unwrap(), "app_clone");
        assert_eq!(alternate_username("app_clone").unwrap(), "app");
        assert_eq!(alternate_username("_clone").unwrap(), "_clone_clone");
        assert_eq!(alternate_username(&"a".repeat(57)).unwrap().len(), 63);
        let err = alternate_username(&"a".repeat(58)).unwrap_err().to_string();
        assert!(err.contains("63"), "{err}");
    }

    #[test]
    fn parse_defaults_and_errors() {
        let l = Login::parse(&SecretString::from(
            r#"{"engine":"postgres","host":"h","username":"u","password":"CANARY-pg"}"#,
        ))
        .unwrap();
        assert_eq!(l.target.port, 5432);
        assert_eq!(l.target.dbname, "postgres");
        assert_eq!(l.target.ssl, None);
        for bad in [
            r#"{"engine":"mysql","host":"h","username":"u","password":"CANARY-pg"}"#,
            r#"{"engine":"postgres","username":"u","password":"CANARY-pg"}"#,
            r#"{"engine":"postgres","host":"h","password":"CANARY-pg"}"#,
            r#"{"engine":"postgres","host":"h","username":"u"}"#,
            r#"{"engine":"postgres","host":"h","username":"u","password":"CANARY-pg","port":70000}"#,
        ] {
            let err = Login::parse(&SecretString::from(bad))
                .err()
                .unwrap()
                .to_string();
            assert!(!err.contains("CANARY"), "{err}");
        }
        let long = format!(
            r#"{{"engine":"postgres","host":"h","username":"{}","password":"p"}}"#,
            "a".repeat(64)
        );
        assert!(Login::parse(&SecretString::from(long)).is_err());
    }
}
