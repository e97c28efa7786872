//! Accounts vocabulary shared by server and browser: roles, the actions they
//! permit, token scopes, and the shapes the REST API and server functions
//! return. The permission table lives here so the UI can hide what the
//! server would refuse; the server is still the one that enforces it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A member's role in an organization, from least to most powerful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == value)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a member may try to do in an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// See spans, traces, costs, members, tokens' metadata and policies.
    Read,
    /// Mint an `ingest`-scoped token owned by oneself, and revoke one's own tokens.
    MintOwnIngestToken,
    /// Mint tokens of any scope, list and revoke everyone's tokens.
    ManageTokens,
    /// Invite members, change roles below owner, remove members.
    ManageMembers,
    /// Edit policies, prices and budgets.
    ManagePolicies,
    /// Read the audit log and check its chain.
    ReadAudit,
    /// Grant or take away the owner role.
    ManageOwners,
    /// Rename or delete the organization.
    ManageOrganization,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::Read,
        Action::MintOwnIngestToken,
        Action::ManageTokens,
        Action::ManageMembers,
        Action::ManagePolicies,
        Action::ReadAudit,
        Action::ManageOwners,
        Action::ManageOrganization,
    ];
}

/// The permission table: the one place that says which role may do what.
pub fn role_allows(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Owner => true,
        Role::Admin => matches!(
            action,
            Read | MintOwnIngestToken | ManageTokens | ManageMembers | ManagePolicies | ReadAudit
        ),
        Role::Member => matches!(action, Read | MintOwnIngestToken),
        Role::Viewer => matches!(action, Read),
    }
}

/// What an API token may be used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum TokenScope {
    /// Send telemetry to the OTLP endpoints.
    Ingest,
    /// Read the organization's data through the REST API.
    Read,
    /// Ask the governance evaluate API about prompts before model calls (a gateway).
    Evaluate,
    /// Read the installation's Prometheus metrics (`GET /metrics`); only
    /// an instance administrator mints it, as the figures are the whole
    /// installation's.
    Metrics,
}

impl TokenScope {
    pub const ALL: [TokenScope; 4] = [
        TokenScope::Ingest,
        TokenScope::Read,
        TokenScope::Evaluate,
        TokenScope::Metrics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Ingest => "ingest",
            TokenScope::Read => "read",
            TokenScope::Evaluate => "evaluate",
            TokenScope::Metrics => "metrics",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == value)
    }
}

/// The signed-in user, as the UI and `GET /api/v1/me` see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserInfo {
    pub id: Uuid,
    pub email: String,
    pub instance_admin: bool,
    pub created_at: String,
}

/// An organization the caller belongs to, with the caller's role in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OrgSummary {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Me {
    pub user: UserInfo,
    pub organizations: Vec<OrgSummary>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberInfo {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
    pub joined_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InvitationInfo {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub invited_by: Option<String>,
    pub created_at: String,
    pub expires_at: String,
}

/// A new invitation: the only time its secret link is visible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedInvitation {
    pub invitation: InvitationInfo,
    /// The secret token, to be passed to `POST /api/v1/invitations/{token}/accept`.
    pub token: String,
    /// `{public URL}/invitations/{token}`: what the inviter copies and sends.
    pub link: String,
}

/// An API token's metadata; the secret itself is never stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the secret, to recognize it (`spk_AbCd1234`).
    pub prefix: String,
    pub scopes: Vec<TokenScope>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A freshly minted token: the only time its secret is visible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MintedToken {
    pub token: TokenInfo,
    pub secret: String,
}

/// The signed-in user and the organizations they can switch between.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: UserInfo,
    pub organizations: Vec<OrgSummary>,
    /// The organization the UI shows; `None` only for a user in no organization.
    pub active_org: Option<OrgSummary>,
    pub open_signup: bool,
    /// The zone the pages show times in.
    pub time_zone: crate::time_zone::DisplayZone,
}

/// A local path to go to after signing in: only paths on this site, so a
/// crafted link cannot send the user elsewhere (`//evil.example`, `https://…`).
pub fn safe_next(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// What an invitation link offers, shown before it is accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationPreview {
    pub organization: String,
    pub email: String,
    pub role: Role,
    pub expires_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_table() {
        use Action::*;
        let expect = |role: Role, allowed: &[Action]| {
            for action in Action::ALL {
                assert_eq!(
                    role_allows(role, action),
                    allowed.contains(&action),
                    "{role} {action:?}"
                );
            }
        };
        expect(Role::Owner, &Action::ALL);
        expect(
            Role::Admin,
            &[
                Read,
                MintOwnIngestToken,
                ManageTokens,
                ManageMembers,
                ManagePolicies,
                ReadAudit,
            ],
        );
        expect(Role::Member, &[Read, MintOwnIngestToken]);
        expect(Role::Viewer, &[Read]);
    }

    #[test]
    fn roles_and_scopes_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        for scope in TokenScope::ALL {
            assert_eq!(TokenScope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Role::parse("root"), None);
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Member && Role::Member > Role::Viewer);
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/traces/abc?span=1")), "/traces/abc?span=1");
        for hostile in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "evil",
            "/a\nb",
            "",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
