//! Choosing a format at run time: by name, or from an HTTP `Accept` header.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use tallyho::Source;

use crate::{csv, json, openmetrics, prometheus, protobuf};

/// One of the exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Format {
    /// Prometheus text 0.0.4 ([`prometheus`]).
    #[default]
    Prometheus,
    /// OpenMetrics 1.0.0 text ([`openmetrics`]).
    OpenMetrics,
    /// JSON ([`json`]).
    Json,
    /// CSV ([`csv`]).
    Csv,
    /// The Prometheus protobuf exposition ([`protobuf`]), which carries native histograms.
    Protobuf,
}

impl Format {
    /// The HTTP `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus::CONTENT_TYPE,
            Format::OpenMetrics => openmetrics::CONTENT_TYPE,
            Format::Json => json::CONTENT_TYPE,
            Format::Csv => csv::CONTENT_TYPE,
            Format::Protobuf => protobuf::CONTENT_TYPE,
        }
    }

    /// The name [`FromStr`] reads back: `prometheus`, `openmetrics`, `json`, `csv` or
    /// `protobuf`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Prometheus => "prometheus",
            Format::OpenMetrics => "openmetrics",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Protobuf => "protobuf",
        }
    }

    /// Writes every family and point of `source` to `w` in this format.
    ///
    /// # Errors
    /// The first error from `w` (or from the source).
    pub fn encode(self, w: &mut dyn Write, source: &dyn Source) -> io::Result<()> {
        match self {
            Format::Prometheus => prometheus::encode(w, source),
            Format::OpenMetrics => openmetrics::encode(w, source),
            Format::Json => json::encode(w, source),
            Format::Csv => csv::encode(w, source),
            Format::Protobuf => protobuf::encode(w, source),
        }
    }

    /// Picks the text format for a scrape from its `Accept` header: OpenMetrics when the
    /// header names `application/openmetrics-text` (any version) with a q-value above zero and
    /// at least text/plain's, otherwise Prometheus text.
    ///
    /// text/plain's q-value comes from the most specific range that matches it: `text/plain`,
    /// else `text/*`, else `*/*`, else 0. A missing or malformed `q` counts as 1. An empty or
    /// unparsable header gives Prometheus text, which every scraper reads.
    ///
    /// The protobuf exposition is chosen when the header names
    /// `application/vnd.google.protobuf` with `proto=io.prometheus.client.MetricFamily` and
    /// `encoding=delimited` at a q-value above zero and at least both text formats' (as a
    /// Prometheus with native histograms enabled asks).
    pub fn negotiate(accept: &str) -> Format {
        let mut openmetrics: Option<f32> = None;
        let mut protobuf: Option<f32> = None;
        // (specificity, q) of the best range matching text/plain.
        let mut text: (u8, f32) = (0, 0.0);
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim();
            let params: Vec<(&str, &str)> = parts
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.trim(), v.trim()))
                .collect();
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| *v)
            };
            let q = params
                .iter()
                .copied()
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .and_then(|(_, v)| v.trim().parse::<f32>().ok())
                .filter(|q| q.is_finite())
                .map_or(1.0, |q| q.clamp(0.0, 1.0));
            let is = |m: &str| media.eq_ignore_ascii_case(m);
            if is("application/vnd.google.protobuf") {
                if param("proto") == Some("io.prometheus.client.MetricFamily")
                    && param("encoding") == Some("delimited")
                {
                    protobuf = Some(protobuf.map_or(q, |best| best.max(q)));
                }
                continue;
            }
            if is("application/openmetrics-text") {
                openmetrics = Some(openmetrics.map_or(q, |best| best.max(q)));
                continue;
            }
            let specificity = if is("text/plain") {
                3
            } else if is("text/*") {
                2
            } else if is("*/*") {
                1
            } else {
                continue;
            };
            if specificity > text.0 {
                text = (specificity, q);
            } else if specificity == text.0 {
                text.1 = text.1.max(q);
            }
        }
        let om = openmetrics.unwrap_or(0.0);
        match (protobuf, openmetrics) {
            (Some(p), _) if p > 0.0 && p >= om && p >= text.1 => Format::Protobuf,
            (_, Some(q)) if q > 0.0 && q >= text.1 => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = ParseFormatError;

    /// Reads `prometheus` (or `text`), `openmetrics`, `json` or `csv`, ignoring ASCII case and
    /// surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("prometheus") || is("text") {
            Ok(Format::Prometheus)
        } else if is("openmetrics") {
            Ok(Format::OpenMetrics)
        } else if is("json") {
            Ok(Format::Json)
        } else if is("csv") {
            Ok(Format::Csv)
        } else if is("protobuf") {
            Ok(Format::Protobuf)
        } else {
            Err(ParseFormatError {
                value: s.to_owned(),
            })
        }
    }
}

