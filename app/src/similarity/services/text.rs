//! What of a request span's prompt is compared: the user's own input (the
//! last user turn of a conversation, or the whole text of a prompt without
//! roles), normalized so that trivially different copies (case, spacing,
//! Unicode forms) are one prompt, and the hash that identifies it.

use serde_json::Value;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

/// Longest input compared, in bytes: the embedding of a longer prompt is
/// dominated by its bulk anyway, and the bound keeps the worker's time per
/// span bounded.
pub const MAX_INPUT_BYTES: usize = 16 * 1024;

/// The user's input in a stored prompt: the text of the last message whose
/// role is the user's, in any of the message shapes the instrumentations
/// send (OpenAI `content` strings or parts, GenAI semantic convention
/// `parts`, Anthropic content blocks); a prompt that is not a message list
/// is its own input. `None` when there is no user text (a turn that only
/// carries tool results).
pub fn user_input(prompt: &str) -> Option<String> {
    let trimmed = prompt.trim_start();
    if !trimmed.starts_with(['[', '{', '"']) {
        return non_empty(prompt);
    }
    let messages = match serde_json::from_str::<Value>(prompt) {
        Ok(Value::Array(messages)) => messages,
        Ok(Value::Object(message)) => vec![Value::Object(message)],
        Ok(Value::String(text)) => return non_empty(&text),
        _ => return non_empty(prompt),
    };
    let with_roles = messages.iter().any(|message| message.get("role").is_some());
    if !with_roles {
        let mut texts = Vec::new();
        messages.iter().for_each(|message| texts_of(message, &mut texts));
        return non_empty(&texts.join("\n"));
    }
    messages
        .iter()
        .rev()
        .filter(|message| {
            matches!(
                message.get("role").and_then(Value::as_str),
                Some("user" | "human" | "User" | "Human")
            )
        })
        .find_map(|message| {
            let mut texts = Vec::new();
            for key in ["content", "parts", "text"] {
                if let Some(value) = message.get(key) {
                    texts_of(value, &mut texts);
                }
            }
            non_empty(&texts.join("\n"))
        })
}

/// The text strings of a message's content: a string, or the text parts
/// of a list of parts (`{"type": "text", "text"|"content": …}`); images,
/// tool calls and tool results are not the user's words.
fn texts_of<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => out.push(text),
        Value::Array(parts) => parts.iter().for_each(|part| texts_of(part, out)),
        Value::Object(part) => {
            let kind = part.get("type").and_then(Value::as_str).unwrap_or("text");
            if matches!(kind, "text" | "input_text") {
                for key in ["text", "content"] {
                    if let Some(Value::String(text)) = part.get(key) {
                        out.push(text);
                    }
                }
            }
        }
        _ => {}
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The form two copies of a prompt share when they differ only in case,
/// spacing or Unicode composition: NFKC, lower case, runs of white space
/// as one space, trimmed, cut to [`MAX_INPUT_BYTES`] on a character boundary.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_INPUT_BYTES));
    let mut pending_space = false;
    for character in text.nfkc().flat_map(char::to_lowercase) {
        if character.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if out.len() + character.len_utf8() > MAX_INPUT_BYTES {
            break;
        }
        out.push(character);
    }
    out
}

/// The identity of a normalized prompt: the first 16 bytes of its SHA-256,
/// as 32 hex digits.
pub fn prompt_hash(normalized: &str) -> String {
    let digest = Sha256::digest(normalized.as_bytes());
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_user_turn_in_every_message_shape() {
        let openai = r#"[{"role":"system","content":"Be brief"},{"role":"user","content":"first"},
            {"role":"assistant","content":"ok"},{"role":"user","content":"Fix the login bug"}]"#;
        assert_eq!(user_input(openai).as_deref(), Some("Fix the login bug"));
        let semconv = r#"[{"role":"user","parts":[{"type":"text","content":"Hello there"},
            {"type":"blob","mime_type":"image/png"}]}]"#;
        assert_eq!(user_input(semconv).as_deref(), Some("Hello there"));
        let anthropic = r#"[{"role":"user","content":[{"type":"text","text":"Summarize"},
            {"type":"image","source":{}},{"type":"text","text":"this page"}]}]"#;
        assert_eq!(user_input(anthropic).as_deref(), Some("Summarize\nthis page"));
        assert_eq!(
            user_input("plain prompt text").as_deref(),
            Some("plain prompt text")
        );
        assert_eq!(user_input(r#""quoted""#).as_deref(), Some("quoted"));
        // Only tool results after the user's turn: the user's turn still counts.
        let tools = r#"[{"role":"user","content":"run tests"},{"role":"tool","content":"3 failed"}]"#;
        assert_eq!(user_input(tools).as_deref(), Some("run tests"));
        assert_eq!(user_input(r#"[{"role":"system","content":"x"}]"#), None);
        assert_eq!(user_input("   "), None);
        // Not JSON after all: the text itself.
        assert_eq!(user_input("[draft] fix it").as_deref(), Some("[draft] fix it"));
    }

    #[test]
    fn copies_differing_in_case_spacing_and_forms_normalize_alike() {
        let a = normalize("  Ignore   previous\tINSTRUCTIONS\n");
        let b = normalize("ignore previous instructions");
        assert_eq!(a, b);
        assert_eq!(prompt_hash(&a), prompt_hash(&b));
        // Full-width letters and ligatures fold under NFKC.
        assert_eq!(normalize("Ｆｉｌｅ ﬁx"), "file fix");
        assert_ne!(prompt_hash("a"), prompt_hash("b"));
        assert_eq!(prompt_hash("a").len(), 32);
        let long = "é".repeat(MAX_INPUT_BYTES);
        assert!(normalize(&long).len() <= MAX_INPUT_BYTES);
    }
}
