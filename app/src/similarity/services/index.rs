//! The in-memory vector index every replica keeps: per organization, the
//! byte vectors of its distinct prompts made by one embedder, searched
//! exactly by brute force (a dot product over 256 bytes vectorizes; see
//! BENCHMARKS.md for what a million prompts cost). Each replica loads it from the database in the
//! background at start and then follows new prompts by id, so a prompt
//! embedded by any replica's worker becomes searchable everywhere.

use std::{
    cmp::Ordering,
    collections::{BinaryHeap, HashMap},
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering as AtomicOrdering},
    },
};

use uuid::Uuid;

use super::embed::{DIMENSIONS, HASH_EMBEDDER, dot_kernel, norm_i8};

/// One organization's vectors, flat: prompt `i` is
/// `vectors[i * dimensions..(i + 1) * dimensions]`, and in an index with a
/// prefilter its coordinates' signs are `signs[i * words..(i + 1) * words]`.
#[derive(Default)]
struct OrgVectors {
    prompt_ids: Vec<i64>,
    norms: Vec<f32>,
    vectors: Vec<i8>,
    signs: Vec<u64>,
}

impl OrgVectors {
    fn push(&mut self, prompt_id: i64, norm: f32, vector: &[i8], prefilter: bool) {
        self.prompt_ids.push(prompt_id);
        self.norms.push(norm);
        self.vectors.extend_from_slice(vector);
        if prefilter {
            push_signs(&mut self.signs, vector);
        }
    }
}

/// Appends a vector's coordinates' signs, one bit each (set for positive).
fn push_signs(signs: &mut Vec<u64>, vector: &[i8]) {
    for chunk in vector.chunks(64) {
        signs.push(
            chunk
                .iter()
                .enumerate()
                .fold(0u64, |bits, (bit, value)| bits | (u64::from(*value > 0) << bit)),
        );
    }
}

/// A prompt found near a query, by cosine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub prompt_id: i64,
    pub score: f32,
}

impl Eq for Hit {}

impl Ord for Hit {
    /// Worse hits are greater: a max-heap of hits then has the worst on
    /// top, to be popped when a better one comes, and sorts best first.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.prompt_id.cmp(&other.prompt_id))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The vectors of every organization made by one embedder, shared by the
/// search handlers and the loader that keeps them current.
#[derive(Clone)]
pub struct PromptIndex {
    /// The embedder whose vectors these are.
    embedder: Arc<str>,
    /// Bytes per vector.
    dimensions: usize,
    /// Whether large organizations are searched through the signs first.
    prefilter: bool,
    orgs: Arc<RwLock<HashMap<Uuid, OrgVectors>>>,
    /// The highest prompt id loaded: new prompts are read after it.
    loaded_up_to: Arc<std::sync::atomic::AtomicI64>,
    ready: Arc<AtomicBool>,
}

impl std::fmt::Debug for PromptIndex {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PromptIndex")
            .field("embedder", &self.embedder)
            .field("loaded_up_to", &self.loaded_up_to())
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

/// The hash embedder's index.
impl Default for PromptIndex {
    fn default() -> Self {
        Self::new(HASH_EMBEDDER, DIMENSIONS)
    }
}

impl PromptIndex {
    /// An empty index of `embedder`'s vectors of `dimensions` bytes.
    pub fn new(embedder: &str, dimensions: usize) -> Self {
        Self {
            embedder: embedder.into(),
            dimensions,
            prefilter: false,
            orgs: Default::default(),
            loaded_up_to: Default::default(),
            ready: Default::default(),
        }
    }

    /// The same, with a sign prefilter for organizations of at least
    /// [`PREFILTER_FROM`] prompts: a search ranks them by how many of their
    /// coordinates' signs differ from the query's (48 bytes a prompt for
    /// 384 coordinates, an eighth of the vectors' bytes to read), then
    /// scores the [`PREFILTER_CANDIDATES`] nearest exactly. Approximate:
    /// BENCHMARKS.md gives its recall against the exact scan.
    pub fn with_prefilter(embedder: &str, dimensions: usize) -> Self {
        Self {
            prefilter: true,
            ..Self::new(embedder, dimensions)
        }
    }

