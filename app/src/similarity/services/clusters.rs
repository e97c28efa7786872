//! Near-duplicate clusters: the prompts an organization sent in a time
//! range, grouped when they are the same request reworded, ranked by what
//! the group cost or by how often it was sent.
//!
//! Grouping is leader clustering over the index's vectors: prompts are
//! taken costliest (or most sent) first, and each joins the most similar
//! leader at [`NEAR_DUPLICATE`] or more, or leads a cluster of its own. So a
//! cluster's representative is its costliest prompt, and every member is
//! near it (not merely near another member, which would chain unrelated
//! prompts together).

use std::collections::{BTreeSet, HashMap, HashSet};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};
use uuid::Uuid;

use super::{
    abuse::NEAR_DUPLICATE,
    embed::{dot_kernel, norm_i8},
    index::PromptIndex,
    logs::time_window,
    search::{embedding_progress, read_prompts},
    semantic_worker::SemanticTier,
};
use crate::{
    error::{AppError, Result},
    platform::services::transaction::{placeholder, placeholder_list},
    similarity::types::{ClusterQuery, PromptCluster, PromptClusters},
};

const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 100;
/// Prompts grouped at most, the costliest (or most sent) of the range:
/// grouping compares each with every leader, so it grows with the square.
pub const MAX_GROUPED: usize = 2_000;
/// Services named per cluster.
const MAX_SERVICES: usize = 10;

/// What ranks prompts and clusters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rank {
    Cost,
    Count,
}

/// One prompt's figures in the range.
#[derive(Clone, Copy, Debug)]
struct RangeFigures {
    prompt_id: i64,
    span_count: i64,
    cost_nanos: i64,
}

/// `org_id`'s near-duplicate clusters for `query`.
pub async fn clusters(
    db: &DatabaseConnection,
    index: &PromptIndex,
    semantic: Option<&SemanticTier>,
    org_id: Uuid,
    query: &ClusterQuery,
) -> Result<PromptClusters> {
    let (since, until) = time_window(&query.since, &query.until)?;
    let rank = match query.sort.as_deref().unwrap_or("cost") {
        "cost" | "" => Rank::Cost,
        "count" => Rank::Count,
        other => {
            return Err(AppError::BadRequest(format!(
                "`sort` must be cost or count, got {other:?}"
            )));
        }
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::BadRequest(format!("`limit` must be 1 to {MAX_LIMIT}")));
    }
    let progress = embedding_progress(db, index, semantic, org_id).await?;

    let mut figures = range_figures(db, org_id, since, until).await?;
    let prompts_in_range = figures.len() as i64;
    figures.sort_by(|a, b| {
        measure(rank, b)
            .cmp(&measure(rank, a))
            .then_with(|| a.prompt_id.cmp(&b.prompt_id))
    });
    figures.truncate(MAX_GROUPED);
    // Prompts not yet in this replica's index cannot be compared: left out.
    let vectors: Vec<(RangeFigures, Vec<i8>)> = figures
        .into_iter()
        .filter_map(|figures| Some((figures, index.vector_of(org_id, figures.prompt_id)?)))
        .collect();
    let prompts_grouped = vectors.len() as i64;
    let (vectors, groups) = tokio::task::spawn_blocking(move || {
        let groups = group(
            &vectors
                .iter()
                .map(|(_, vector)| vector.as_slice())
                .collect::<Vec<_>>(),
        );
        (vectors, groups)
    })
    .await
    .map_err(|err| AppError::Internal(err.to_string()))?;

    let mut ranked: Vec<Group> = groups
        .into_iter()
        .filter(|group| group.members.len() > 1)
        .map(|group| Group::summed(group, &vectors))
        .collect();
    ranked.sort_by(|a, b| {
        b.measure(rank)
            .cmp(&a.measure(rank))
            .then_with(|| a.leader_id.cmp(&b.leader_id))
    });
    ranked.truncate(limit as usize);

    let leaders = read_prompts(
        db,
        org_id,
        &ranked.iter().map(|group| group.leader_id).collect::<Vec<_>>(),
    )
    .await?
    .into_iter()
    .collect::<HashMap<_, _>>();
    let members: Vec<i64> = ranked
        .iter()
        .flat_map(|group| group.member_ids.iter().copied())
        .collect();
    let senders = senders(db, org_id, since, until, &members).await?;
    let clusters = ranked
        .into_iter()
        .filter_map(|group| {
            // A prompt deleted since the index loaded it is left out.
            let leader = leaders.get(&group.leader_id)?;
            let mut services = BTreeSet::new();
            let mut end_users = HashSet::new();
            for member in &group.member_ids {
                if let Some((member_services, member_users)) = senders.get(member) {
                    services.extend(member_services.iter().cloned());
                    end_users.extend(member_users.iter().cloned());
                }
            }
            Some(PromptCluster {
                text: leader.text.clone(),
                prompt_hash: leader.prompt_hash.clone(),
                example_trace_id: leader.example_trace_id.clone(),
                example_span_id: leader.example_span_id.clone(),
                prompts: group.member_ids.len() as i64,
                span_count: group.span_count,
                cost_nanos: group.cost_nanos,
                services: services.into_iter().take(MAX_SERVICES).collect(),
                end_users: end_users.len() as i64,
                min_score: group.min_score,
            })
        })
        .collect();
    Ok(PromptClusters {
        clusters,
        prompts_in_range,
        prompts_grouped,
        threshold: NEAR_DUPLICATE,
        progress,
    })
}

