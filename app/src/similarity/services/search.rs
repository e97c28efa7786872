//! Similar-prompt search: the query (a text, or a request span's prompt)
//! embedded like every prompt, the organization's nearest prompts found in
//! the index, and their figures read back from the database (which also
//! drops prompts deleted since they were indexed).

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};
use uuid::Uuid;

use super::{
    abuse::AbuseGuard,
    embed::text_vector,
    index::PromptIndex,
    semantic_worker::SemanticTier,
    text::{normalize, user_input},
    worker,
};
use crate::{
    error::{AppError, Result},
    platform::services::transaction::{placeholder, placeholder_list},
    similarity::types::{EmbeddingProgress, SimilarPrompt, SimilarityResults, SimilaritySearch},
    telemetry::services::span_store::{get_span, parse_time},
};

const DEFAULT_K: u32 = 10;
const MAX_K: u32 = 100;
/// Candidates read from the index per prompt asked for, so that a time
/// range still leaves enough.
const CANDIDATES_PER_RESULT: usize = 4;

/// Runs `search` over `org_id`'s prompts.
pub async fn search(
    db: &DatabaseConnection,
    index: &PromptIndex,
    semantic: Option<&SemanticTier>,
    org_id: Uuid,
    search: &SimilaritySearch,
) -> Result<SimilarityResults> {
    let k = search.k.unwrap_or(DEFAULT_K);
    if !(1..=MAX_K).contains(&k) {
        return Err(AppError::BadRequest(format!("`k` must be 1 to {MAX_K}")));
    }
    let min_score = search.min_score.unwrap_or(0.0);
    if !(-1.0..=1.0).contains(&min_score) {
        return Err(AppError::BadRequest("`min_score` must be -1 to 1".into()));
    }
    let since = search.since.as_deref().filter(|text| !text.is_empty());
    let until = search.until.as_deref().filter(|text| !text.is_empty());
    let since_ns = since
        .map(|text| parse_time("since", text))
        .transpose()?
        .unwrap_or(i64::MIN);
    let until_ns = until
        .map(|text| parse_time("until", text))
        .transpose()?
        .unwrap_or(i64::MAX);
    let query = query_text(db, org_id, search).await?;
    // Read before the scan, so that the progress reported never claims
    // prompts the scan did not see (the index grows while it runs).
    let progress = embedding_progress(db, index, semantic, org_id).await?;
    let index_ready = index.is_ready();
    let serving = semantic.filter(|_| progress.semantic.as_ref().is_some_and(|tier| tier.serving));
    let (scanned, vector) = match serving {
        Some(tier) => {
            let tier = tier.clone();
            let scanned = tier.index.clone();
            // A forward pass of the model: CPU work, off the async threads.
            let vector = tokio::task::spawn_blocking(move || tier.query_vector(&query))
                .await
                .map_err(|err| AppError::Internal(err.to_string()))?
                .map_err(|err| AppError::Internal(err.to_string()))?;
            (scanned, vector)
        }
        None => (index.clone(), text_vector(&query)),
    };
    let embedder = scanned.embedder().to_owned();
    // A large organization's scan takes milliseconds of CPU: off the async threads.
    let hits = tokio::task::spawn_blocking(move || {
        scanned.search(org_id, &vector, k as usize * CANDIDATES_PER_RESULT, min_score)
    })
    .await
    .map_err(|err| AppError::Internal(err.to_string()))?;
    let scores: HashMap<i64, f32> = hits.iter().map(|hit| (hit.prompt_id, hit.score)).collect();
    let mut prompts = read_prompts(
        db,
        org_id,
        &hits.iter().map(|hit| hit.prompt_id).collect::<Vec<_>>(),
    )
    .await?
    .into_iter()
    .filter(|(_, prompt)| prompt.last_seen_ns >= since_ns && prompt.first_seen_ns < until_ns)
    .map(|(id, mut prompt)| {
        prompt.score = scores.get(&id).copied().unwrap_or_default();
        prompt
    })
    .collect::<Vec<_>>();
    prompts.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.prompt_hash.cmp(&b.prompt_hash))
    });
    prompts.truncate(k as usize);
    Ok(SimilarityResults {
        prompts,
        embedder,
        index_ready,
        progress,
    })
}

