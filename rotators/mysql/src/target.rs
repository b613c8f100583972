//! The MySQL / MariaDB fields of a secret in AWS's template format, and the
//! quoting of account names.

use rotation_core::{ExposeSecret, RotatorError, SecretJson, SecretString};

/// MariaDB's user-name limit (MySQL 8's is 32; the server refuses longer).
pub(crate) const MAX_USERNAME: usize = 80;
pub use rotation_core::alternate::CLONE_SUFFIX;

/// Where and as whom to log in. Holds no password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub dbname: Option<String>,
    /// `Some(true)`: TLS required; `Some(false)`: plain; `None`: TLS first.
    pub ssl: Option<bool>,
    pub masterarn: Option<String>,
}

impl Target {
    pub fn from_json(json: &SecretJson) -> Result<Self, RotatorError> {
        if let Some(engine) = json.str_field("engine")? {
            if !matches!(engine.to_ascii_lowercase().as_str(), "mysql" | "mariadb") {
                return Err(RotatorError::invalid(
                    "field 'engine' must be 'mysql' or 'mariadb' for the MySQL rotator",
                ));
            }
        }
        let username = json.required_str("username")?.to_owned();
        check_username(&username)?;
        Ok(Self {
            host: json.required_str("host")?.to_owned(),
            port: json.port(3306)?,
            username,
            dbname: json
                .str_field("dbname")?
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
            ssl: json.ssl()?,
            masterarn: json.masterarn()?,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("mysql {}:{}", self.host, self.port)
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

pub(crate) fn check_username(name: &str) -> Result<(), RotatorError> {
    if name.contains('\0') {
        return Err(RotatorError::invalid(
            "field 'username' contains a NUL byte",
        ));
    }
    if name.chars().count() > MAX_USERNAME {
        return Err(RotatorError::invalid(format!(
            "field 'username' is longer than {MAX_USERNAME} characters"
        )));
    }
    Ok(())
}

/// `<user>` -> `<user>_clone` and back, within the user-name limit.
pub fn alternate_username(user: &str) -> Result<String, RotatorError> {
    rotation_core::alternate::other_user(user, |alt| {
        if alt.chars().count() > MAX_USERNAME {
            return Err(RotatorError::invalid(format!(
                "field 'username' with '{CLONE_SUFFIX}' appended would exceed {MAX_USERNAME} characters"
            )));
        }
        Ok(())
    })
}

/// Backtick quoting: immune to `ANSI_QUOTES` and `NO_BACKSLASH_ESCAPES`.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// An account as `ALTER USER` wants it: `` `user`@`host` ``.
pub fn account(user: &str, host: &str) -> String {
    format!("{}@{}", quote_ident(user), quote_ident(host))
}

/// A string literal for a plaintext password. `no_backslash_escapes` is the
/// session's `sql_mode` flag; backslashes are doubled only without it.
pub(crate) fn quote_string(value: &str, no_backslash_escapes: bool) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' if !no_backslash_escapes => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `mysql_native_password`'s stored form: `*` + uppercase hex of
/// SHA1(SHA1(password)). Sending it means the plaintext never reaches the
/// server.
pub fn native_password_hash(password: &SecretString) -> String {
    use sha1::{Digest, Sha1};
    let stage1 = Sha1::digest(password.expose_secret().as_bytes());
    let stage2 = Sha1::digest(stage1);
    let mut out = String::with_capacity(41);
    out.push('*');
    for b in stage2 {
        out.push_str(&format!("{b:02X}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_hashes() {
        assert_eq!(account("a`b", "%"), "`a``b`@`%`");
        assert_eq!(quote_string(r"x'\y", false), r"'x''\\y'");
        assert_eq!(quote_string(r"x'\y", true), r"'x''\y'");
        // SELECT PASSWORD('password') on MariaDB.
        assert_eq!(
            native_password_hash(&SecretString::from("password")),
            "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
        );
        assert_eq!(alternate_username("app").unwrap(), "app_clone");
        assert_eq!(alternate_username("app_clone").unwrap(), "app");
        assert!(alternate_username(&"a".repeat(75)).is_err());
    }

    #[test]
    fn bad_secrets_name_the_field() {
        for (bad, word) in [
            (
                r#"{"engine":"postgres","host":"h","username":"u","password":"CANARY"}"#,
                "engine",
            ),
            (
                r#"{"engine":"mysql","username":"u","password":"CANARY"}"#,
                "host",
            ),
            (
                r#"{"engine":"mysql","host":"h","password":"CANARY"}"#,
                "username",
            ),
            (
                r#"{"engine":"mysql","host":"h","username":"u"}"#,
                "password",
            ),
        ] {
            let err = Login::parse(&SecretString::from(bad))
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains(word) && !err.contains("CANARY"), "{err}");
        }
        let ok = Login::parse(&SecretString::from(
            r#"{"engine":"mariadb","host":"h","username":"u","password":"p","port":"3307"}"#,
        ))
        .unwrap();
        assert_eq!(ok.target.port, 3307);
    }
}
