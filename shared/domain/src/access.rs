//! Who may do what: tokens carry a role in one project or in every project (the
//! server), and every request needs a permission that role grants.
//!
//! | role | may |
//! | --- | --- |
//! | `viewer` | read |
//! | `promoter` | read; promote, approve, abort, verify, change aliases, refresh |
//! | `admin` | all of that; apply and delete specs, manage the project's tokens |
//!
//! A role on the server holds in every project; the server's `admin` also creates
//! projects, applies cluster-scoped objects and manages every token.

use serde::{Deserialize, Serialize};
use sha2::Digest;

/// A role a token holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Promoter,
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Result<Role, String> {
        match text {
            "viewer" => Ok(Role::Viewer),
            "promoter" => Ok(Role::Promoter),
            "admin" => Ok(Role::Admin),
            other => Err(format!("role {} is not one of viewer, promoter, admin", crate::excerpt::quoted(other))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Promoter => "promoter",
            Role::Admin => "admin",
        }
    }

    /// The least role granting `permission`.
    pub fn least_for(permission: Permission) -> Role {
        match permission {
            Permission::Read => Role::Viewer,
            Permission::Promote => Role::Promoter,
            Permission::Administer => Role::Admin,
        }
    }
}

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Permission {
    /// See specs, freight, promotions, events.
    Read,
    /// Promote, approve, abort, verify, change an alias, refresh a warehouse.
    Promote,
    /// Apply and delete specs; manage tokens.
    Administer,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Promote => "promote",
            Permission::Administer => "administer",
        }
    }
}

/// Where a role holds: one project, or the whole server.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    Server,
    Project(String),
}

/// A role in a scope: what a token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub role: Role,
    pub scope: Scope,
}

/// What a request is about: one project, or the server itself (creating projects,
/// cluster-scoped objects, server tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    Server,
    Project(&'a str),
}

impl Grant {
    /// Whether this grant allows `permission` on `target`.
    pub fn allows(&self, permission: Permission, target: Target<'_>) -> bool {
        let in_scope = match (&self.scope, target) {
            (Scope::Server, _) => true,
            (Scope::Project(mine), Target::Project(wanted)) => mine == wanted,
            (Scope::Project(_), Target::Server) => false,
        };
        in_scope && self.role >= Role::least_for(permission)
    }

    /// How a person reads the grant: `promoter in project demo`, `admin of the server`.
    pub fn describe(&self) -> String {
        match &self.scope {
            Scope::Server => format!("{} of the server", self.role.as_str()),
            Scope::Project(project) => format!("{} in project {project}", self.role.as_str()),
        }
    }
}

/// Why `grant` does not allow `permission` on `target`, naming what would.
pub fn refusal(token: &str, grant: &Grant, permission: Permission, target: Target<'_>) -> String {
    let needed = Role::least_for(permission).as_str();
    let place = match target {
        Target::Server => "of the server".to_owned(),
        Target::Project(project) => format!("in project {project}"),
    };
    format!(
        "token {} ({}) may not {} {place}: that needs the {needed} role {place}",
        crate::excerpt::quoted(token),
        grant.describe(),
        permission.as_str()
    )
}

/// How tokens are stored: the hex SHA-256 of the token, never the token.
pub fn token_hash(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The prefix of every token Lading makes, so a token is recognisable in a leak scan.
pub const TOKEN_PREFIX: &str = "lading_";

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(role: Role, scope: Scope) -> Grant {
        Grant { role, scope }
    }

    #[test]
    fn each_role_allows_its_permissions_in_its_project_only() {
        let demo = Target::Project("demo");
        let other = Target::Project("other");
        let viewer = grant(Role::Viewer, Scope::Project("demo".into()));
        assert!(viewer.allows(Permission::Read, demo));
        assert!(!viewer.allows(Permission::Promote, demo));
        assert!(!viewer.allows(Permission::Read, other));
        let promoter = grant(Role::Promoter, Scope::Project("demo".into()));
        assert!(promoter.allows(Permission::Promote, demo));
        assert!(!promoter.allows(Permission::Administer, demo));
        let admin = grant(Role::Admin, Scope::Project("demo".into()));
        assert!(admin.allows(Permission::Administer, demo));
        assert!(!admin.allows(Permission::Administer, Target::Server), "a project admin is not the server's");
    }

    #[test]
    fn server_roles_hold_in_every_project() {
        let viewer = grant(Role::Viewer, Scope::Server);
        assert!(viewer.allows(Permission::Read, Target::Project("any")));
        assert!(!viewer.allows(Permission::Promote, Target::Project("any")));
        let admin = grant(Role::Admin, Scope::Server);
        assert!(admin.allows(Permission::Administer, Target::Server));
        assert!(admin.allows(Permission::Promote, Target::Project("any")));
    }

    #[test]
    fn a_refusal_names_the_token_what_it_holds_and_what_is_needed() {
        let viewer = grant(Role::Viewer, Scope::Project("demo".into()));
        let message = refusal("ci", &viewer, Permission::Promote, Target::Project("demo"));
        assert_eq!(
            message,
            "token \"ci\" (viewer in project demo) may not promote in project demo: that needs the promoter role in project demo"
        );
    }

    #[test]
    fn tokens_are_stored_by_hash() {
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(Role::parse("owner").unwrap_err().contains("viewer, promoter, admin"));
    }
}
