//! Prompt similarity benchmark: the local embedder's quality on the
//! labelled sets (`app/src/similarity/eval/`), its speed, the index's
//! memory per prompt, and top-10 search over a million distinct prompts,
//! in process and through `POST /api/v1/similarity/search`.
//!
//! The million prompts are generated (words drawn from the evaluation
//! sets' vocabulary, 40 to 160 words each), embedded here, and inserted
//! into `prompts` and `prompt_vectors` directly, as the worker would have
//! left them: sending a million request spans through ingest would take
//! most of an hour on the bench machine and measure ingest, not search.
//!
//! `cargo bench -p server --bench similarity` (SQLite), with
//! `SPECULA_BENCH_DATABASE=postgres` for PostgreSQL on 127.0.0.1:5432;
//! `SPECULA_BENCH_PROMPTS` (default 1000000) sizes the index and
//! `SPECULA_BENCH_SAMPLES` (default 200) the timed searches.

mod support;

use std::time::{Duration, Instant};

use app::similarity::services::{
    abuse::AbuseGuard,
    embed::{DIMENSIONS, HASH_EMBEDDER, cosine, cosine_i8, embed, embed_into, norm_i8, quantize},
    evaluation::{abuse_cases, cluster_cases, eval_dir, pair_figures, patterns, score_abuse},
    index::PromptIndex,
    patterns::MAX_PATTERNS,
    text::{normalize, prompt_hash},
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, Value};
use serde_json::json;
use support::*;

const WARM_UP: usize = 10;

fn quality() {
    let dir = eval_dir();
    let cases = abuse_cases(&dir).unwrap();
    let pattern_texts: Vec<String> = patterns(&cases)
        .iter()
        .map(|case| normalize(&case.text))
        .collect();
    println!(
        "abuse set: {} patterns, {} variants, {} benign prompts",
        pattern_texts.len(),
        cases.iter().filter(|case| case.role == "variant").count(),
        cases.iter().filter(|case| case.role == "benign").count()
    );
    for dims in [256, 1024, 4096] {
        let vector = |text: &str| {
            let mut vector = vec![0f32; dims];
            embed_into(text, &mut vector);
            vector
        };
        let patterns: Vec<Vec<f32>> = pattern_texts.iter().map(|text| vector(text)).collect();
        let scores = score_abuse(&cases, |text| {
            let text = vector(&normalize(text));
            patterns
                .iter()
                .map(|pattern| cosine(pattern, &text))
                .fold(-1.0, f32::max)
        });
        let lowest_variant = scores
            .variants
            .iter()
            .map(|(_, score)| *score)
            .fold(2.0, f32::min);
        let highest_benign = scores.benign.iter().copied().fold(-2.0, f32::max);
        let best = scores.best_threshold(0.01);
        println!(
            "abuse, {dims} coordinates: lowest variant {lowest_variant:.3}, highest benign {highest_benign:.3}; \
             at the best threshold {:.3}: recall {:.2}%, false positives {:.2}%",
            best.threshold,
            best.recall() * 100.0,
            best.false_positive_rate() * 100.0
        );
        for threshold in [0.35, 0.40, 0.45] {
            let figures = scores.at(threshold);
            println!(
                "  threshold {threshold:.2}: recall {:.2}% ({}/{}), false positives {:.2}% ({}/{}); by transform {:?}",
                figures.recall() * 100.0,
                figures.variants_flagged,
                figures.variants,
                figures.false_positive_rate() * 100.0,
                figures.benign_flagged,
                figures.benign,
                figures.by_transform
            );
        }
    }
    let clusters = cluster_cases(&dir).unwrap();
    let vectors: Vec<Vec<i8>> = clusters
        .iter()
        .map(|case| quantize(&embed(&normalize(&case.text))))
        .collect();
    let norms: Vec<f32> = vectors.iter().map(|vector| norm_i8(vector)).collect();
    println!(
        "near-duplicates: {} prompts in {} clusters and {} singletons",
        clusters.len(),
        {
            let mut names: Vec<&str> = clusters.iter().map(|case| case.cluster.as_str()).collect();
            names.sort();
            names.dedup();
            names.len() - 1
        },
        clusters.iter().filter(|case| case.cluster == "singleton").count()
    );
    for threshold in [0.70, 0.75, 0.80, 0.85, 0.90] {
        let figures = pair_figures(&clusters, threshold, |i, j| {
            cosine_i8(&vectors[i], norms[i], &vectors[j], norms[j])
        });
        println!(
            "  {HASH_EMBEDDER} (256 signed bytes), threshold {threshold:.2}: pair precision {:.2}%, recall {:.2}% ({} true pairs)",
            figures.precision() * 100.0,
            figures.recall() * 100.0,
            figures.true_pairs
        );
    }
}