    /// The embedder whose vectors the index holds.
    pub fn embedder(&self) -> &str {
        &self.embedder
    }

    /// Bytes per vector.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// Adds prompts (ids ascending, each vector [`Self::dimensions`] bytes
    /// long; others are ignored).
    pub fn add(&self, prompts: impl IntoIterator<Item = (Uuid, i64, Vec<i8>)>) {
        let mut orgs = self.orgs.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut highest = self.loaded_up_to();
        for (org_id, prompt_id, vector) in prompts {
            if vector.len() != self.dimensions {
                continue;
            }
            orgs.entry(org_id)
                .or_default()
                .push(prompt_id, norm_i8(&vector), &vector, self.prefilter);
            highest = highest.max(prompt_id);
        }
        self.loaded_up_to.store(highest, AtomicOrdering::Release);
    }

    pub fn loaded_up_to(&self) -> i64 {
        self.loaded_up_to.load(AtomicOrdering::Acquire)
    }

    /// Marks the first full load done.
    pub fn set_ready(&self) {
        self.ready.store(true, AtomicOrdering::Release);
    }

    /// Whether the first full load is done (searches before it may miss
    /// older prompts).
    pub fn is_ready(&self) -> bool {
        self.ready.load(AtomicOrdering::Acquire)
    }

    /// The vector of one of the organization's prompts, if indexed (ids
    /// are added in ascending order, so a binary search finds it).
    pub fn vector_of(&self, org_id: Uuid, prompt_id: i64) -> Option<Vec<i8>> {
        let orgs = self.orgs.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let org = orgs.get(&org_id)?;
        let index = org.prompt_ids.binary_search(&prompt_id).ok()?;
        let dimensions = self.dimensions;
        Some(org.vectors[index * dimensions..(index + 1) * dimensions].to_vec())
    }

    /// Distinct prompts indexed for `org_id`.
    pub fn len(&self, org_id: Uuid) -> usize {
        let orgs = self.orgs.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        orgs.get(&org_id).map_or(0, |org| org.prompt_ids.len())
    }

    /// Bytes the index holds per prompt, all organizations together.
    pub fn bytes_per_prompt(&self) -> f64 {
        let orgs = self.orgs.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (mut prompts, mut bytes) = (0usize, 0usize);
        for org in orgs.values() {
            prompts += org.prompt_ids.len();
            bytes += org.prompt_ids.capacity() * size_of::<i64>()
                + org.norms.capacity() * size_of::<f32>()
                + org.vectors.capacity()
                + org.signs.capacity() * size_of::<u64>();
        }
        if prompts == 0 {
            0.0
        } else {
            bytes as f64 / prompts as f64
        }
    }

    /// Forgets an organization's vectors (its prompts were deleted); the
    /// loader does not bring back what the database no longer has.
    pub fn remove_prompts(&self, org_id: Uuid, removed: &[i64]) {
        let mut orgs = self.orgs.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(org) = orgs.get_mut(&org_id) else { return };
        let dimensions = self.dimensions;
        let mut kept = OrgVectors::default();
        for (index, prompt_id) in org.prompt_ids.iter().enumerate() {
            if removed.binary_search(prompt_id).is_err() {
                kept.push(
                    *prompt_id,
                    org.norms[index],
                    &org.vectors[index * dimensions..(index + 1) * dimensions],
                    self.prefilter,
                );
            }
        }
        *org = kept;
    }

