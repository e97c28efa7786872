//! The labelled evaluation sets (`app/src/similarity/eval/`) and the
//! figures the embedder is chosen and its thresholds set by: abuse-pattern
//! recall and false-positive rate, and near-duplicate precision and recall.
//! Read from disk (the tests and the bench), never built into the server.

use std::{collections::HashMap, path::Path};

use serde::Deserialize;

/// One prompt of the abuse set.
#[derive(Clone, Debug, Deserialize)]
pub struct AbuseCase {
    /// `a01`…, or `benign`.
    pub group: String,
    /// `pattern` (what an admin marks), `variant` (must be flagged) or `benign`.
    pub role: String,
    pub transform: String,
    pub topic: String,
    pub text: String,
}

/// One prompt of the near-duplicate set.
#[derive(Clone, Debug, Deserialize)]
pub struct ClusterCase {
    /// `c01`…, or `singleton`.
    pub cluster: String,
    pub text: String,
}

/// One prompt of the paraphrase set.
#[derive(Clone, Debug, Deserialize)]
pub struct ParaphraseCase {
    /// `p01`…: prompts that ask the same thing in other words.
    pub group: String,
    pub text: String,
}

/// The evaluation data's folder in the source tree.
pub fn eval_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/similarity/eval")
}

fn read_lines<T: for<'de> Deserialize<'de>>(dir: &Path, prefix: &str) -> std::io::Result<Vec<T>> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("parts"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(prefix) && name.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        for line in std::fs::read_to_string(&file)?
            .lines()
            .filter(|line| !line.trim().is_empty())
        {
            out.push(serde_json::from_str(line).map_err(std::io::Error::other)?);
        }
    }
    Ok(out)
}

/// The abuse set: patterns, their variants and benign prompts.
pub fn abuse_cases(dir: &Path) -> std::io::Result<Vec<AbuseCase>> {
    let mut cases = read_lines::<AbuseCase>(dir, "abuse")?;
    cases.extend(read_lines::<AbuseCase>(dir, "benign")?);
    Ok(cases)
}

/// The near-duplicate set.
pub fn cluster_cases(dir: &Path) -> std::io::Result<Vec<ClusterCase>> {
    read_lines(dir, "near_duplicates")
}

/// The paraphrase set.
pub fn paraphrase_cases(dir: &Path) -> std::io::Result<Vec<ParaphraseCase>> {
    read_lines(dir, "paraphrases")
}

/// How well a scorer retrieves paraphrases: each prompt with a group asks
/// for its nearest among all the other prompts (its group's and the
/// distractors, whose group is `None`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RetrievalFigures {
    pub queries: usize,
    /// Queries whose nearest prompt is of their group.
    pub first: usize,
    /// Queries with a prompt of their group among the nearest `k`.
    pub within_k: usize,
}

impl RetrievalFigures {
    pub fn recall_at_1(&self) -> f64 {
        self.first as f64 / self.queries.max(1) as f64
    }

    pub fn recall_at_k(&self) -> f64 {
        self.within_k as f64 / self.queries.max(1) as f64
    }
}

/// Retrieval figures for pair scores `score(i, j)` over prompts in `groups`.
pub fn retrieval_figures(
    groups: &[Option<&str>],
    k: usize,
    score: impl Fn(usize, usize) -> f32,
) -> RetrievalFigures {
    let mut figures = RetrievalFigures::default();
    for (query, group) in groups.iter().enumerate() {
        let Some(group) = group else { continue };
        let mut ranked: Vec<(f32, usize)> = (0..groups.len())
            .filter(|other| *other != query)
            .map(|other| (score(query, other), other))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let same = |other: &usize| groups[*other] == Some(group);
        figures.queries += 1;
        figures.first += usize::from(ranked.first().is_some_and(|(_, other)| same(other)));
        figures.within_k += usize::from(ranked.iter().take(k).any(|(_, other)| same(other)));
    }
    figures
}

/// How a scorer did on the abuse set at one threshold.
#[derive(Clone, Debug, Default)]
pub struct AbuseFigures {
    pub threshold: f32,
    pub variants: usize,
    pub variants_flagged: usize,
    pub benign: usize,
    pub benign_flagged: usize,
    /// Variants flagged per transform: (flagged, of).
    pub by_transform: Vec<(String, usize, usize)>,
}

impl AbuseFigures {
    pub fn recall(&self) -> f64 {
        self.variants_flagged as f64 / self.variants.max(1) as f64
    }

    pub fn false_positive_rate(&self) -> f64 {
        self.benign_flagged as f64 / self.benign.max(1) as f64
    }
}

/// Each variant's and benign prompt's best score against all patterns
/// (`score(pattern_index, text)`), to be cut at thresholds.
pub struct AbuseScores {
    /// (transform, best score against its own group's pattern or any).
    pub variants: Vec<(String, f32)>,
    pub benign: Vec<f32>,
}

