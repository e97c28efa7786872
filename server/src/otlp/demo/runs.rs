//! The demo's three services at work: a support bot, a coding agent with a
//! planner, and a research assistant; what their users ask and what the
//! agents answer, call and change.

use rand::{Rng, seq::IndexedRandom};
use serde_json::json;

use super::{
    Answer, CODER, Chat, DAY_NS, GPT_4O, HAIKU, O4_MINI, RESEARCH, SONNET, SUPPORT, Service, Tool,
    TraceBuilder, string,
};

const SUPPORT_SYSTEM: &str = "You are Acme's support assistant. Answer from the knowledge base and the customer's orders; never promise refunds above $200 without a human.";
const SUPPORT_QUESTIONS: &[&str] = &[
    "My order #48213 says delivered but I never got it. What can I do?",
    "How do I change the billing email on my account?",
    "The app keeps logging me out on Android since yesterday's update.",
    "Can I upgrade from the Team plan to Business in the middle of the month?",
    "I was charged twice for my subscription this month.",
    "Where do I find the invoice for March? Our accountant needs it.",
    "Is there a way to export all my projects as CSV?",
    "Your API returns 502 for about one request in twenty since this morning.",
];
const KB_ARTICLES: &[&str] = &[
    "KB-112 Missing deliveries: open a carrier trace after 48 h, reship or refund up to $200.",
    "KB-031 Billing email: Settings → Billing → Contacts; changes apply to the next invoice.",
    "KB-207 Android sign-out loop: fixed in 5.12.2; clear the app cache as a workaround.",
    "KB-088 Plan changes: upgrades are prorated to the day and take effect at once.",
    "KB-154 Duplicate charges: the second authorization is released within 5 business days.",
];

const CODER_SYSTEM: &str = "You are a careful coding agent working in a Rust repository. Make the smallest change that fixes the task, and run the tests before you finish.";
/// Coding tasks with the file they touch and the patch that fixes them.
const CODE_TASKS: &[(&str, &str, &str)] = &[
    (
        "The parser panics on empty input. Make it return an error instead.",
        "src/parser.rs",
        "diff --git a/src/parser.rs b/src/parser.rs\nindex 3f2a1c4..8b9d0e7 100644\n--- a/src/parser.rs\n+++ b/src/parser.rs\n@@ -12,7 +12,10 @@ impl Parser {\n     pub fn parse(&mut self, input: &str) -> Result<Ast, ParseError> {\n-        let first = input.chars().next().unwrap();\n+        let Some(first) = input.chars().next() else {\n+            return Err(ParseError::Empty);\n+        };\n         self.expression(first)\n     }\n }\n",
    ),
    (
        "Retry the webhook delivery up to 3 times with exponential backoff.",
        "src/webhooks/deliver.rs",
        "diff --git a/src/webhooks/deliver.rs b/src/webhooks/deliver.rs\nindex 91c0d2e..4e7f1aa 100644\n--- a/src/webhooks/deliver.rs\n+++ b/src/webhooks/deliver.rs\n@@ -40,9 +40,18 @@ pub async fn deliver(client: &Client, hook: &Webhook, event: &Event) -> Result<()> {\n     let body = serde_json::to_vec(event)?;\n-    let response = client.post(&hook.url).body(body).send().await?;\n-    response.error_for_status()?;\n-    Ok(())\n+    let mut delay = Duration::from_millis(250);\n+    for attempt in 1..=3 {\n+        match client.post(&hook.url).body(body.clone()).send().await {\n+            Ok(response) if response.status().is_success() => return Ok(()),\n+            Ok(_) | Err(_) if attempt < 3 => {\n+                tokio::time::sleep(delay).await;\n+                delay *= 2;\n+            }\n+            Ok(response) => return Err(Error::Status(response.status())),\n+            Err(err) => return Err(err.into()),\n+        }\n+    }\n+    unreachable!(\"the loop returns on its last attempt\")\n }\n",
    ),
    (
        "The CSV export drops rows whose note contains a comma. Quote fields properly.",
        "src/export/csv.rs",
        "diff --git a/src/export/csv.rs b/src/export/csv.rs\nindex 5d6e7f8..0a1b2c3 100644\n--- a/src/export/csv.rs\n+++ b/src/export/csv.rs\n@@ -8,8 +8,8 @@ pub fn write_rows(out: &mut impl Write, rows: &[Row]) -> io::Result<()> {\n+    let mut writer = csv::Writer::from_writer(out);\n     for row in rows {\n-        writeln!(out, \"{},{},{}\", row.id, row.amount, row.note)?;\n+        writer.serialize((row.id, row.amount, &row.note))?;\n     }\n-    Ok(())\n+    writer.flush()\n }\n",
    ),
    (
        "Add a --dry-run flag to the migrate command that prints the plan without applying it.",
        "src/cli/migrate.rs",
        "diff --git a/src/cli/migrate.rs b/src/cli/migrate.rs\nindex 77aa001..77aa002 100644\n--- a/src/cli/migrate.rs\n+++ b/src/cli/migrate.rs\n@@ -15,6 +15,9 @@ pub struct MigrateArgs {\n     #[arg(long)]\n     pub target: Option<String>,\n+    /// Print the migrations that would run, and stop.\n+    #[arg(long)]\n+    pub dry_run: bool,\n }\n@@ -30,6 +33,10 @@ pub fn run(args: MigrateArgs, db: &mut Db) -> Result<()> {\n     let plan = db.plan(args.target.as_deref())?;\n+    if args.dry_run {\n+        plan.iter().for_each(|step| println!(\"{step}\"));\n+        return Ok(());\n+    }\n     db.apply(plan)\n }\n",
    ),
];