    /// The `limit` prompts of `org_id` nearest to `query` with a cosine of
    /// at least `min_score`, best first. Scans on up to [`SCAN_THREADS`]
    /// threads at once for large organizations (the scan is bound by memory
    /// bandwidth, which one core does not use up): call it off the async
    /// threads.
    pub fn search(&self, org_id: Uuid, query: &[i8], limit: usize, min_score: f32) -> Vec<Hit> {
        if query.len() != self.dimensions || limit == 0 {
            return Vec::new();
        }
        let orgs = self.orgs.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(org) = orgs.get(&org_id) else {
            return Vec::new();
        };
        let count = org.prompt_ids.len();
        let threads = if count >= PARALLEL_FROM {
            std::thread::available_parallelism().map_or(1, |cores| cores.get().min(SCAN_THREADS))
        } else {
            1
        };
        let mut best = if self.prefilter && count >= PREFILTER_FROM {
            let mut query_signs = Vec::with_capacity(query.len().div_ceil(64));
            push_signs(&mut query_signs, query);
            let keep = PREFILTER_CANDIDATES.max(limit * 4);
            let nearest = in_parts(count, threads, keep, |range| {
                nearest_signs(org, range, &query_signs, keep)
            });
            score_candidates(
                org,
                nearest.into_iter().map(|(_, index)| index),
                query,
                limit,
                min_score,
            )
        } else {
            in_parts(count, threads, limit, |range| {
                score_candidates(org, range, query, limit, min_score)
            })
        };
        while best.len() > limit {
            best.pop();
        }
        best.into_sorted_vec()
    }
}

/// Runs `part` over `0..count` split among `threads`, and keeps the `keep`
/// least (best) of what the parts found.
fn in_parts<T: Ord + Send>(
    count: usize,
    threads: usize,
    keep: usize,
    part: impl Fn(std::ops::Range<usize>) -> BinaryHeap<T> + Sync,
) -> BinaryHeap<T> {
    if threads <= 1 {
        return part(0..count);
    }
    let share = count.div_ceil(threads);
    let part = &part;
    let mut kept = std::thread::scope(|scope| {
        let parts: Vec<_> = (0..threads)
            .map(|index| {
                let range = (index * share).min(count)..((index + 1) * share).min(count);
                scope.spawn(move || part(range))
            })
            .collect();
        let mut kept = BinaryHeap::with_capacity(keep * threads);
        for part in parts {
            kept.extend(part.join().unwrap_or_default());
        }
        kept
    });
    while kept.len() > keep {
        kept.pop();
    }
    kept
}

/// The `keep` prompts in `range` whose signs differ least from the
/// query's, as (differing signs, position), the farthest on top. With the
/// CPU's population count where it has one: the x86-64 baseline counts
/// bits with a dozen instructions, which made the pass three times slower.
fn nearest_signs(
    org: &OrgVectors,
    range: std::ops::Range<usize>,
    query_signs: &[u64],
    keep: usize,
) -> BinaryHeap<(u32, usize)> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        // SAFETY: the CPU was just found to have POPCNT.
        return unsafe { nearest_signs_popcnt(org, range, query_signs, keep) };
    }
    nearest_signs_portable(org, range, query_signs, keep)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn nearest_signs_popcnt(
    org: &OrgVectors,
    range: std::ops::Range<usize>,
    query_signs: &[u64],
    keep: usize,
) -> BinaryHeap<(u32, usize)> {
    nearest_signs_portable(org, range, query_signs, keep)
}

#[inline(always)]
fn nearest_signs_portable(
    org: &OrgVectors,
    range: std::ops::Range<usize>,
    query_signs: &[u64],
    keep: usize,
) -> BinaryHeap<(u32, usize)> {
    let words = query_signs.len();
    let mut nearest: BinaryHeap<(u32, usize)> = BinaryHeap::with_capacity(keep + 1);
    let signs = &org.signs[range.start * words..range.end * words];
    for (offset, prompt_signs) in signs.chunks_exact(words).enumerate() {
        let distance: u32 = prompt_signs
            .iter()
            .zip(query_signs)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        if nearest.len() == keep && nearest.peek().is_some_and(|(farthest, _)| distance >= *farthest) {
            continue;
        }
        nearest.push((distance, range.start + offset));
        if nearest.len() > keep {
            nearest.pop();
        }
    }
    nearest
}

/// The best `limit` hits among the prompts at `positions` (a range of the
/// organization's, or the prefilter's candidates), scored exactly.
fn score_candidates(
    org: &OrgVectors,
    positions: impl Iterator<Item = usize>,
    query: &[i8],
    limit: usize,
    min_score: f32,
) -> BinaryHeap<Hit> {
    let dot = dot_kernel();
    let query_norm = norm_i8(query);
    let dimensions = query.len();
    let mut best: BinaryHeap<Hit> = BinaryHeap::with_capacity(limit + 1);
    if query_norm == 0.0 {
        return best;
    }
    for position in positions {
        let norm = org.norms[position];
        if norm == 0.0 {
            continue;
        }
        let vector = &org.vectors[position * dimensions..(position + 1) * dimensions];
        let score = dot(query, vector) as f32 / (query_norm * norm);
        if score < min_score || (best.len() == limit && best.peek().is_some_and(|worst| score <= worst.score))
        {
            continue;
        }
        best.push(Hit {
            prompt_id: org.prompt_ids[position],
            score,
        });
        if best.len() > limit {
            best.pop();
        }
    }
    best
}

/// Organizations with at least this many prompts are searched through the
/// signs first, in an index with a prefilter: below it the exact scan
/// takes a few milliseconds.
pub const PREFILTER_FROM: usize = 50_000;
/// Prompts the sign prefilter passes on to be scored exactly.
pub const PREFILTER_CANDIDATES: usize = 1_000;

/// Organizations with at least this many prompts are scanned in parallel.
const PARALLEL_FROM: usize = 100_000;
/// At most this many threads scan one search.
pub const SCAN_THREADS: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::similarity::services::embed::text_vector as vector;

