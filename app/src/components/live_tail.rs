//! The live tail: spans streamed into a list while the reader watches.

use leptos::prelude::*;
#[cfg(feature = "hydrate")]
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

use crate::telemetry::types::SpanSummary;

/// While `live` is on, streams the spans from the server-sent events at
/// `stream_url(the page's query)` into `live_rows` (newest on top), keeping
/// the reader's place: when the page is scrolled, it moves by what was added
/// above. A change of the query starts a new stream.
pub fn live_tail(
    stream_url: impl Fn(&ParamsMap) -> String + 'static,
    live: RwSignal<bool>,
    connected: RwSignal<bool>,
    live_rows: RwSignal<Vec<SpanSummary>>,
) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::{
            wasm_bindgen::{JsCast, closure::Closure},
            web_sys,
        };

        let query = use_query_map();
        type Listener = Closure<dyn FnMut(web_sys::MessageEvent)>;
        let source = StoredValue::new_local(None::<(web_sys::EventSource, Listener, Listener)>);
        let close = move || {
            source.update_value(|current| {
                if let Some((stream, _, _)) = current.take() {
                    stream.close();
                }
            })
        };
        Effect::new(move |_| {
            let on = live.get();
            let params = query.get();
            close();
            connected.set(false);
            live_rows.set(Vec::new());
            if !on {
                return;
            }
            let url = stream_url(&params);
            let Ok(stream) = web_sys::EventSource::new(&url) else {
                return;
            };
            let on_span =
                Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                    let Some(data) = event.data().as_string() else {
                        return;
                    };
                    let Ok(span) = serde_json::from_str::<SpanSummary>(&data) else {
                        return;
                    };
                    let window = window();
                    let scrolled = window.scroll_y().unwrap_or_default();
                    let height_before = document()
                        .document_element()
                        .map(|root| root.scroll_height())
                        .unwrap_or_default();
                    live_rows.update(|rows| rows.insert(0, span));
                    if scrolled > 0.0 {
                        request_animation_frame(move || {
                            let height_after = document()
                                .document_element()
                                .map(|root| root.scroll_height())
                                .unwrap_or_default();
                            window.scroll_by_with_x_and_y(0.0, f64::from(height_after - height_before));
                        });
                    }
                });
            let on_open = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| connected.set(true));
            let _ = stream.add_event_listener_with_callback("span", on_span.as_ref().unchecked_ref());
            let _ = stream.add_event_listener_with_callback("open", on_open.as_ref().unchecked_ref());
            source.set_value(Some((stream, on_span, on_open)));
        });
        on_cleanup(close);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (stream_url, live, connected, live_rows);
}