/// Scores the set with `best_score(text)`: the text's best score against
/// the patterns (already loaded by the caller from [`patterns`]).
pub fn score_abuse(cases: &[AbuseCase], best_score: impl Fn(&str) -> f32) -> AbuseScores {
    let mut scores = AbuseScores {
        variants: Vec::new(),
        benign: Vec::new(),
    };
    for case in cases {
        match case.role.as_str() {
            "variant" => scores
                .variants
                .push((case.transform.clone(), best_score(&case.text))),
            "benign" => scores.benign.push(best_score(&case.text)),
            _ => {}
        }
    }
    scores
}

/// The patterns of the abuse set.
pub fn patterns(cases: &[AbuseCase]) -> Vec<&AbuseCase> {
    cases.iter().filter(|case| case.role == "pattern").collect()
}

impl AbuseScores {
    /// The figures at `threshold` (a score at or above it flags).
    pub fn at(&self, threshold: f32) -> AbuseFigures {
        let mut by_transform: HashMap<&str, (usize, usize)> = HashMap::new();
        for (transform, score) in &self.variants {
            let entry = by_transform.entry(transform).or_default();
            entry.1 += 1;
            if *score >= threshold {
                entry.0 += 1;
            }
        }
        let mut by_transform: Vec<(String, usize, usize)> = by_transform
            .into_iter()
            .map(|(transform, (flagged, of))| (transform.to_owned(), flagged, of))
            .collect();
        by_transform.sort();
        AbuseFigures {
            threshold,
            variants: self.variants.len(),
            variants_flagged: self
                .variants
                .iter()
                .filter(|(_, score)| *score >= threshold)
                .count(),
            benign: self.benign.len(),
            benign_flagged: self.benign.iter().filter(|score| **score >= threshold).count(),
            by_transform,
        }
    }

    /// The threshold with the best recall whose false-positive rate is at
    /// most `max_false_positive_rate` (the lowest such on ties).
    pub fn best_threshold(&self, max_false_positive_rate: f64) -> AbuseFigures {
        let mut best = self.at(1.01);
        for step in 0..=200 {
            let figures = self.at(step as f32 / 200.0);
            if figures.false_positive_rate() <= max_false_positive_rate && figures.recall() > best.recall() {
                best = figures;
            }
        }
        best
    }
}

/// Near-duplicate precision and recall over all pairs of the set: a pair
/// is predicted a near-duplicate when `similar(a, b)`, and is one when both
/// are in the same cluster.
#[derive(Clone, Debug, Default)]
pub struct PairFigures {
    pub true_pairs: usize,
    pub found: usize,
    pub found_true: usize,
}

impl PairFigures {
    pub fn precision(&self) -> f64 {
        self.found_true as f64 / self.found.max(1) as f64
    }

    pub fn recall(&self) -> f64 {
        self.found_true as f64 / self.true_pairs.max(1) as f64
    }
}

/// Pair figures at `threshold` for pair scores `score(i, j)`.
pub fn pair_figures(
    cases: &[ClusterCase],
    threshold: f32,
    score: impl Fn(usize, usize) -> f32,
) -> PairFigures {
    let mut figures = PairFigures::default();
    for i in 0..cases.len() {
        for j in i + 1..cases.len() {
            let same = cases[i].cluster != "singleton" && cases[i].cluster == cases[j].cluster;
            let predicted = score(i, j) >= threshold;
            figures.true_pairs += usize::from(same);
            figures.found += usize::from(predicted);
            figures.found_true += usize::from(same && predicted);
        }
    }
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retrieval_counts_a_query_whose_nearest_is_of_its_group() {
        // 0 and 1 are one group, 2 another, 3 a distractor; 2's group has
        // no other member, so its nearest can never be right.
        let groups = [Some("a"), Some("a"), Some("b"), None];
        let points = [0.0f32, 0.1, 5.0, 0.05];
        let figures = retrieval_figures(&groups, 2, |i, j| -(points[i] - points[j]).abs());
        // 0's nearest is 3 (a distractor) but 1 is within 2; 1's nearest is 3, then 0.
        assert_eq!(
            figures,
            RetrievalFigures {
                queries: 3,
                first: 0,
                within_k: 2
            }
        );
        let exact = retrieval_figures(&groups[..2], 1, |_, _| 1.0);
        assert_eq!((exact.recall_at_1(), exact.recall_at_k()), (1.0, 1.0));
    }

    #[test]
    fn the_paraphrase_set_holds_thirty_groups_of_three() {
        let cases = paraphrase_cases(&eval_dir()).unwrap();
        assert_eq!(cases.len(), 90);
        let mut sizes: HashMap<&str, usize> = HashMap::new();
        for case in &cases {
            *sizes.entry(case.group.as_str()).or_default() += 1;
        }
        assert_eq!(sizes.len(), 30);
        assert!(sizes.values().all(|size| *size == 3));
    }
}
