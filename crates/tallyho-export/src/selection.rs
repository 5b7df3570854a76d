//! `OTEL_METRICS_EXPORTER`: which exporters the OpenTelemetry environment asks for.
//!
//! The specification's values are `otlp` (the default), `prometheus` (a pull endpoint),
//! `console` and `none`, as a comma-separated list. A program (or the agent) reads the
//! list once and starts what it names; [`PipelineBuilder::exporters_from_env`]
//! (crate::PipelineBuilder::exporters_from_env) does it for a pipeline.

/// The variable's name.
pub const METRICS_EXPORTER_VAR: &str = "OTEL_METRICS_EXPORTER";

/// The exporters `OTEL_METRICS_EXPORTER` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsExporters {
    /// `otlp`: the OTLP exporter, configured by the `OTEL_EXPORTER_OTLP_*` variables.
    pub otlp: bool,
    /// `prometheus`: a pull endpoint serving `/metrics` (tallyho-http's, which a program
    /// starts itself; a push pipeline has nothing to add for it).
    pub prometheus: bool,
    /// `console`: the console exporter.
    pub console: bool,
}

impl MetricsExporters {
    /// What the specification does when the variable is unset or empty: `otlp`.
    pub const DEFAULT: MetricsExporters = MetricsExporters {
        otlp: true,
        prometheus: false,
        console: false,
    };

    /// Parses a value: names separated by commas, spaces around them and case ignored.
    /// An empty value is the default (`otlp`).
    ///
    /// # Errors
    /// A message naming the variable, the value and the name that is not one of `otlp`,
    /// `prometheus`, `console`, `none`; an empty name in the list; or `none` beside another
    /// name (it means no exporter at all).
    pub fn parse(value: &str) -> Result<MetricsExporters, String> {
        Self::check(value).map_err(|why| format!("{METRICS_EXPORTER_VAR} = {value:?}: {why}"))
    }

    /// As [`parse`](Self::parse), the error saying only what is wrong.
    pub(crate) fn check(value: &str) -> Result<MetricsExporters, String> {
        if value.trim().is_empty() {
            return Ok(MetricsExporters::DEFAULT);
        }
        let mut out = MetricsExporters::default();
        let mut none = false;
        let mut names = 0;
        for name in value.split(',') {
            let name = name.trim().to_ascii_lowercase();
            names += 1;
            match name.as_str() {
                "otlp" => out.otlp = true,
                "prometheus" => out.prometheus = true,
                "console" => out.console = true,
                "none" => none = true,
                "" => return Err("an empty name in the list".into()),
                other => {
                    return Err(format!(
                        "unknown exporter {other:?} (expected otlp, prometheus, console or none)"
                    ))
                }
            }
        }
        if none && names > 1 {
            return Err("none means no exporter and takes no other name".into());
        }
        Ok(out)
    }

    /// The variable looked up with `get`: `Ok(None)` when it is unset or empty (the caller
    /// picks its default; the specification's is [`DEFAULT`](Self::DEFAULT)).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn from_env_with(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<MetricsExporters>, String> {
        match get(METRICS_EXPORTER_VAR) {
            Some(v) if !v.trim().is_empty() => Self::parse(&v).map(Some),
            _ => Ok(None),
        }
    }
}

impl crate::PipelineBuilder {
    /// Adds the exporters `OTEL_METRICS_EXPORTER` names (looked up like every variable
    /// here, see [`env_with`](Self::env_with)): `otlp` (the default when the variable is
    /// unset or empty) adds an OTLP exporter configured by the `OTEL_EXPORTER_OTLP_*`
    /// variables, `console` a console exporter on standard output, `none` nothing, and
    /// `prometheus` nothing either: a pull endpoint is the program's to start
    /// (`tallyho_http::Endpoint`); [`MetricsExporters`](crate::MetricsExporters) tells it.
    ///
    /// # Errors
    /// A [`BuildError::InvalidEnv`](crate::BuildError::InvalidEnv) naming the variable and
    /// the value that is not a list of those names, or the OTLP exporter's own error.
    pub fn exporters_from_env(mut self) -> Result<Self, crate::BuildError> {
        let env = self.env.clone();
        let value = env(crate::selection::METRICS_EXPORTER_VAR).unwrap_or_default();
        let chosen = crate::MetricsExporters::check(&value).map_err(|reason| {
            crate::BuildError::InvalidEnv {
                variable: crate::selection::METRICS_EXPORTER_VAR.into(),
                value: format!("{value:?}"),
                reason,
            }
        })?;
        if chosen.console {
            self = self.exporter(crate::ConsoleExporter::stdout());
        }
        #[cfg(feature = "otlp")]
        if chosen.otlp {
            let env = env.clone();
            let otlp = crate::otlp::OtlpExporter::builder()
                .from_env_with(move |k| env(k))
                .build()?;
            self = self.exporter(otlp);
        }
        #[cfg(not(feature = "otlp"))]
        if chosen.otlp {
            return Err(crate::BuildError::InvalidEnv {
                variable: crate::selection::METRICS_EXPORTER_VAR.into(),
                value: "\"otlp\"".into(),
                reason: "this build has no OTLP exporter (feature otlp)".into(),
            });
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_values_and_lists() {
        let p = |v| MetricsExporters::parse(v).unwrap();
        assert_eq!(p(""), MetricsExporters::DEFAULT);
        assert_eq!(p("otlp"), MetricsExporters::DEFAULT);
        assert_eq!(
            p(" OTLP , console"),
            MetricsExporters {
                otlp: true,
                prometheus: false,
                console: true
            }
        );
        assert_eq!(
            p("prometheus"),
            MetricsExporters {
                otlp: false,
                prometheus: true,
                console: false
            }
        );
        assert_eq!(p("none"), MetricsExporters::default());
        assert_eq!(p("console,console"), p("console"));
    }

    #[test]
    fn bad_values_are_named() {
        let e = MetricsExporters::parse("otlp,zipkin").unwrap_err();
        assert_eq!(
            e,
            "OTEL_METRICS_EXPORTER = \"otlp,zipkin\": unknown exporter \"zipkin\" (expected otlp, prometheus, console or none)"
        );
        let e = MetricsExporters::parse("otlp,,console").unwrap_err();
        assert!(e.contains("an empty name"), "{e}");
        let e = MetricsExporters::parse("none,otlp").unwrap_err();
        assert!(e.contains("none means no exporter"), "{e}");
    }

    #[test]
    fn unset_and_empty_leave_the_choice_to_the_caller() {
        assert_eq!(MetricsExporters::from_env_with(|_| None), Ok(None));
        assert_eq!(
            MetricsExporters::from_env_with(|_| Some("  ".into())),
            Ok(None)
        );
        assert_eq!(
            MetricsExporters::from_env_with(
                |k| (k == "OTEL_METRICS_EXPORTER").then(|| "console".into())
            ),
            Ok(Some(MetricsExporters {
                otlp: false,
                prometheus: false,
                console: true
            }))
        );
    }
}