const RESEARCH_SYSTEM: &str =
    "You are a research assistant. Search, read the most relevant sources, and answer with citations.";
const RESEARCH_QUESTIONS: &[(&str, &str)] = &[
    (
        "Compare PostgreSQL logical replication and Debezium for streaming changes into Kafka.",
        "postgres logical replication vs debezium kafka",
    ),
    (
        "What changed in the EU AI Act's obligations for general-purpose models in 2025?",
        "EU AI Act general purpose AI obligations 2025",
    ),
    (
        "Summarize the trade-offs of HNSW versus IVF indexes for vector search.",
        "HNSW vs IVF vector index trade-offs",
    ),
    (
        "Which OpenTelemetry semantic conventions cover LLM token usage?",
        "OpenTelemetry GenAI semantic conventions token usage",
    ),
    (
        "How do European heat pumps perform below -15 °C?",
        "heat pump efficiency below -15C field study",
    ),
];

/// End users of the support bot and the code agent.
const END_USERS: &[&str] = &[
    "cust_1042",
    "cust_2291",
    "cust_3307",
    "cust_4410",
    "cust_5123",
    "cust_6980",
    "cust_7712",
    "cust_8034",
    "dev_ana",
    "dev_jonas",
    "dev_priya",
    "dev_tomasz",
];

pub(super) fn support_run(trace: &mut TraceBuilder) -> &'static Service {
    let user = *END_USERS[..8].choose(trace.rng).expect("not empty");
    let day = trace.cursor_ns / DAY_NS;
    trace.context = vec![
        string("gen_ai.conversation.id", &format!("conv_{user}_{day}")),
        string("user.id", user),
    ];
    let question_index = trace.rng.random_range(0..SUPPORT_QUESTIONS.len());
    let question = SUPPORT_QUESTIONS[question_index];
    let article = KB_ARTICLES[question_index % KB_ARTICLES.len()];
    let root = trace.agent(
        None,
        "support-triage",
        "Answers customer questions from the knowledge base",
    );
    let root_id = trace.id_of(root);

    let call_id = trace.call_id();
    let classify = Chat {
        agent: "support-triage",
        model: &HAIKU,
        system: SUPPORT_SYSTEM,
        user: question,
        answer: Answer::ToolCall {
            id: &call_id,
            name: "search_kb",
            arguments: json!({"query": question, "limit": 3}),
        },
        input_tokens: trace.rng.random_range(600..1400),
        output_tokens: trace.rng.random_range(30..90),
        cache_read: 0,
        cache_write: 0,
        temperature: 0.0,
    };
    trace.maybe_fail_first(&root_id, &classify);
    let search_ms = trace.rng.random_range(40..400);
    trace.tool(
        &root_id,
        &Tool {
            name: "search_kb",
            call_id: &call_id,
            arguments: json!({"query": question, "limit": 3}),
            result: article,
            diff: None,
            error: None,
            duration_ms: search_ms,
        },
    );
    if question.contains("order") || question.contains("charged") {
        let call_id = trace.call_id();
        let order = trace.rng.random_range(40_000..49_999);
        let lookup_ms = trace.rng.random_range(80..900);
        let timed_out = trace.rng.random_bool(0.1);
        trace.tool(
            &root_id,
            &Tool {
                name: "lookup_order",
                call_id: &call_id,
                arguments: json!({"customer_id": user, "order_id": order}),
                result: if timed_out {
                    ""
                } else {
                    "{\"status\":\"delivered\",\"carrier\":\"DHL\",\"total\":\"$86.40\"}"
                },
                diff: None,
                error: timed_out.then_some("orders service timed out after 900 ms"),
                duration_ms: if timed_out { 900 } else { lookup_ms },
            },
        );
    }
    let answer_text = format!(
        "I'm sorry about the trouble. {} I've noted this on your account; reply here if anything is still unclear.",
        article.split_once(' ').map_or(article, |(_, text)| text)
    );
    let cached = trace.rng.random_bool(0.7);
    let answer = Chat {
        agent: "support-triage",
        model: &SONNET,
        system: SUPPORT_SYSTEM,
        user: question,
        answer: Answer::Text(&answer_text),
        input_tokens: trace.rng.random_range(1800..4200),
        output_tokens: trace.rng.random_range(120..420),
        cache_read: if cached { 1536 } else { 0 },
        cache_write: if cached { 0 } else { 1536 },
        temperature: 0.3,
    };
    trace.maybe_fail_first(&root_id, &answer);
    trace.close(root, None);
    &SUPPORT
}