/// How far the background embedding has come for `org_id`: the prompt
/// worker over the spans, and the semantic tier over the prompts.
pub async fn embedding_progress(
    db: &impl ConnectionTrait,
    index: &PromptIndex,
    semantic: Option<&SemanticTier>,
    org_id: Uuid,
) -> Result<EmbeddingProgress> {
    let worker = worker::progress(db).await?;
    Ok(EmbeddingProgress {
        spans_behind: (worker.newest_span - worker.position).max(0),
        indexed_prompts: index.len(org_id) as i64,
        semantic: semantic.map(|tier| tier.progress(org_id, index)),
    })
}

/// The text a search compares: its own, or the user input of a span's prompt.
async fn query_text(db: &DatabaseConnection, org_id: Uuid, search: &SimilaritySearch) -> Result<String> {
    match (&search.text, &search.trace_id, &search.span_id) {
        (Some(text), None, None) => {
            if normalize(text).is_empty() {
                return Err(AppError::BadRequest("`text` is empty".into()));
            }
            Ok(text.clone())
        }
        (None, Some(trace_id), Some(span_id)) => span_input(db, org_id, trace_id, span_id, "compare").await,
        _ => Err(AppError::BadRequest(
            "give either `text`, or both `trace_id` and `span_id`".into(),
        )),
    }
}

/// The user input of one of the organization's spans, for what `purpose`
/// names in the error when it has none (no user turn, or content hashed
/// or not kept).
pub async fn span_input(
    db: &DatabaseConnection,
    org_id: Uuid,
    trace_id: &str,
    span_id: &str,
    purpose: &str,
) -> Result<String> {
    let span = get_span(db, org_id, trace_id, span_id).await?;
    let captured = span.details["policy"]["capture"].as_str().unwrap_or("full") == "full";
    span.prompt
        .filter(|_| captured)
        .and_then(|prompt| user_input(&prompt))
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "the span has no prompt to {purpose} (no user input, or its content was not kept in full)"
            ))
        })
}

/// The prompts with these ids that belong to `org_id`. Read by id alone
/// and kept to the organization here: with the organization in the query,
/// SQLite walks all of the organization's prompts by its index instead of
/// looking up the few ids.
pub(super) async fn read_prompts(
    db: &DatabaseConnection,
    org_id: Uuid,
    ids: &[i64],
) -> Result<Vec<(i64, SimilarPrompt)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let values: Vec<Value> = ids.iter().map(|id| Value::from(*id)).collect();
    let sql = format!(
        "SELECT id, org_id, prompt_hash, text, span_count, first_seen_ns, last_seen_ns, cost_nanos, example_trace_id, \
         example_span_id FROM prompts WHERE id IN ({})",
        placeholder_list(backend, 1, ids.len())
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut prompts = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<Uuid>("", "org_id")? != org_id {
            continue;
        }
        prompts.push((
            row.try_get("", "id")?,
            SimilarPrompt {
                prompt_hash: row.try_get("", "prompt_hash")?,
                text: row.try_get("", "text")?,
                score: 0.0,
                span_count: row.try_get("", "span_count")?,
                first_seen_ns: row.try_get("", "first_seen_ns")?,
                last_seen_ns: row.try_get("", "last_seen_ns")?,
                cost_nanos: row.try_get("", "cost_nanos")?,
                example_trace_id: row.try_get("", "example_trace_id")?,
                example_span_id: row.try_get("", "example_span_id")?,
            },
        ));
    }
    Ok(prompts)
}

