//! [`OtlpExporterBuilder`]: the code's settings, the environment's, and what `build`
//! makes of them (see the [module docs](super) for the table of variables).

use super::*;

/// Settings for an [`OtlpExporter`]; see the [module docs](self) for defaults and the
/// environment.
#[derive(Clone, Default)]
pub struct OtlpExporterBuilder {
    protocol: Option<OtlpProtocol>,
    endpoint: Option<Endpoint>,
    headers: Vec<(String, String)>,
    gzip: Option<bool>,
    timeout: Option<Duration>,
    temporality: Option<Temporality>,
    resource: Vec<(String, String)>,
    service_name: Option<String>,
    default_service: Option<String>,
    no_host_identity: bool,
    max_points: Option<usize>,
    tls: crate::TlsConfig,
    env: Option<EnvSource>,
}

/// Where [`OtlpExporterBuilder::from_env`] reads variables from.
#[derive(Clone)]
enum EnvSource {
    Process,
    Custom(Arc<EnvLookup>),
}

impl fmt::Debug for OtlpExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporterBuilder")
            .field("protocol", &self.protocol)
            .field("endpoint", &self.endpoint.as_ref().map(Endpoint::shown))
            .field("headers", &header_names(&self.headers))
            .field("gzip", &self.gzip)
            .field("timeout", &self.timeout)
            .field("temporality", &self.temporality)
            .field("resource", &self.resource)
            .field("service_name", &self.service_name)
            .field("default_service_name", &self.default_service)
            .field("host_identity", &!self.no_host_identity)
            .field("max_points", &self.max_points)
            .field("tls", &self.tls)
            .field("from_env", &self.env.is_some())
            .finish()
    }
}

