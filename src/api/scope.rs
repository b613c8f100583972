//! Authorization: scopes from the token, deny by default.
//!
//! | scope                      | grants                       |
//! |----------------------------|------------------------------|
//! | `secrets:read:<pattern>`   | reading matching secrets     |
//! | `secrets:rotate:<pattern>` | rotating matching secrets    |
//! | `secrets:list`             | listing                      |

use serde_json::Value;

use super::names::Pattern;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Grant {
    Read(Pattern),
    Rotate(Pattern),
    List,
}

/// Who called, and what their token grants. Unknown scopes are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub sub: String,
    grants: Vec<Grant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Rotate,
}

impl Principal {
    /// Scopes from `scope` (space-separated string) and `scp` (array, or a
    /// string as some providers send it).
    pub fn from_claims(sub: String, scope: Option<&Value>, scp: Option<&Value>) -> Self {
        let mut raw: Vec<&str> = Vec::new();
        for v in [scope, scp].into_iter().flatten() {
            match v {
                Value::String(s) => raw.extend(s.split_whitespace()),
                Value::Array(items) => raw.extend(items.iter().filter_map(Value::as_str)),
                _ => {}
            }
        }
        let grants = raw.into_iter().filter_map(parse_grant).collect();
        Self { sub, grants }
    }

    pub fn may(&self, action: Action, name: &str) -> bool {
        self.grants.iter().any(|g| match (g, action) {
            (Grant::Read(p), Action::Read) | (Grant::Rotate(p), Action::Rotate) => p.matches(name),
            _ => false,
        })
    }

    pub fn may_list(&self) -> bool {
        self.grants.contains(&Grant::List)
    }
}

fn parse_grant(s: &str) -> Option<Grant> {
    if s == "secrets:list" {
        return Some(Grant::List);
    }
    if let Some(p) = s.strip_prefix("secrets:read:") {
        return Pattern::new(p).ok().map(Grant::Read);
    }
    if let Some(p) = s.strip_prefix("secrets:rotate:") {
        return Pattern::new(p).ok().map(Grant::Rotate);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scopes_come_from_scope_and_scp() {
        let p = Principal::from_claims(
            "u".into(),
            Some(&json!("secrets:read:app/* other secrets:list")),
            Some(&json!(["secrets:rotate:db/**"])),
        );
        assert!(p.may(Action::Read, "app/x"));
        assert!(!p.may(Action::Read, "app/x/y"));
        assert!(!p.may(Action::Rotate, "app/x"));
        assert!(p.may(Action::Rotate, "db/a/b"));
        assert!(!p.may(Action::Read, "db/a/b"));
        assert!(p.may_list());
    }

    #[test]
    fn nothing_is_granted_by_default() {
        let p = Principal::from_claims("u".into(), None, Some(&json!(42)));
        assert!(!p.may(Action::Read, "x"));
        assert!(!p.may_list());
        let p = Principal::from_claims(
            "u".into(),
            Some(&json!("secrets:read: secrets:readx")),
            None,
        );
        assert!(!p.may(Action::Read, "x"));
    }
}