fn measure(rank: Rank, figures: &RangeFigures) -> i64 {
    match rank {
        Rank::Cost => figures.cost_nanos,
        Rank::Count => figures.span_count,
    }
}

/// A cluster as grouping left it: positions in the ranked prompt list,
/// the leader first, and each member's similarity to the leader.
#[derive(Clone, Debug, PartialEq)]
struct Cluster {
    members: Vec<(usize, f32)>,
}

/// Leader clustering of `vectors` (ranked best first): each joins the most
/// similar earlier leader at [`NEAR_DUPLICATE`] or more, or leads.
fn group(vectors: &[&[i8]]) -> Vec<Cluster> {
    let dot = dot_kernel();
    let norms: Vec<f32> = vectors.iter().map(|vector| norm_i8(vector)).collect();
    let mut clusters: Vec<Cluster> = Vec::new();
    for (position, vector) in vectors.iter().enumerate() {
        let norm = norms[position];
        let best = clusters
            .iter()
            .enumerate()
            .filter(|_| norm > 0.0)
            .map(|(cluster, leader)| {
                let leader = leader.members[0].0;
                let leader_norm = norms[leader];
                let score = if leader_norm == 0.0 {
                    0.0
                } else {
                    dot(vector, vectors[leader]) as f32 / (norm * leader_norm)
                };
                (cluster, score)
            })
            .filter(|(_, score)| *score >= NEAR_DUPLICATE)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((cluster, score)) => clusters[cluster].members.push((position, score)),
            None => clusters.push(Cluster {
                members: vec![(position, 1.0)],
            }),
        }
    }
    clusters
}

/// A cluster with its figures summed.
struct Group {
    leader_id: i64,
    member_ids: Vec<i64>,
    span_count: i64,
    cost_nanos: i64,
    min_score: f32,
}

impl Group {
    fn summed(cluster: Cluster, prompts: &[(RangeFigures, Vec<i8>)]) -> Self {
        let figures = |position: usize| prompts[position].0;
        Group {
            leader_id: figures(cluster.members[0].0).prompt_id,
            member_ids: cluster
                .members
                .iter()
                .map(|(position, _)| figures(*position).prompt_id)
                .collect(),
            span_count: cluster
                .members
                .iter()
                .map(|(position, _)| figures(*position).span_count)
                .sum(),
            cost_nanos: cluster
                .members
                .iter()
                .map(|(position, _)| figures(*position).cost_nanos)
                .sum(),
            min_score: cluster
                .members
                .iter()
                .map(|(_, score)| *score)
                .fold(1.0, f32::min),
        }
    }