/// A format name that [`Format::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFormatError {
    value: String,
}

impl ParseFormatError {
    /// The value that was given.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for ParseFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown format {:?}: expected one of prometheus (or text), openmetrics, json, csv, protobuf",
            self.value
        )
    }
}

impl std::error::Error for ParseFormatError {}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Format; 4] = [
        Format::Prometheus,
        Format::OpenMetrics,
        Format::Json,
        Format::Csv,
    ];

    #[test]
    fn names_round_trip() {
        for format in ALL {
            assert_eq!(format.to_string().parse::<Format>(), Ok(format));
        }
        assert_eq!("text".parse::<Format>(), Ok(Format::Prometheus));
        assert_eq!(" JSON\n".parse::<Format>(), Ok(Format::Json));
        assert_eq!("OpenMetrics".parse::<Format>(), Ok(Format::OpenMetrics));
    }

    #[test]
    fn bad_names_are_named() {
        let err = "xml".parse::<Format>().unwrap_err();
        assert_eq!(err.value(), "xml");
        assert_eq!(
            err.to_string(),
            "unknown format \"xml\": expected one of prometheus (or text), openmetrics, json, csv, protobuf"
        );
        assert!("".parse::<Format>().is_err());
        assert!("open metrics".parse::<Format>().is_err());
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Format::Prometheus.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
        assert_eq!(
            Format::OpenMetrics.content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert_eq!(Format::Json.content_type(), "application/json");
        assert_eq!(Format::Csv.content_type(), "text/csv; charset=utf-8");
    }

    #[test]
    fn negotiation() {
        let cases = [
            ("", Format::Prometheus),
            ("*/*", Format::Prometheus),
            // What Prometheus 2.42 sends with --enable-feature=native-histograms.
            (
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.8,application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                Format::Protobuf,
            ),
            // Other encodings or messages of the protobuf type are not ours.
            (
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
                Format::Prometheus,
            ),
            (
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.2,text/plain;q=0.5",
                Format::Prometheus,
            ),
            ("text/plain", Format::Prometheus),
            ("application/openmetrics-text", Format::OpenMetrics),
            ("Application/OpenMetrics-Text; Version=1.0.0", Format::OpenMetrics),
            // What Prometheus 2.x sends.
            (
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                Format::OpenMetrics,
            ),
            // What Prometheus sends with OpenMetrics turned off.
            ("text/plain;version=0.0.4;q=1,*/*;q=0.1", Format::Prometheus),
            ("application/openmetrics-text;q=0.5,text/plain;q=0.5", Format::OpenMetrics),
            ("application/openmetrics-text;q=0.4,text/plain;q=0.5", Format::Prometheus),
            ("application/openmetrics-text;q=0.5, */*;q=0.9", Format::Prometheus),
            ("application/openmetrics-text;q=0.5, text/*;q=0.9", Format::Prometheus),
            ("application/openmetrics-text;q=0.5,text/plain;q=0.3,*/*;q=0.9", Format::OpenMetrics),
            ("application/openmetrics-text;q=0", Format::Prometheus),
            ("application/openmetrics-text;q=junk,text/plain", Format::OpenMetrics),
            ("application/openmetrics-text;q=NaN,text/plain;q=0.9", Format::OpenMetrics),
            ("application/json", Format::Prometheus),
            (",;;=,q=", Format::Prometheus),
        ];
        for (accept, want) in cases {
            assert_eq!(Format::negotiate(accept), want, "{accept:?}");
        }
    }
}
