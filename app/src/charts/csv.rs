//! The CSV beside each chart: the exact numbers behind the picture, for
//! spreadsheets and for readers who cannot see the chart.

use std::fmt::Write as _;

use crate::{charts::Series, format::push_csv_field as push_field};

/// RFC 4180 line ending; spreadsheet importers accept it everywhere.
const EOL: &str = "\r\n";

/// Rust's `Display` for `f64` prints the shortest text that reads back as
/// the same number, so nothing is rounded; a missing value is an empty cell.
fn push_value(out: &mut String, value: Option<f64>) {
    if let Some(value) = value.filter(|v| !v.is_nan()) {
        let _ = write!(out, "{value}");
    }
}

/// `<header>,<series…>` then one row per category.
pub(super) fn table(header: &str, categories: &[String], series: &[Series]) -> String {
    let mut out = String::new();
    push_field(&mut out, header);
    for s in series {
        out.push(',');
        push_field(&mut out, &s.name);
    }
    out.push_str(EOL);
    for (index, category) in categories.iter().enumerate() {
        push_field(&mut out, category);
        for s in series {
            out.push(',');
            push_value(&mut out, s.values.get(index).copied());
        }
        out.push_str(EOL);
    }
    out
}

/// `label,value` then one row per bar.
pub(super) fn pairs(bars: &[(String, f64)]) -> String {
    let mut out = String::from("label,value");
    out.push_str(EOL);
    for (label, value) in bars {
        push_field(&mut out, label);
        out.push(',');
        push_value(&mut out, Some(*value));
        out.push_str(EOL);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_exact_and_missing_cells_empty() {
        let categories = vec![
            "2026-01-01".to_owned(),
            "2026-01-02".to_owned(),
            "2026-01-03".to_owned(),
        ];
        let series = vec![
            Series::new("gpt-4o", vec![0.1 + 0.2, 1234.56789, 1e-7]),
            Series::new("claude", vec![f64::NAN, 3.0]),
        ];
        assert_eq!(
            table("category", &categories, &series),
            "category,gpt-4o,claude\r\n\
             2026-01-01,0.30000000000000004,\r\n\
             2026-01-02,1234.56789,3\r\n\
             2026-01-03,0.0000001,\r\n"
        );
    }

    #[test]
    fn fields_are_quoted_per_rfc_4180() {
        let categories = vec!["a,b".to_owned(), "say \"hi\"".to_owned(), "two\nlines".to_owned()];
        let series = vec![Series::new("model, \"large\"", vec![1.0, 2.0, 3.0])];
        assert_eq!(
            table("category", &categories, &series),
            "category,\"model, \"\"large\"\"\"\r\n\
             \"a,b\",1\r\n\
             \"say \"\"hi\"\"\",2\r\n\
             \"two\nlines\",3\r\n"
        );
    }

    #[test]
    fn pairs_keep_given_values() {
        let bars = vec![
            ("svc, eu".to_owned(), 12.345678901234),
            ("plain".to_owned(), -0.5),
        ];
        assert_eq!(
            pairs(&bars),
            "label,value\r\n\"svc, eu\",12.345678901234\r\nplain,-0.5\r\n"
        );
        assert_eq!(pairs(&[]), "label,value\r\n");
        assert_eq!(table("category", &[], &[]), "category\r\n");
    }
}
