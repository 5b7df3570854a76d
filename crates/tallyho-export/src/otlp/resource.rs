//! The resource every request carries: defaults, host identity, then the environment and
//! the code, each replacing an earlier value of the same key (see the [module docs](super)).

use crate::http::upsert;

/// What decides the resource, lowest precedence first.
pub(super) struct ResourceInputs {
    /// [`OtlpExporterBuilder::default_service_name`](super::OtlpExporterBuilder::default_service_name).
    pub default_service: Option<String>,
    /// Whether to add `host.name` and `service.instance.id`.
    pub host_identity: bool,
    /// `OTEL_RESOURCE_ATTRIBUTES`.
    pub env_attributes: Vec<(String, String)>,
    /// `OTEL_SERVICE_NAME`.
    pub env_service: Option<String>,
    /// [`resource_attribute`](super::OtlpExporterBuilder::resource_attribute) calls.
    pub code_attributes: Vec<(String, String)>,
    /// [`service_name`](super::OtlpExporterBuilder::service_name).
    pub code_service: Option<String>,
}

/// The resource attributes, in order, one per key.
pub(super) fn attributes(inputs: ResourceInputs) -> Vec<(String, String)> {
    let service = inputs
        .default_service
        .filter(|s| !s.is_empty())
        .unwrap_or_else(unknown_service_name);
    let mut resource = vec![
        ("service.name".to_owned(), service),
        ("telemetry.sdk.name".to_owned(), "tallyho".to_owned()),
        ("telemetry.sdk.language".to_owned(), "rust".to_owned()),
        (
            "telemetry.sdk.version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
    ];
    if inputs.host_identity {
        if let Some(host) = crate::env::hostname() {
            resource.push(("host.name".to_owned(), host));
        }
        resource.push((
            "service.instance.id".to_owned(),
            crate::env::instance_id().to_owned(),
        ));
    }
    let service_name =
        |name: Option<String>| name.map(|n| ("service.name".to_owned(), n)).into_iter();
    for (k, v) in inputs
        .env_attributes
        .into_iter()
        .chain(service_name(inputs.env_service))
        .chain(inputs.code_attributes)
        .chain(service_name(inputs.code_service))
    {
        upsert(&mut resource, k, v, false);
    }
    resource
}

/// `unknown_service:<executable name>`, as the OpenTelemetry resource spec requires, or
/// `unknown_service` when the name is not known.
fn unknown_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name()?.to_str().map(str::to_owned))
        .filter(|n| !n.is_empty())
        .map_or_else(
            || "unknown_service".to_owned(),
            |n| format!("unknown_service:{n}"),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> ResourceInputs {
        ResourceInputs {
            default_service: Some("tallyho".into()),
            host_identity: false,
            env_attributes: Vec::new(),
            env_service: None,
            code_attributes: Vec::new(),
            code_service: None,
        }
    }

    fn service(inputs: ResourceInputs) -> String {
        attributes(inputs)
            .into_iter()
            .find(|(k, _)| k == "service.name")
            .unwrap()
            .1
    }

    #[test]
    fn service_name_precedence() {
        assert_eq!(service(inputs()), "tallyho");
        let from_attributes = || ResourceInputs {
            env_attributes: vec![("service.name".into(), "attr".into())],
            ..inputs()
        };
        assert_eq!(service(from_attributes()), "attr");
        assert_eq!(
            service(ResourceInputs {
                env_service: Some("env".into()),
                ..from_attributes()
            }),
            "env"
        );
        assert_eq!(
            service(ResourceInputs {
                env_service: Some("env".into()),
                code_service: Some("code".into()),
                ..from_attributes()
            }),
            "code"
        );
        assert!(service(ResourceInputs {
            default_service: None,
            ..inputs()
        })
        .starts_with("unknown_service"));
    }
}
