//! What pricing made of a span: its cost, or why it has none.

use serde::{Deserialize, Serialize};

/// What pricing made of a span.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SpanCost {
    /// No model or no token counts: nothing to price.
    NotApplicable,
    /// Priced with the table's `model`.
    Priced { nanos: i64, model: String },
    /// Tokens were used but the model has no price.
    Unpriced,
}

impl SpanCost {
    pub fn nanos(&self) -> Option<i64> {
        match self {
            SpanCost::Priced { nanos, .. } => Some(*nanos),
            _ => None,
        }
    }
}
