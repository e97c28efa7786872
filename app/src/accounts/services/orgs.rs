//! Organizations (tenants), their members and invitations, and the one
//! permission check every org-scoped operation goes through.

use chrono::{Duration, Utc};
use entity::{invitation, membership, organization, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    accounts::{
        services::users,
        types::{Action, CreatedInvitation, InvitationInfo, MemberInfo, OrgSummary, Role, role_allows},
    },
    error::{AppError, Result},
    platform::services::{
        audit::{self, Actor, RequestOrigin},
        secrets,
        transaction::begin_write,
    },
};

pub const MAX_ORG_NAME_LEN: usize = 100;
/// How long an invitation link stays valid.
pub const INVITATION_TTL: Duration = Duration::days(7);
/// Invitation secrets: `spi_` and 32 alphanumerics (190 bits).
pub const INVITATION_PREFIX: &str = "spi_";

pub fn validate_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_ORG_NAME_LEN {
        return Err(AppError::BadRequest(format!(
            "the organization name must have 1 to {MAX_ORG_NAME_LEN} characters"
        )));
    }
    Ok(name.to_owned())
}

fn parse_role(stored: &str) -> Result<Role> {
    Role::parse(stored).ok_or_else(|| AppError::Internal(format!("unknown role {stored:?} in the database")))
}

/// The caller's role in `org_id`, if they are a member.
pub async fn role_of(db: &impl ConnectionTrait, org_id: Uuid, user_id: Uuid) -> Result<Option<Role>> {
    let row = membership::Entity::find_by_id((org_id, user_id)).one(db).await?;
    row.map(|row| parse_role(&row.role)).transpose()
}

/// The permission check: the caller's role in `org_id` if it allows `action`.
/// Non-members get 404, so an organization's existence is not revealed.
/// The organization's name.
pub async fn name(db: &impl ConnectionTrait, org_id: Uuid) -> Result<String> {
    organization::Entity::find_by_id(org_id)
        .one(db)
        .await?
        .map(|org| org.name)
        .ok_or(AppError::NotFound("organization"))
}

pub async fn authorize(
    db: &impl ConnectionTrait,
    org_id: Uuid,
    user_id: Uuid,
    action: Action,
) -> Result<Role> {
    let role = role_of(db, org_id, user_id)
        .await?
        .ok_or(AppError::NotFound("organization"))?;
    if role_allows(role, action) {
        Ok(role)
    } else {
        Err(AppError::Forbidden(
            "your role in this organization does not allow this",
        ))
    }
}

pub async fn create(db: &DatabaseConnection, actor: &Actor, name: &str) -> Result<OrgSummary> {
    let name = validate_name(name)?;
    let txn = db.begin().await?;
    let org = insert_with_owner(&txn, name, actor).await?;
    txn.commit().await?;
    Ok(OrgSummary {
        id: org.id,
        name: org.name,
        role: Role::Owner,
        created_at: org.created_at.to_rfc3339(),
    })
}