pub(super) fn coding_run(trace: &mut TraceBuilder) -> &'static Service {
    let user = *END_USERS[8..].choose(trace.rng).expect("not empty");
    let session = format!("session_{}", hex::encode(trace.rng.random::<[u8; 4]>()));
    trace.context = vec![
        string("gen_ai.conversation.id", &session),
        string("user.id", user),
    ];
    let (task, path, diff) = *CODE_TASKS.choose(trace.rng).expect("not empty");
    let root = trace.agent(None, "coder", "Edits the repository to complete a task");
    let root_id = trace.id_of(root);

    // A planner (a reasoning model) breaks the task down first.
    let planner = trace.agent(Some(&root_id), "planner", "Plans the change before any edit");
    let planner_id = trace.id_of(planner);
    let plan = format!("1. Read {path}. 2. Change the smallest part that fixes it. 3. Run the tests.");
    let planning = Chat {
        agent: "planner",
        model: &O4_MINI,
        system: CODER_SYSTEM,
        user: task,
        answer: Answer::Text(&plan),
        input_tokens: trace.rng.random_range(900..2500),
        output_tokens: trace.rng.random_range(400..1600),
        cache_read: 0,
        cache_write: 0,
        temperature: 1.0,
    };
    trace.maybe_fail_first(&planner_id, &planning);
    trace.close(planner, None);

    let read_id = trace.call_id();
    let reading = Chat {
        agent: "coder",
        model: &SONNET,
        system: CODER_SYSTEM,
        user: task,
        answer: Answer::ToolCall {
            id: &read_id,
            name: "read_file",
            arguments: json!({"path": path}),
        },
        input_tokens: trace.rng.random_range(3000..6000),
        output_tokens: trace.rng.random_range(40..120),
        cache_read: 0,
        cache_write: 2816,
        temperature: 0.2,
    };
    trace.maybe_fail_first(&root_id, &reading);
    let read_ms = trace.rng.random_range(2..30);
    trace.tool(
        &root_id,
        &Tool {
            name: "read_file",
            call_id: &read_id,
            arguments: json!({"path": path}),
            result: "(file contents, 212 lines)",
            diff: None,
            error: None,
            duration_ms: read_ms,
        },
    );
    // The first test run fails now and then, and the agent tries again.
    let attempts = if trace.rng.random_bool(0.2) { 2 } else { 1 };
    for attempt in 1..=attempts {
        let patch_id = trace.call_id();
        let patching = Chat {
            agent: "coder",
            model: &SONNET,
            system: CODER_SYSTEM,
            user: if attempt == 1 {
                task
            } else {
                "The tests failed: 1 failed, 41 passed. Fix the failure."
            },
            answer: Answer::ToolCall {
                id: &patch_id,
                name: "apply_patch",
                arguments: json!({"path": path}),
            },
            input_tokens: trace.rng.random_range(6000..14000),
            output_tokens: trace.rng.random_range(200..900),
            cache_read: 2816,
            cache_write: 0,
            temperature: 0.2,
        };
        trace.maybe_fail_first(&root_id, &patching);
        let patch_ms = trace.rng.random_range(20..200);
        trace.tool(
            &root_id,
            &Tool {
                name: "apply_patch",
                call_id: &patch_id,
                arguments: json!({"path": path}),
                result: "patch applied",
                diff: Some(diff),
                error: None,
                duration_ms: patch_ms,
            },
        );
        let test_id = trace.call_id();
        let failed = attempt < attempts;
        let test_ms = trace.rng.random_range(4_000..40_000);
        trace.tool(
            &root_id,
            &Tool {
                name: "run_tests",
                call_id: &test_id,
                arguments: json!({"command": "cargo test --quiet"}),
                result: if failed {
                    "test result: FAILED. 41 passed; 1 failed"
                } else {
                    "test result: ok. 42 passed; 0 failed"
                },
                diff: None,
                error: failed.then_some("1 test failed: parser::tests::rejects_empty_input"),
                duration_ms: test_ms,
            },
        );
    }
    let summary = format!("Done: {task} The change is in {path}; all 42 tests pass.");
    let finishing = Chat {
        agent: "coder",
        model: &SONNET,
        system: CODER_SYSTEM,
        user: "Summarize the change for the pull request.",
        answer: Answer::Text(&summary),
        input_tokens: trace.rng.random_range(8000..16000),
        output_tokens: trace.rng.random_range(80..300),
        cache_read: 2816,
        cache_write: 0,
        temperature: 0.2,
    };
    trace.maybe_fail_first(&root_id, &finishing);
    trace.close(root, None);
    &CODER
}

