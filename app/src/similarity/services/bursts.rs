//! Bursts: one end user (or session) sending many near-duplicates of a
//! prompt in a short time, which a pattern cannot catch before anyone has
//! seen the prompt. A request span is flagged `burst` when, with the spans
//! of the same end user in the organization's window before it, at least
//! the organization's burst count of them sent a near-duplicate of its
//! prompt (index similarity at least [`NEAR_DUPLICATE`]).

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, Statement, Value};
use uuid::Uuid;

use super::{
    abuse::{AbuseGuard, Flag, FlagReason, NEAR_DUPLICATE},
    embed::{cosine_i8, norm_i8},
    index::PromptIndex,
};
use crate::{error::Result, platform::services::transaction::placeholder};

/// A request span of the batch, as the burst check sees it.
pub struct BurstCandidate<'a> {
    pub org_id: Uuid,
    pub end_user: &'a str,
    pub start_time_ns: i64,
    pub hash: &'a str,
    /// Its prompt's byte vector.
    pub vector: &'a [i8],
}

/// An earlier span of the same end user: when, and its prompt's vector.
struct Earlier {
    start_time_ns: i64,
    hash: String,
    vector: Vec<i8>,
}

/// The burst flags of `candidates` (in their order; `None` where no burst),
/// counting the spans already recorded and the candidates before each.
pub async fn check(
    db: &impl ConnectionTrait,
    index: &PromptIndex,
    guard: &AbuseGuard,
    candidates: &[BurstCandidate<'_>],
) -> Result<Vec<Option<Flag>>> {
    let mut flags = vec![None; candidates.len()];
    // Per end user: the batch's spans of them, in time order.
    let mut by_user: HashMap<(Uuid, &str), Vec<usize>> = HashMap::new();
    for (position, candidate) in candidates.iter().enumerate() {
        by_user
            .entry((candidate.org_id, candidate.end_user))
            .or_default()
            .push(position);
    }
    for ((org_id, end_user), mut positions) in by_user {
        let settings = guard.settings(org_id);
        positions.sort_by_key(|position| candidates[*position].start_time_ns);
        let first = candidates[positions[0]].start_time_ns;
        let last = candidates[positions[positions.len() - 1]].start_time_ns;
        let mut earlier = recorded(
            db,
            index,
            org_id,
            end_user,
            first - settings.burst_window_ns,
            last,
        )
        .await?;
        for position in positions {
            let candidate = &candidates[position];
            let vector = candidate.vector;
            let norm = norm_i8(vector);
            let since = candidate.start_time_ns - settings.burst_window_ns;
            let near: Vec<&Earlier> = earlier
                .iter()
                .filter(|span| span.start_time_ns >= since && span.start_time_ns <= candidate.start_time_ns)
                .filter(|span| cosine_i8(vector, norm, &span.vector, norm_i8(&span.vector)) >= NEAR_DUPLICATE)
                .collect();
            // Itself and the near-duplicates before it.
            if near.len() as i64 + 1 >= settings.burst_count {
                let first_near = near.iter().min_by_key(|span| span.start_time_ns);
                flags[position] = first_near.map(|span| Flag {
                    reason: FlagReason::Burst,
                    score: cosine_i8(vector, norm, &span.vector, norm_i8(&span.vector)),
                    matched_prompt_hash: span.hash.clone(),
                    pattern_id: None,
                    label: None,
                });
            }
            earlier.push(Earlier {
                start_time_ns: candidate.start_time_ns,
                hash: candidate.hash.to_owned(),
                vector: vector.to_vec(),
            });
        }
    }
    Ok(flags)
}

/// The end user's recorded spans from `since_ns` to `until_ns` whose
/// prompt the index holds (one embedded moments ago may not be there yet).
async fn recorded(
    db: &impl ConnectionTrait,
    index: &PromptIndex,
    org_id: Uuid,
    end_user: &str,
    since_ns: i64,
    until_ns: i64,
) -> Result<Vec<Earlier>> {
    let backend = db.get_database_backend();
    let values: [Value; 4] = [org_id.into(), end_user.into(), since_ns.into(), until_ns.into()];
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT ps.start_time_ns, ps.prompt_id, p.prompt_hash FROM prompt_spans ps \
                 JOIN prompts p ON p.id = ps.prompt_id \
                 WHERE ps.org_id = {} AND ps.end_user = {} AND ps.start_time_ns >= {} AND ps.start_time_ns <= {} \
                 ORDER BY ps.start_time_ns LIMIT 10000",
                placeholder(backend, 1),
                placeholder(backend, 2),
                placeholder(backend, 3),
                placeholder(backend, 4)
            ),
            values,
        ))
        .await?;
    let mut earlier = Vec::with_capacity(rows.len());
    for row in &rows {
        let prompt_id: i64 = row.try_get("", "prompt_id")?;
        if let Some(vector) = index.vector_of(org_id, prompt_id) {
            earlier.push(Earlier {
                start_time_ns: row.try_get("", "start_time_ns")?,
                hash: row.try_get("", "prompt_hash")?,
                vector,
            });
        }
    }
    Ok(earlier)
}