impl OtlpExporterBuilder {
    /// How requests travel (default: `OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL` when read
    /// from the environment, else HTTP/protobuf). Over gRPC the endpoint is used as given
    /// (no `/v1/metrics`), and its default is `http://127.0.0.1:4317`.
    pub fn protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// The collector's base URL, such as `http://127.0.0.1:4318`; requests go to
    /// `<url>/v1/metrics`. Replaces an earlier [`metrics_endpoint`](Self::metrics_endpoint).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(Endpoint::Base(url.into()));
        self
    }

    /// The full URL requests are POSTed to, used as is (like
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`). Replaces an earlier
    /// [`endpoint`](Self::endpoint).
    pub fn metrics_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(Endpoint::Full(url.into()));
        self
    }

    /// Adds a header sent with every request (such as an API key); replaces an earlier
    /// header of the same name, from code or from the environment.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        upsert(&mut self.headers, name.into(), value.into(), true);
        self
    }

    /// Whether to gzip request bodies (default off).
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.gzip = Some(gzip);
        self
    }

    /// How long one request may take, connecting included (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// TLS for an `https://` endpoint (see [`TlsConfig`](crate::TlsConfig)); each file set
    /// here wins over its `OTEL_EXPORTER_OTLP_*` variable. The files are read at
    /// [`build`](Self::build).
    pub fn tls(mut self, tls: crate::TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// The temporality the exporter asks the pipeline for (default cumulative).
    pub fn temporality(mut self, temporality: Temporality) -> Self {
        self.temporality = Some(temporality);
        self
    }

    /// Adds a resource attribute; replaces an earlier one with the same key.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        upsert(&mut self.resource, key.into(), value.into(), false);
        self
    }

    /// The `service.name` resource attribute; wins over a `service.name` given to
    /// [`resource_attribute`](Self::resource_attribute) and over the environment. For a
    /// configured or built-in name that the environment may override, use
    /// [`default_service_name`](Self::default_service_name).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The `service.name` used when neither the environment (`OTEL_SERVICE_NAME`, a
    /// `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) nor
    /// [`service_name`](Self::service_name) nor a `service.name`
    /// [`resource_attribute`](Self::resource_attribute) gives one: a program's configured
    /// or built-in name, which the environment should be able to override (the
    /// OpenTelemetry precedence). Without it the default is `unknown_service:<executable>`.
    pub fn default_service_name(mut self, name: impl Into<String>) -> Self {
        self.default_service = Some(name.into());
        self
    }

    /// Whether the resource says which host and process pushed (default `true`):
    /// `host.name` (the kernel's host name) and `service.instance.id` (a random UUID made
    /// once per process). Either can be replaced with
    /// [`resource_attribute`](Self::resource_attribute) or `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn host_identity(mut self, on: bool) -> Self {
        self.no_host_identity = !on;
        self
    }

    /// The most data points (series) one request carries (default
    /// [`DEFAULT_MAX_POINTS_PER_REQUEST`], at least 1); larger batches are split.
    pub fn max_points_per_request(mut self, n: usize) -> Self {
        self.max_points = Some(n.max(1));
        self
    }

    /// Reads the standard `OTEL_*` variables at [`build`](Self::build), for whatever the
    /// code does not set (see the [module docs](self)).
    pub fn from_env(mut self) -> Self {
        self.env = Some(EnvSource::Process);
        self
    }

    /// As [`from_env`](Self::from_env), but looks each variable up with `get` instead of in
    /// the process environment (a configuration file, a test's map, ...). Empty values
    /// count as unset, as in the environment.
    pub fn from_env_with(
        mut self,
        get: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Some(EnvSource::Custom(Arc::new(get)));
        self
    }

    /// The exporter.
    ///
    /// # Errors
    /// A [`BuildError`] naming the setting or environment variable at fault: an endpoint
    /// that is not an `http://` or `https://` URL, a TLS file that cannot be read or used, a header that is not valid HTTP, a zero timeout, or an
    /// environment variable that does not parse. (`String: From<BuildError>` keeps callers
    /// that expected the former `Result<_, String>` compiling with `?`.)
    pub fn build(self) -> Result<OtlpExporter, BuildError> {
        let env = match &self.env {
            None => EnvSettings::default(),
            Some(EnvSource::Process) => EnvSettings::read(&env::process_env)?,
            Some(EnvSource::Custom(get)) => {
                EnvSettings::read(&|name| Ok(get(name).filter(|v| !v.trim().is_empty())))?
            }
        };

        let protocol = self
            .protocol
            .or(env.protocol)
            .unwrap_or(OtlpProtocol::HttpProtobuf);
        let endpoint = self.endpoint.clone().or(env.endpoint);
        let url = match (protocol, endpoint) {
            #[cfg(feature = "otlp-grpc")]
            (OtlpProtocol::Grpc, Some(Endpoint::Full(url) | Endpoint::Base(url))) => url,
            #[cfg(feature = "otlp-grpc")]
            (OtlpProtocol::Grpc, None) => DEFAULT_GRPC_ENDPOINT.to_owned(),
            (_, Some(Endpoint::Full(url))) => url,
            (_, Some(Endpoint::Base(base))) => metrics_url(&base),
            (_, None) => metrics_url(DEFAULT_ENDPOINT),
        };
        let mut headers = env.headers;
        for (k, v) in &self.headers {
            check_header(k, v)?;
            upsert(&mut headers, k.clone(), v.clone(), true);
        }
        headers.push(("Content-Type".to_owned(), PROTOBUF.to_owned()));

        let timeout = self.timeout.or(env.timeout).unwrap_or(DEFAULT_TIMEOUT);
        let gzip = self.gzip.or(env.gzip).unwrap_or(false);
        let tls = self.tls.or(env.tls);
        let transport = match protocol {
            OtlpProtocol::HttpProtobuf => {
                Wire::Http(Transport::new(PROTOCOL, url, &headers, timeout, &tls)?)
            }
            #[cfg(feature = "otlp-grpc")]
            OtlpProtocol::Grpc => {
                if !tls.is_empty() {
                    return Err(BuildError::InvalidSetting {
                        setting: "tls",
                        reason: "TLS over gRPC is not supported yet: use http/protobuf for https"
                            .into(),
                    });
                }
                Wire::Grpc(Box::new(grpc::GrpcClient::new(
                    &url, &headers, timeout, gzip,
                )?))
            }
        };

        let resource = resource::attributes(ResourceInputs {
            default_service: self.default_service,
            host_identity: !self.no_host_identity,
            env_attributes: env.resource,
            env_service: env.service_name,
            code_attributes: self.resource,
            code_service: self.service_name,
        });

        Ok(OtlpExporter {
            transport,
            gzip,
            timeout,
            temporality: self
                .temporality
                .or(env.temporality)
                .unwrap_or(Temporality::Cumulative),
            resource: Resource {
                attributes: resource
                    .iter()
                    .map(|(k, v)| string_attribute(k, v))
                    .collect(),
                ..Resource::default()
            },
            resource_pairs: resource,
            scope: InstrumentationScope {
                name: "tallyho".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                ..InstrumentationScope::default()
            },
            max_points: self.max_points.unwrap_or(DEFAULT_MAX_POINTS_PER_REQUEST),
            resume: None,
            first_export: None,
        })
    }
}
