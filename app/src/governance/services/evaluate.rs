//! The evaluate API's service: the organization's policy in force, prices
//! and abuse patterns from the caches, the decision, and its event handed
//! to the writer. Nothing here waits for the database once the caches are
//! warm.

use entity::governance_event;
use uuid::Uuid;

use super::{
    guardrails::{self, DecisionContext},
    limits::budgets::spent_hard_budgets,
};
use crate::{
    error::{AppError, Result},
    governance::types::{Decision, EvaluateRequest},
    state::AppState,
};

/// Who asked: an API token (a gateway) or a signed-in user (trying a prompt).
#[derive(Clone, Copy, Debug)]
pub struct Asker {
    pub token_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
}

/// Decides on `request` for `org_id` and records the decision.
pub async fn decide(
    state: &AppState,
    org_id: Uuid,
    asker: Asker,
    request: &EvaluateRequest,
) -> Result<Decision> {
    let policy = state.policies.policy_for(&state.db, org_id).await?;
    let pricing = state.prices.for_org(&state.db, org_id).await?;
    let now_ns = chrono::Utc::now()
        .timestamp_nanos_opt()
        .ok_or_else(|| AppError::Internal("the clock is past 2262".to_owned()))?;
    let spent_budgets = match policy.budgets.iter().any(|budget| budget.hard) {
        true => {
            let spend = state.limits.spend.month(&state.db, org_id, now_ns).await?;
            spent_hard_budgets(
                &policy.budgets,
                &spend,
                request.service.as_deref().map(str::trim),
                asker.token_id,
            )
        }
        false => Vec::new(),
    };
    let context = DecisionContext {
        org_id,
        ingest: &policy.ingest,
        guardrails: &policy.guardrails,
        pricing: &pricing,
        abuse: &state.abuse,
        spent_budgets: &spent_budgets,
        now_ns,
    };
    let evaluation = guardrails::evaluate(&context, request)?;
    let id = Uuid::now_v7();
    let reasons = serde_json::to_string(&evaluation.reasons)
        .map_err(|err| AppError::Internal(format!("decision reasons: {err}")))?;
    let name = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    state.governance_events.record(governance_event::Model {
        id,
        org_id,
        created_at_ns: now_ns,
        event_type: "evaluation".to_owned(),
        policy_version: policy.ingest.version,
        action: evaluation.action.as_str().to_owned(),
        reasons,
        model: Some(request.model.trim().to_owned()),
        routed_model: evaluation.model.clone(),
        end_user: name(&request.end_user),
        region: name(&request.region),
        service: name(&request.service),
        token_id: asker.token_id,
        user_id: asker.user_id,
        prompt_chars: i64::try_from(evaluation.prompt_chars).unwrap_or(i64::MAX),
        prompt_sha256: evaluation.prompt_sha256,
        estimated_cost_nanos: evaluation.estimated_cost_nanos,
    })?;
    Ok(Decision {
        decision_id: id.to_string(),
        action: evaluation.action,
        model: evaluation.model,
        redacted_prompt: evaluation.redacted_prompt,
        redacted_messages: evaluation.redacted_messages,
        reasons: evaluation.reasons,
        policy_version: policy.ingest.version,
        estimated_tokens: evaluation.estimated_tokens,
        estimated_cost_usd: evaluation.estimated_cost_nanos.map(|nanos| nanos as f64 / 1e9),
    })
}