    fn measure(&self, rank: Rank) -> i64 {
        match rank {
            Rank::Cost => self.cost_nanos,
            Rank::Count => self.span_count,
        }
    }
}

/// Each prompt `org_id` sent in `[since, until)`, with its spans and their cost there.
async fn range_figures(
    db: &DatabaseConnection,
    org_id: Uuid,
    since: i64,
    until: i64,
) -> Result<Vec<RangeFigures>> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT prompt_spans.prompt_id, COUNT(*) AS span_count, CAST(COALESCE(SUM(spans.cost_nanos), 0) AS BIGINT) AS cost_nanos \
         FROM prompt_spans JOIN spans ON spans.id = prompt_spans.span_row_id \
         WHERE prompt_spans.org_id = {} AND prompt_spans.start_time_ns >= {} AND prompt_spans.start_time_ns < {} \
         GROUP BY prompt_spans.prompt_id",
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, 3)
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [org_id.into(), since.into(), until.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(RangeFigures {
                prompt_id: row.try_get("", "prompt_id")?,
                span_count: row.try_get("", "span_count")?,
                cost_nanos: row.try_get("", "cost_nanos")?,
            })
        })
        .collect()
}

/// The services and end users (or sessions) that sent each of `prompt_ids` in the range.
async fn senders(
    db: &DatabaseConnection,
    org_id: Uuid,
    since: i64,
    until: i64,
    prompt_ids: &[i64],
) -> Result<HashMap<i64, (BTreeSet<String>, HashSet<String>)>> {
    let mut senders: HashMap<i64, (BTreeSet<String>, HashSet<String>)> = HashMap::new();
    if prompt_ids.is_empty() {
        return Ok(senders);
    }
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT prompt_id, service_name, end_user FROM prompt_spans \
         WHERE org_id = {} AND start_time_ns >= {} AND start_time_ns < {} AND prompt_id IN ({}) \
         GROUP BY prompt_id, service_name, end_user",
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, 3),
        placeholder_list(backend, 4, prompt_ids.len())
    );
    let mut values: Vec<Value> = vec![org_id.into(), since.into(), until.into()];
    values.extend(prompt_ids.iter().map(|id| Value::from(*id)));
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    for row in &rows {
        let entry = senders.entry(row.try_get("", "prompt_id")?).or_default();
        entry.0.insert(row.try_get("", "service_name")?);
        if let Some(end_user) = row.try_get::<Option<String>>("", "end_user")? {
            entry.1.insert(end_user);
        }
    }
    Ok(senders)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::similarity::services::embed::text_vector as vector;

    #[test]
    fn rewordings_join_the_costliest_and_others_stand_alone() {
        let prompts = [
            vector("Refactor the payment service to use async IO"),
            vector("Write a limerick about a cat who codes in Rust"),
            vector("refactor the payment service to use async io please"),
            vector("Refactor the payment service to use async IO, please!"),
            vector("Summarize the quarterly sales report for the board"),
        ];
        let clusters = group(&prompts.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let positions: Vec<Vec<usize>> = clusters
            .iter()
            .map(|cluster| cluster.members.iter().map(|(position, _)| *position).collect())
            .collect();
        assert_eq!(positions, [vec![0, 2, 3], vec![1], vec![4]]);
        assert_eq!(clusters[0].members[0].1, 1.0, "the leader is itself");
        assert!(
            clusters[0].members[1..]
                .iter()
                .all(|(_, score)| *score >= NEAR_DUPLICATE)
        );
    }

    #[test]
    fn an_empty_prompt_leads_alone() {
        let zero = vec![0i8; crate::similarity::services::embed::DIMENSIONS];
        let clusters = group(&[&zero, &zero]);
        assert_eq!(clusters.len(), 2);
    }
}
