//! The cost services: usage reports, the cost log, the Costs page's data,
//! prices, recomputes and GenAI metric points.

pub mod cost_logs;
pub mod dashboard;
pub mod genai_metrics;
pub mod price_book;
pub mod prices;
pub mod recompute;
pub mod usage;