/// `AbuseGuard::check`, the call governance and alerts make per prompt,
/// with as many patterns as an organization may have: the 40 of the
/// evaluation set and generated ones up to the limit.
fn abuse_check_latency(words: &[String], samples: usize) {
    let cases = abuse_cases(&eval_dir()).unwrap();
    let mut random = Random(11);
    let mut texts: Vec<String> = patterns(&cases).iter().map(|case| case.text.clone()).collect();
    while texts.len() < MAX_PATTERNS as usize {
        texts.push(prompt(&mut random, words, 400));
    }
    let org = uuid::Uuid::new_v4();
    let guard = AbuseGuard::with_patterns(org, &texts);
    let variants: Vec<&str> = cases
        .iter()
        .filter(|case| case.role == "variant")
        .map(|case| case.text.as_str())
        .collect();
    let prompts: Vec<String> = (0..WARM_UP + samples)
        .map(|round| match round % 2 {
            0 => variants[round / 2 % variants.len()].to_owned(),
            _ => prompt(&mut random, words, 1024),
        })
        .collect();
    let mut flagged = 0;
    let mut timings: Vec<Duration> = prompts
        .iter()
        .enumerate()
        .filter_map(|(round, text)| {
            let started = Instant::now();
            flagged += usize::from(guard.check(org, text).is_some());
            (round >= WARM_UP).then(|| started.elapsed())
        })
        .collect();
    timings.sort();
    report(
        &format!(
            "AbuseGuard::check against {} patterns (half variants, half 1 KB prompts; {flagged} flagged)",
            texts.len()
        ),
        &timings,
    );
}

fn embedding_speed(words: &[String]) {
    let mut random = Random(7);
    let prompts: Vec<String> = (0..20_000).map(|_| prompt(&mut random, words, 1024)).collect();
    let started = Instant::now();
    let mut checksum = 0i64;
    for text in &prompts {
        let vector = quantize(&embed(&normalize(text)));
        checksum += i64::from(vector[0]);
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "embedding 1 KB prompts on one core ({HASH_EMBEDDER}, normalize + embed + quantize): {:.0} prompts/s (checksum {checksum})",
        prompts.len() as f64 / elapsed
    );
    let started = Instant::now();
    let mut vector = vec![0f32; 4096];
    for text in &prompts {
        vector.iter_mut().for_each(|value| *value = 0.0);
        embed_into(&normalize(text), &mut vector);
    }
    println!(
        "embedding 1 KB prompts into 4096 coordinates: {:.0} prompts/s",
        prompts.len() as f64 / started.elapsed().as_secs_f64()
    );
}

async fn insert_prompts(
    db: &DatabaseConnection,
    org: uuid::Uuid,
    prompts: &[(String, Vec<i8>)],
    first_id: i64,
) {
    let backend = db.get_database_backend();
    let mark = |number: usize| match backend {
        sea_orm::DatabaseBackend::Postgres => format!("${number}"),
        _ => "?".to_owned(),
    };
    for (chunk_index, chunk) in prompts.chunks(500).enumerate() {
        let mut rows = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        let mut vector_rows = Vec::new();
        let mut vector_values: Vec<Value> = Vec::new();
        for (offset, (text, vector)) in chunk.iter().enumerate() {
            let id = first_id + (chunk_index * 500 + offset) as i64;
            let base = values.len();
            rows.push(format!(
                "({}, {}, {}, {}, 1, 1000, 0, 0, '00000000000000000000000000000001', '0000000000000001')",
                mark(base + 1),
                mark(base + 2),
                mark(base + 3),
                mark(base + 4)
            ));
            values.extend([
                id.into(),
                org.into(),
                prompt_hash(text).into(),
                text.clone().into(),
            ]);
            let base = vector_values.len();
            vector_rows.push(format!(
                "({}, '{HASH_EMBEDDER}', {})",
                mark(base + 1),
                mark(base + 2)
            ));
            vector_values.extend([
                id.into(),
                vector
                    .iter()
                    .map(|value| *value as u8)
                    .collect::<Vec<u8>>()
                    .into(),
            ]);
        }
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO prompts (id, org_id, prompt_hash, text, span_count, cost_nanos, first_seen_ns, \
                 last_seen_ns, example_trace_id, example_span_id) VALUES {}",
                rows.join(", ")
            ),
            values,
        ))
        .await
        .unwrap();
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO prompt_vectors (prompt_id, embedder, vector) VALUES {}",
                vector_rows.join(", ")
            ),
            vector_values,
        ))
        .await
        .unwrap();
    }
}

