//! The organization's month against its limits and budgets in force, as the
//! Costs page and `GET /api/v1/usage` show it. Apart from `limits`, which
//! the application state holds and so must not read it.

use uuid::Uuid;

use crate::{error::Result, governance::types::LimitsReport, state::AppState};

/// `org_id`'s month so far against the limits and budgets of its policy in force.
pub async fn report_for(state: &AppState, org_id: Uuid) -> Result<LimitsReport> {
    let policy = state.policies.policy_for(&state.db, org_id).await?;
    state
        .limits
        .report(
            &state.db,
            &policy.limits,
            &policy.budgets,
            org_id,
            crate::platform::services::now_ns(),
        )
        .await
}