    #[test]
    fn the_nearest_prompts_of_the_organization_come_first() {
        let index = PromptIndex::default();
        let (org, other) = (Uuid::new_v4(), Uuid::new_v4());
        index.add([
            (org, 1, vector("refactor the payment service to use async io")),
            (org, 2, vector("write a haiku about autumn leaves")),
            (
                org,
                3,
                vector("refactor the payments service to async IO, keep the tests green"),
            ),
            (other, 4, vector("refactor the payment service to use async io")),
        ]);
        assert_eq!(index.loaded_up_to(), 4);
        let hits = index.search(
            org,
            &vector("Refactor the payment service to use async IO"),
            2,
            0.0,
        );
        let ids: Vec<i64> = hits.iter().map(|hit| hit.prompt_id).collect();
        assert_eq!(ids, [1, 3], "{hits:?}");
        assert!(hits[0].score > 0.99 && hits[1].score < hits[0].score);
        // A threshold leaves out the far ones; another tenant's never show.
        let hits = index.search(org, &vector("a haiku about autumn"), 10, 0.5);
        assert_eq!(hits.iter().map(|hit| hit.prompt_id).collect::<Vec<_>>(), [2]);
        assert!(
            index
                .search(Uuid::new_v4(), &vector("anything"), 10, 0.0)
                .is_empty()
        );
        index.remove_prompts(org, &[1]);
        assert_eq!(index.len(org), 2);
        assert!(index.bytes_per_prompt() < 300.0);
    }

    #[test]
    fn the_sign_prefilter_finds_what_the_exact_scan_finds_near_the_query() {
        let dimensions = 384;
        let (exact, filtered) = (
            PromptIndex::new("test", dimensions),
            PromptIndex::with_prefilter("test", dimensions),
        );
        let org = Uuid::new_v4();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let query: Vec<i8> = (0..dimensions).map(|_| (random() % 255) as i8).collect();
        let mut prompts: Vec<(Uuid, i64, Vec<i8>)> = Vec::new();
        for id in 1..=(PREFILTER_FROM as i64 + 10_000) {
            let vector: Vec<i8> = if id % 10_000 == 0 {
                // Near-duplicates of the query, nearer the larger the id.
                let noise = 60 - id / 2_000;
                query
                    .iter()
                    .map(|value| {
                        value.saturating_add((random() % (2 * noise as u64 + 1)) as i8 - noise as i8)
                    })
                    .collect()
            } else {
                (0..dimensions).map(|_| (random() % 255) as i8).collect()
            };
            prompts.push((org, id, vector));
        }
        exact.add(prompts.clone());
        filtered.add(prompts);
        let ids = |index: &PromptIndex| -> Vec<i64> {
            index
                .search(org, &query, 6, 0.5)
                .iter()
                .map(|hit| hit.prompt_id)
                .collect()
        };
        assert_eq!(ids(&exact), [60_000, 50_000, 40_000, 30_000, 20_000, 10_000]);
        assert_eq!(ids(&filtered), ids(&exact));
        // The signs cost an eighth of the vectors' bytes.
        assert!(filtered.bytes_per_prompt() - exact.bytes_per_prompt() >= 48.0);
        filtered.remove_prompts(org, &[60_000]);
        assert_eq!(ids(&filtered)[0], 50_000);
    }
}