/// Prompt vectors read per query while loading the index.
const LOAD_BATCH: i64 = 20_000;
/// How often the index looks for prompts embedded since.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Loads the indexes (the hash tier's, and the semantic tier's where a
/// model is configured) from the database without holding up readiness:
/// the server serves meanwhile, searches say `index_ready: false`. Then
/// adds the prompts any replica's workers embed, drops those deleted, and
/// reloads the abuse patterns whenever they change, until `stop`.
pub async fn follow_prompts(
    db: DatabaseConnection,
    indexes: Vec<PromptIndex>,
    guard: AbuseGuard,
    stop: tokio_util::sync::CancellationToken,
) {
    use crate::platform::services::metrics::{JobOutcome, job_pass};
    const JOB: &str = "prompt_index";

    let mut deletions = Deletions::default();
    loop {
        let mut failed = false;
        if let Err(err) = guard.reload_if_changed(&db).await {
            failed = true;
            tracing::warn!(%err, "abuse patterns: reloading failed; retrying");
        }
        if let Err(err) = deletions.forget_deleted(&db, &indexes).await {
            failed = true;
            tracing::warn!(%err, "prompt index: reading deleted prompts failed; retrying");
        }
        let mut more = false;
        for index in &indexes {
            match load_after(&db, index).await {
                Ok(loaded) if loaded as i64 == LOAD_BATCH => more = true,
                Ok(_) => index.set_ready(),
                Err(err) => {
                    failed = true;
                    tracing::warn!(%err, embedder = index.embedder(), "prompt index: loading new prompts failed; retrying")
                }
            }
        }
        job_pass(
            JOB,
            match (failed, more) {
                (true, _) => JobOutcome::Error,
                (false, true) => JobOutcome::Behind,
                (false, false) => JobOutcome::Ok,
            },
        );
        if more {
            continue;
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(FOLLOW_POLL) => {}
        }
    }
}

/// How far back each look at `deleted_prompts` reads again: a deletion
/// committed after a later one (two removals at once) is still seen.
const DELETION_OVERLAP_NS: i64 = 60 * 1_000_000_000;

/// What the index has forgotten of `deleted_prompts`.
#[derive(Default)]
struct Deletions {
    /// Deletions applied within the overlap, by id, with their time.
    applied: HashMap<i64, i64>,
    /// The newest deletion time seen.
    newest_ns: i64,
}

impl Deletions {
    /// Removes the prompts deleted since the last look (by any replica)
    /// from the index.
    async fn forget_deleted(&mut self, db: &impl ConnectionTrait, indexes: &[PromptIndex]) -> Result<()> {
        let backend = db.get_database_backend();
        let since = self.newest_ns.saturating_sub(DELETION_OVERLAP_NS);
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT id, org_id, prompt_id, deleted_at_ns FROM deleted_prompts WHERE deleted_at_ns >= {}",
                    placeholder(backend, 1)
                ),
                [since.into()],
            ))
            .await?;
        let mut removed: HashMap<Uuid, Vec<i64>> = HashMap::new();
        for row in &rows {
            let id: i64 = row.try_get("", "id")?;
            let deleted_at_ns: i64 = row.try_get("", "deleted_at_ns")?;
            if self.applied.insert(id, deleted_at_ns).is_none() {
                removed
                    .entry(row.try_get("", "org_id")?)
                    .or_default()
                    .push(row.try_get("", "prompt_id")?);
            }
            self.newest_ns = self.newest_ns.max(deleted_at_ns);
        }
        for (org_id, mut prompt_ids) in removed {
            prompt_ids.sort_unstable();
            for index in indexes {
                index.remove_prompts(org_id, &prompt_ids);
            }
        }
        let since = self.newest_ns.saturating_sub(DELETION_OVERLAP_NS);
        self.applied.retain(|_, deleted_at_ns| *deleted_at_ns >= since);
        Ok(())
    }
}

/// Adds up to [`LOAD_BATCH`] prompts embedded after the newest indexed one.
async fn load_after(db: &impl ConnectionTrait, index: &PromptIndex) -> Result<usize> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT v.prompt_id AS id, p.org_id, v.vector FROM prompt_vectors v \
         JOIN prompts p ON p.id = v.prompt_id \
         WHERE v.embedder = {} AND v.prompt_id > {} ORDER BY v.prompt_id LIMIT {}",
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, 3),
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                index.embedder().into(),
                index.loaded_up_to().into(),
                LOAD_BATCH.into(),
            ],
        ))
        .await?;
    let mut prompts = Vec::with_capacity(rows.len());
    for row in &rows {
        let vector: Vec<u8> = row.try_get("", "vector")?;
        prompts.push((
            row.try_get::<Uuid>("", "org_id")?,
            row.try_get::<i64>("", "id")?,
            vector.into_iter().map(|byte| byte as i8).collect(),
        ));
    }
    let loaded = prompts.len();
    index.add(prompts);
    Ok(loaded)
}