/// Inserts an organization with `owner` as its owner, the first entry of
/// its audit log; run it in a transaction.
pub(crate) async fn insert_with_owner(
    conn: &sea_orm::DatabaseTransaction,
    name: String,
    owner: &Actor,
) -> Result<organization::Model> {
    let owner_id = owner.acting_user()?;
    let now = Utc::now();
    let org = organization::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(name),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    membership::ActiveModel {
        org_id: Set(org.id),
        user_id: Set(owner_id),
        role: Set(Role::Owner.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    audit::record(
        conn,
        org.id,
        owner,
        "organization.created",
        format!("created the organization “{}”", org.name),
        json!({ "after": { "name": org.name, "owner": owner.name } }),
    )
    .await?;
    Ok(org)
}

pub async fn list_for_user(db: &DatabaseConnection, user_id: Uuid) -> Result<Vec<OrgSummary>> {
    let rows = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .find_also_related(organization::Entity)
        .order_by_asc(membership::Column::CreatedAt)
        .all(db)
        .await?;
    rows.into_iter()
        .filter_map(|(membership, org)| org.map(|org| (membership, org)))
        .map(|(membership, org)| {
            Ok(OrgSummary {
                id: org.id,
                name: org.name,
                role: parse_role(&membership.role)?,
                created_at: org.created_at.to_rfc3339(),
            })
        })
        .collect()
}

/// Deletes an organization and, by cascade, everything it owns, its audit
/// log included; the deletion itself goes to the server's log.
pub async fn delete(db: &DatabaseConnection, org_id: Uuid, actor: &Actor) -> Result<()> {
    authorize(db, org_id, actor.acting_user()?, Action::ManageOrganization).await?;
    organization::Entity::delete_by_id(org_id).exec(db).await?;
    tracing::info!(
        %org_id,
        actor = %actor.name,
        client_address = ?actor.origin.client_address,
        "organization deleted"
    );
    Ok(())
}

pub async fn list_members(db: &DatabaseConnection, org_id: Uuid) -> Result<Vec<MemberInfo>> {
    let rows = membership::Entity::find()
        .filter(membership::Column::OrgId.eq(org_id))
        .find_also_related(user::Entity)
        .order_by_asc(membership::Column::CreatedAt)
        .all(db)
        .await?;
    rows.into_iter()
        .filter_map(|(membership, user)| user.map(|user| (membership, user)))
        .map(|(membership, user)| {
            Ok(MemberInfo {
                user_id: user.id,
                email: user.email,
                role: parse_role(&membership.role)?,
                joined_at: membership.created_at.to_rfc3339(),
            })
        })
        .collect()
}

async fn owner_count(db: &impl ConnectionTrait, org_id: Uuid) -> Result<u64> {
    Ok(membership::Entity::find()
        .filter(membership::Column::OrgId.eq(org_id))
        .filter(membership::Column::Role.eq(Role::Owner.as_str()))
        .count(db)
        .await?)
}

/// Changes a member's role. Admins manage roles below owner; only owners
/// grant or take away ownership; the last owner cannot be demoted.
pub async fn change_role(
    db: &DatabaseConnection,
    org_id: Uuid,
    acting: &Actor,
    target: Uuid,
    new_role: Role,
) -> Result<MemberInfo> {
    let actor = acting.acting_user()?;
    let txn = begin_write(db).await?;
    authorize(&txn, org_id, actor, Action::ManageMembers).await?;
    let current = role_of(&txn, org_id, target)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    if current == Role::Owner || new_role == Role::Owner {
        authorize(&txn, org_id, actor, Action::ManageOwners).await?;
    }
    if current == Role::Owner && new_role != Role::Owner && owner_count(&txn, org_id).await? <= 1 {
        return Err(AppError::Conflict(
            "an organization needs an owner: make someone else owner first".to_owned(),
        ));
    }
    let row = membership::Entity::find_by_id((org_id, target))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    let mut active: membership::ActiveModel = row.into();
    active.role = Set(new_role.as_str().to_owned());
    let row = active.update(&txn).await?;
    let user = users::find_user(&txn, target)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    if current != new_role {
        audit::record(
            &txn,
            org_id,
            acting,
            "member.role_changed",
            format!(
                "changed {}'s role from {} to {}",
                user.email,
                current.as_str(),
                new_role.as_str()
            ),
            json!({
                "user_id": target,
                "email": user.email,
                "before": { "role": current.as_str() },
                "after": { "role": new_role.as_str() },
            }),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(MemberInfo {
        user_id: target,
        email: user.email,
        role: new_role,
        joined_at: row.created_at.to_rfc3339(),
    })
}

/// Removes a member, or lets a member leave (`actor == target`). The last
/// owner can do neither.
pub async fn remove_member(
    db: &DatabaseConnection,
    org_id: Uuid,
    acting: &Actor,
    target: Uuid,
) -> Result<()> {
    let actor = acting.acting_user()?;
    let txn = begin_write(db).await?;
    if actor == target {
        authorize(&txn, org_id, actor, Action::Read).await?;
    } else {
        authorize(&txn, org_id, actor, Action::ManageMembers).await?;
    }
    let role = role_of(&txn, org_id, target)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    if role == Role::Owner {
        if actor != target {
            authorize(&txn, org_id, actor, Action::ManageOwners).await?;
        }
        if owner_count(&txn, org_id).await? <= 1 {
            return Err(AppError::Conflict(
                "the last owner cannot leave: make someone else owner or delete the organization".to_owned(),
            ));
        }
    }
    membership::Entity::delete_by_id((org_id, target))
        .exec(&txn)
        .await?;
    let email = users::find_user(&txn, target)
        .await?
        .map(|user| user.email)
        .unwrap_or_default();
    let (action, summary) = if actor == target {
        (
            "member.left",
            format!("left the organization (was {})", role.as_str()),
        )
    } else {
        (
            "member.removed",
            format!("removed {email} (was {})", role.as_str()),
        )
    };
    audit::record(
        &txn,
        org_id,
        acting,
        action,
        summary,
        json!({ "user_id": target, "email": email, "before": { "role": role.as_str() }, "after": null }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

fn invitation_info(row: &invitation::Model, invited_by: Option<String>) -> Result<InvitationInfo> {
    Ok(InvitationInfo {
        id: row.id,
        email: row.email.clone(),
        role: parse_role(&row.role)?,
        invited_by,
        created_at: row.created_at.to_rfc3339(),
        expires_at: row.expires_at.to_rfc3339(),
    })
}

/// Creates a single-use invitation; the secret is returned once, in the link.
pub async fn invite(
    db: &DatabaseConnection,
    org_id: Uuid,
    acting: &Actor,
    email: &str,
    role: Role,
    public_url: &str,
) -> Result<CreatedInvitation> {
    let inviter = acting.acting_user()?;
    authorize(db, org_id, inviter, Action::ManageMembers).await?;
    if role == Role::Owner {
        authorize(db, org_id, inviter, Action::ManageOwners).await?;
    }
    let email = users::normalize_email(email)?;
    let already_member = membership::Entity::find()
        .filter(membership::Column::OrgId.eq(org_id))
        .inner_join(user::Entity)
        .filter(user::Column::Email.eq(&email))
        .count(db)
        .await?
        > 0;
    if already_member {
        return Err(AppError::Conflict(format!("{email} is already a member")));
    }
    let token = format!("{INVITATION_PREFIX}{}", secrets::random_alphanumeric(32));
    let now = Utc::now();
    let txn = db.begin().await?;
    let row = invitation::ActiveModel {
        id: Set(Uuid::new_v4()),
        org_id: Set(org_id),
        email: Set(email),
        role: Set(role.as_str().to_owned()),
        token_hash: Set(secrets::sha256_hex(&token)),
        invited_by: Set(Some(inviter)),
        created_at: Set(now),
        expires_at: Set(now + INVITATION_TTL),
        accepted_at: Set(None),
        accepted_by: Set(None),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        org_id,
        acting,
        "invitation.created",
        format!("invited {} as {}", row.email, row.role),
        json!({
            "invitation_id": row.id,
            "after": { "email": row.email, "role": row.role, "expires_at": row.expires_at.to_rfc3339() },
        }),
    )
    .await?;
    txn.commit().await?;
    let inviter_email = users::find_user(db, inviter).await?.map(|user| user.email);
    Ok(CreatedInvitation {
        invitation: invitation_info(&row, inviter_email)?,
        link: format!("{public_url}/invitations/{token}"),
        token,
    })
}

/// Invitations not yet accepted and not expired.
pub async fn list_pending_invitations(db: &DatabaseConnection, org_id: Uuid) -> Result<Vec<InvitationInfo>> {
    let rows = invitation::Entity::find()
        .filter(invitation::Column::OrgId.eq(org_id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
        .order_by_desc(invitation::Column::CreatedAt)
        .all(db)
        .await?;
    let mut infos = Vec::with_capacity(rows.len());
    for row in &rows {
        let inviter = match row.invited_by {
            Some(id) => users::find_user(db, id).await?.map(|user| user.email),
            None => None,
        };
        infos.push(invitation_info(row, inviter)?);
    }
    Ok(infos)
}

pub async fn revoke_invitation(
    db: &DatabaseConnection,
    org_id: Uuid,
    acting: &Actor,
    id: Uuid,
) -> Result<()> {
    authorize(db, org_id, acting.acting_user()?, Action::ManageMembers).await?;
    let txn = begin_write(db).await?;
    let open = invitation::Entity::find()
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::OrgId.eq(org_id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("invitation"))?;
    invitation::Entity::delete_by_id(open.id).exec(&txn).await?;
    audit::record(
        &txn,
        org_id,
        acting,
        "invitation.revoked",
        format!("revoked the invitation of {} as {}", open.email, open.role),
        json!({ "invitation_id": open.id, "before": { "email": open.email, "role": open.role }, "after": null }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The invitation a secret names, if it can still be accepted.
pub async fn find_open_invitation(db: &DatabaseConnection, token: &str) -> Result<invitation::Model> {
    let row = invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(secrets::sha256_hex(token)))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("invitation"))?;
    if row.accepted_at.is_some() {
        return Err(AppError::Conflict(
            "this invitation has already been used".to_owned(),
        ));
    }
    if row.expires_at <= Utc::now() {
        return Err(AppError::Conflict(
            "this invitation has expired; ask for a new one".to_owned(),
        ));
    }
    Ok(row)
}

/// Redeems an invitation for `user`: single use, before expiry, and only by
/// the invited email.
pub async fn accept_invitation(
    db: &DatabaseConnection,
    token: &str,
    user: &user::Model,
    origin: RequestOrigin,
) -> Result<OrgSummary> {
    let row = find_open_invitation(db, token).await?;
    if row.email != user.email {
        return Err(AppError::Forbidden(
            "this invitation was sent to another email address",
        ));
    }
    let role = parse_role(&row.role)?;
    let now = Utc::now();
    let txn = db.begin().await?;
    // The conditional update makes redemption single-use even under races.
    let claimed = invitation::Entity::update_many()
        .col_expr(
            invitation::Column::AcceptedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            invitation::Column::AcceptedBy,
            sea_orm::sea_query::Expr::value(user.id),
        )
        .filter(invitation::Column::Id.eq(row.id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(AppError::Conflict(
            "this invitation has already been used".to_owned(),
        ));
    }
    if role_of(&txn, row.org_id, user.id).await?.is_some() {
        return Err(AppError::Conflict(
            "you are already a member of this organization".to_owned(),
        ));
    }
    membership::ActiveModel {
        org_id: Set(row.org_id),
        user_id: Set(user.id),
        role: Set(row.role.clone()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        row.org_id,
        &Actor::user(user, origin),
        "member.joined",
        format!("joined as {} by invitation", row.role),
        json!({ "invitation_id": row.id, "user_id": user.id, "email": user.email, "after": { "role": row.role } }),
    )
    .await?;
    txn.commit().await?;
    let org = organization::Entity::find_by_id(row.org_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("organization"))?;
    Ok(OrgSummary {
        id: org.id,
        name: org.name,
        role,
        created_at: org.created_at.to_rfc3339(),
    })
}
