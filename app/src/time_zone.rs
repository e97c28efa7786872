//! Which time zone the UI shows times in: the browser's own by default, UTC
//! for a user who chose it (kept with their account). The browser tells the
//! server its zone in a cookie set before the first paint, so pages render
//! in it on the server already; the zone travels with the session info, so
//! the browser formats the same way when it hydrates.

use serde::{Deserialize, Serialize};

/// The cookie holding the browser's IANA time zone name.
pub const BROWSER_ZONE_COOKIE: &str = "specula_tz";

/// Sets [`BROWSER_ZONE_COOKIE`] on every page load, before anything asks the
/// server for a time: the zone may change when a laptop travels.
pub const ZONE_BOOT_SCRIPT: &str = "(function(){try{var z=Intl.DateTimeFormat().resolvedOptions().timeZone;\
if(z){document.cookie='specula_tz='+encodeURIComponent(z)+';path=/;max-age=31536000;samesite=lax';}}catch(e){}})();";

const UTC: &str = "UTC";

/// The zone times are shown in, and what the zone toggle offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayZone {
    /// Where times are shown: an IANA name such as `Europe/Berlin`, or `UTC`.
    pub name: String,
    /// The browser's zone, when it said which (the toggle's other choice).
    pub browser: Option<String>,
    /// The user chose UTC over the browser's zone.
    pub utc_chosen: bool,
}

impl Default for DisplayZone {
    fn default() -> Self {
        Self {
            name: UTC.to_owned(),
            browser: None,
            utc_chosen: false,
        }
    }
}

impl DisplayZone {
    /// The zone for a user's choice and what their browser said (ignored
    /// unless it names a zone the server knows).
    #[cfg(feature = "ssr")]
    pub fn resolve(utc_chosen: bool, browser: Option<&str>) -> Self {
        // The zero-offset aliases a system may report all read as `UTC`.
        let browser = browser
            .map(str::trim)
            .filter(|name| name.parse::<chrono_tz::Tz>().is_ok())
            .map(|name| match name {
                "Etc/UTC" | "Etc/UCT" | "UCT" | "Etc/Universal" | "Universal" | "Etc/Zulu" | "Zulu" => UTC,
                other => other,
            })
            .map(str::to_owned);
        let name = match (&browser, utc_chosen) {
            (Some(zone), false) => zone.clone(),
            _ => UTC.to_owned(),
        };
        Self {
            name,
            browser,
            utc_chosen,
        }
    }

    pub fn is_utc(&self) -> bool {
        self.name == UTC
    }

    /// Seconds to add to UTC for local time at `nanos`.
    pub fn offset_seconds(&self, nanos: i64) -> i64 {
        if self.is_utc() {
            0
        } else {
            offset_seconds(&self.name, nanos)
        }
    }

    /// `2026-01-01 10:00:20.123` in this zone.
    pub fn timestamp(&self, nanos: i64) -> String {
        crate::format::timestamp(nanos.saturating_add(self.offset_seconds(nanos) * 1_000_000_000))
    }

    /// `2026-01-01 10:00` in this zone.
    pub fn minute(&self, nanos: i64) -> String {
        self.timestamp(nanos)[..16].to_owned()
    }

    /// A stored RFC 3339 time as `2026-01-01 10:00:20 Europe/Berlin`; the
    /// epoch reads "always" (a price in force from the start), and what
    /// does not parse is shown as it is.
    pub fn stored_time(&self, rfc3339: &str) -> String {
        match crate::format::parse_utc_rfc3339(rfc3339) {
            Some(0) => "always".to_owned(),
            Some(nanos) => format!("{} {}", &self.timestamp(nanos)[..19], self.name),
            None => rfc3339.to_owned(),
        }
    }

    /// `Time (Europe/Berlin)`: a column or axis title naming the zone.
    pub fn titled(&self, title: &str) -> String {
        format!("{title} ({})", self.name)
    }
}

impl DisplayZone {
    /// A date and time without a zone, as the pages' date-time fields send
    /// it (`2026-01-31T09:30`), read in this zone and written as RFC 3339;
    /// anything else (RFC 3339, Unix ns, nonsense for the parser to refuse)
    /// is left as it is.
    #[cfg(feature = "ssr")]
    pub fn local_to_rfc3339(&self, text: &str) -> String {
        use chrono::TimeZone;

        let naive = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|format| chrono::NaiveDateTime::parse_from_str(text.trim(), format).ok());
        let (Some(naive), Ok(zone)) = (naive, self.name.parse::<chrono_tz::Tz>()) else {
            return text.to_owned();
        };
        // A time skipped by a clock change reads as the hour after it.
        match zone.from_local_datetime(&naive).earliest() {
            Some(local) => local.to_rfc3339(),
            None => zone
                .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
                .map_or_else(|| text.to_owned(), |local| local.to_rfc3339()),
        }
    }

    /// The zone from the time zone database, or `None` for UTC (or a
    /// name the server does not know, which is shown as UTC).
    #[cfg(feature = "ssr")]
    pub fn tz(&self) -> Option<chrono_tz::Tz> {
        if self.is_utc() {
            None
        } else {
            self.name.parse().ok()
        }
    }

    /// [`Self::local_to_rfc3339`] on each field that holds a value.
    #[cfg(feature = "ssr")]
    pub fn read_local(&self, fields: &mut [&mut Option<String>]) {
        for field in fields.iter_mut() {
            if let Some(text) = field.as_deref().filter(|text| !text.is_empty()) {
                **field = Some(self.local_to_rfc3339(text));
            }
        }
    }
}