#[tokio::main]
async fn main() {
    let database = std::env::var("SPECULA_BENCH_DATABASE").unwrap_or_else(|_| "sqlite".to_owned());
    let total: usize = env_or("SPECULA_BENCH_PROMPTS", 1_000_000);
    let samples: usize = env_or("SPECULA_BENCH_SAMPLES", 200);

    quality();
    let words = vocabulary();
    embedding_speed(&words);
    abuse_check_latency(&words, samples);

    let mut random = Random(42);
    let started = Instant::now();
    let prompts: Vec<(String, Vec<i8>)> = (0..total)
        .map(|_| {
            let length = 240 + random.below(720);
            let text = normalize(&prompt(&mut random, &words, length));
            let vector = quantize(&embed(&text));
            (text, vector)
        })
        .collect();
    println!(
        "{total} distinct prompts generated and embedded in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // In process: the index alone.
    let org = uuid::Uuid::new_v4();
    let index = PromptIndex::default();
    index.add(
        prompts
            .iter()
            .enumerate()
            .map(|(id, (_, vector))| (org, id as i64 + 1, vector.clone())),
    );
    println!(
        "index memory: {:.1} bytes per prompt ({DIMENSIONS} vector bytes, norm and id)",
        index.bytes_per_prompt()
    );
    let queries: Vec<Vec<i8>> = (0..WARM_UP + samples)
        .map(|_| quantize(&embed(&normalize(&prompt(&mut random, &words, 600)))))
        .collect();
    let mut timings: Vec<Duration> = queries
        .iter()
        .enumerate()
        .filter_map(|(round, query)| {
            let started = Instant::now();
            let hits = index.search(org, query, 10, 0.0);
            assert_eq!(hits.len(), 10);
            (round >= WARM_UP).then(|| started.elapsed())
        })
        .collect();
    timings.sort();
    report(
        &format!("top-10 search over {total} prompts, in process"),
        &timings,
    );
    drop(index);

    // Through the API, with the prompts in the database.
    let postgres_db = format!("specula_bench_similarity_{}", std::process::id());
    if database == "postgres" {
        with_postgres_db(&postgres_db, true).await;
    }
    let server = start_server(&database, &postgres_db);
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let base = server.base.clone();
    wait_ready(&client, &base).await;
    let org = sign_up(&client, &base).await;
    let token = mint_token(&client, &base, &org, &["read"]).await;
    let db = Database::connect(&server.database_url).await.unwrap();
    let started = Instant::now();
    insert_prompts(&db, org.parse().unwrap(), &prompts, 1).await;
    println!(
        "{total} prompts inserted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if database == "postgres" {
        // What autovacuum does soon after a million new rows, done now so
        // that it does not share the two cores with the timed searches.
        let started = Instant::now();
        db.execute_unprepared("VACUUM ANALYZE prompts, prompt_vectors")
            .await
            .unwrap();
        println!("VACUUM ANALYZE in {:.1} s", started.elapsed().as_secs_f64());
    }
    let started = Instant::now();
    loop {
        let results: serde_json::Value = client
            .post(format!("{base}/api/v1/similarity/search"))
            .bearer_auth(&token)
            .json(&json!({"text": "warm up"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if results["progress"]["indexed_prompts"].as_u64() == Some(total as u64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "the server indexed them in {:.1} s after the insert",
        started.elapsed().as_secs_f64()
    );
    let texts: Vec<String> = (0..WARM_UP + samples)
        .map(|_| prompt(&mut random, &words, 600))
        .collect();
    let mut timings = Vec::with_capacity(samples);
    for (round, text) in texts.iter().enumerate() {
        let started = Instant::now();
        let response = client
            .post(format!("{base}/api/v1/similarity/search"))
            .bearer_auth(&token)
            .json(&json!({"text": text, "k": 10}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
        let results: serde_json::Value = response.json().await.unwrap();
        assert_eq!(results["prompts"].as_array().unwrap().len(), 10);
        if round >= WARM_UP {
            timings.push(started.elapsed());
        }
    }
    timings.sort();
    report(
        &format!("POST /api/v1/similarity/search, top 10 of {total} prompts ({database})"),
        &timings,
    );
    let rss = memory_kib(server.child.id(), "VmRSS");
    println!("server RSS with the index loaded: {} MiB", rss / 1024);
    db.close().await.ok();
    server.stop();
    if database == "postgres" {
        with_postgres_db(&postgres_db, false).await;
    }
}
