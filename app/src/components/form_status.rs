//! How a form reports the outcome of its last submission.

use leptos::prelude::*;

use crate::error::ApiError;

/// The message of the last submission if it failed, or nothing.
pub fn action_error<T, S>(value: S) -> impl IntoView
where
    T: Send + Sync + 'static,
    S: Get<Value = Option<Result<T, ApiError>>> + Send + Sync + 'static,
{
    move || match value.get() {
        Some(Err(err)) => {
            Some(view! { <p class="inline-error" role="alert" data-testid="form-error">{err.message}</p> })
        }
        _ => None,
    }
}