/// The zone's offset from the time zone database the server ships.
#[cfg(feature = "ssr")]
fn offset_seconds(name: &str, nanos: i64) -> i64 {
    use chrono::{Offset, TimeZone};

    let Ok(zone) = name.parse::<chrono_tz::Tz>() else {
        return 0;
    };
    let utc = chrono::DateTime::from_timestamp_nanos(nanos).naive_utc();
    i64::from(zone.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

/// The browser's offset at that time: the zone is the browser's own, which
/// its cookie named.
#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
fn offset_seconds(_name: &str, nanos: i64) -> i64 {
    let date = js_sys::Date::new(&js_sys::Number::from((nanos / 1_000_000) as f64));
    // Minutes to add to local time for UTC.
    -(date.get_timezone_offset() as i64) * 60
}

#[cfg(not(any(feature = "ssr", feature = "hydrate")))]
fn offset_seconds(_name: &str, _nanos: i64) -> i64 {
    0
}

/// The zone the page shows times in (provided with the signed-in session).
pub fn use_display_zone() -> DisplayZone {
    leptos::prelude::use_context::<DisplayZone>().unwrap_or_default()
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    /// 2026-01-15T12:00:00Z and 2026-07-15T12:00:00Z.
    const WINTER: i64 = 1_768_478_400_000_000_000;
    const SUMMER: i64 = 1_784_116_800_000_000_000;

    #[test]
    fn the_browser_zone_unless_utc_was_chosen() {
        let berlin = DisplayZone::resolve(false, Some("Europe/Berlin"));
        assert_eq!(berlin.name, "Europe/Berlin");
        assert_eq!(berlin.timestamp(WINTER), "2026-01-15 13:00:00.000");
        assert_eq!(berlin.timestamp(SUMMER), "2026-07-15 14:00:00.000", "summer time");
        assert_eq!(berlin.titled("Time"), "Time (Europe/Berlin)");
        let kolkata = DisplayZone::resolve(false, Some("Asia/Kolkata"));
        assert_eq!(kolkata.minute(WINTER), "2026-01-15 17:30");

        assert_eq!(DisplayZone::resolve(false, Some("Etc/UTC")).name, "UTC");
        let chosen = DisplayZone::resolve(true, Some("Europe/Berlin"));
        assert_eq!(chosen.name, "UTC");
        assert_eq!(chosen.browser.as_deref(), Some("Europe/Berlin"));
        assert_eq!(chosen.timestamp(WINTER), "2026-01-15 12:00:00.000");
    }

    #[test]
    fn date_time_fields_are_read_in_the_zone() {
        let berlin = DisplayZone::resolve(false, Some("Europe/Berlin"));
        assert_eq!(
            berlin.local_to_rfc3339("2026-01-15T13:00"),
            "2026-01-15T13:00:00+01:00"
        );
        assert_eq!(
            berlin.local_to_rfc3339("2026-07-15T14:00:30"),
            "2026-07-15T14:00:30+02:00"
        );
        // 02:30 did not happen in Berlin on 2026-03-29.
        assert_eq!(
            berlin.local_to_rfc3339("2026-03-29T02:30"),
            "2026-03-29T03:30:00+02:00"
        );
        for untouched in ["2026-01-15T13:00:00Z", "1768478400000000000", "soon", ""] {
            assert_eq!(berlin.local_to_rfc3339(untouched), untouched);
        }
        let utc = DisplayZone::default();
        assert_eq!(
            utc.local_to_rfc3339("2026-01-15T13:00"),
            "2026-01-15T13:00:00+00:00"
        );
        let (mut since, mut until) = (Some("2026-01-15T13:00".to_owned()), Some(String::new()));
        berlin.read_local(&mut [&mut since, &mut until]);
        assert_eq!(since.as_deref(), Some("2026-01-15T13:00:00+01:00"));
        assert_eq!(until.as_deref(), Some(""));
    }

    #[test]
    fn unknown_or_missing_zones_mean_utc() {
        for browser in [None, Some(""), Some("Mars/Olympus_Mons"), Some("<script>")] {
            let zone = DisplayZone::resolve(false, browser);
            assert_eq!(zone.name, "UTC", "{browser:?}");
            assert_eq!(zone.browser, None);
        }
    }
}