pub(super) fn research_run(trace: &mut TraceBuilder) -> &'static Service {
    let (question, query) = *RESEARCH_QUESTIONS.choose(trace.rng).expect("not empty");
    let root = trace.agent(
        None,
        "researcher",
        "Searches and reads sources to answer a question",
    );
    let root_id = trace.id_of(root);
    let searches = trace.rng.random_range(1..=3);
    let mut failed_fetch = false;
    for round in 0..searches {
        let search_id = trace.call_id();
        let searching = Chat {
            agent: "researcher",
            model: &GPT_4O,
            system: RESEARCH_SYSTEM,
            user: question,
            answer: Answer::ToolCall {
                id: &search_id,
                name: "web_search",
                arguments: json!({"query": query, "page": round + 1}),
            },
            input_tokens: trace.rng.random_range(1500..4000) + round * 2500,
            output_tokens: trace.rng.random_range(30..80),
            cache_read: if round > 0 { 1024 } else { 0 },
            cache_write: 0,
            temperature: 0.4,
        };
        trace.maybe_fail_first(&root_id, &searching);
        let search_ms = trace.rng.random_range(300..1500);
        trace.tool(
            &root_id,
            &Tool {
                name: "web_search",
                call_id: &search_id,
                arguments: json!({"query": query, "page": round + 1}),
                result: "[{\"title\":\"…\",\"url\":\"https://example.org/article\"}] (8 results)",
                diff: None,
                error: None,
                duration_ms: search_ms,
            },
        );
        let fetch_id = trace.call_id();
        let timed_out = trace.rng.random_bool(0.1);
        failed_fetch |= timed_out;
        let fetch_ms = if timed_out {
            10_000
        } else {
            trace.rng.random_range(200..3000)
        };
        trace.tool(
            &root_id,
            &Tool {
                name: "fetch_page",
                call_id: &fetch_id,
                arguments: json!({"url": "https://example.org/article"}),
                result: if timed_out { "" } else { "(page text, 3,400 words)" },
                diff: None,
                error: timed_out.then_some("fetch timed out after 10 s"),
                duration_ms: fetch_ms,
            },
        );
    }
    let answer = format!(
        "Here is what the sources say about \"{question}\": the three most relevant findings, each with its citation, and where they disagree."
    );
    let answering = Chat {
        agent: "researcher",
        model: &GPT_4O,
        system: RESEARCH_SYSTEM,
        user: question,
        answer: Answer::Text(&answer),
        input_tokens: trace.rng.random_range(6000..18000),
        output_tokens: trace.rng.random_range(400..1200),
        cache_read: 1024,
        cache_write: 0,
        temperature: 0.4,
    };
    trace.maybe_fail_first(&root_id, &answering);
    trace.close(root, failed_fetch.then_some("a source could not be fetched"));
    &RESEARCH
}
