//! The endpoint fields `herald endpoints create|update` set (`cli.md`: every field of the
//! contract), read into the SDK's request shapes.

use std::path::PathBuf;

use herald_sdk::client::{EndpointPatch, Format, NewEndpoint, SignatureScheme, Transformation};

/// Fields both `create` and `update` take.
#[derive(clap::Args, Debug, Default)]
pub struct EndpointFields {
    /// Free text.
    #[arg(long)]
    pub description: Option<String>,
    /// Subscribed types or prefixes (repeatable); none = every type.
    #[arg(long = "event-type")]
    pub event_types: Vec<String>,
    /// Deliveries per second.
    #[arg(long)]
    pub rate_limit: Option<i64>,
    /// Concurrent attempts.
    #[arg(long)]
    pub max_in_flight: Option<i64>,
    /// A custom header `Name: value` (repeatable; on update, replaces them all).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// standard_webhooks, cloudevents, cloudevents_binary, slack or discord.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Deliver one at a time, in order.
    #[arg(long)]
    pub ordered: Option<bool>,
    /// A JSON object kept with the endpoint.
    #[arg(long)]
    pub metadata: Option<String>,
    /// A CEL expression; only events it matches are delivered.
    #[arg(long)]
    pub filter: Option<String>,
    /// A JavaScript file defining `function handler(webhook)`.
    #[arg(long, value_name = "FILE")]
    pub transformation_file: Option<PathBuf>,
    /// Keep the transformation's code but switch it off (with --transformation-file).
    #[arg(long, requires = "transformation_file")]
    pub transformation_disabled: bool,
}

fn parse_format(s: &str) -> Result<Format, String> {
    serde_json::from_value(serde_json::Value::String(s.into())).map_err(|_| {
        format!("unknown format {s}: standard_webhooks, cloudevents, cloudevents_binary, slack or discord")
    })
}

pub fn parse_scheme(s: &str) -> Result<SignatureScheme, String> {
    serde_json::from_value(serde_json::Value::String(s.into()))
        .map_err(|_| format!("unknown signature scheme {s}: v1 or v1a"))
}

impl EndpointFields {
    fn headers(&self) -> Result<Option<serde_json::Map<String, serde_json::Value>>, String> {
        if self.headers.is_empty() {
            return Ok(None);
        }
        let mut map = serde_json::Map::new();
        for h in &self.headers {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| format!("--header {h:?}: expected NAME: VALUE"))?;
            map.insert(name.trim().into(), value.trim().into());
        }
        Ok(Some(map))
    }

    fn metadata(&self) -> Result<Option<serde_json::Value>, String> {
        self.metadata
            .as_deref()
            .map(|m| serde_json::from_str(m).map_err(|e| format!("--metadata is not JSON: {e}")))
            .transpose()
    }

    fn transformation(&self) -> Result<Option<Transformation>, String> {
        let Some(path) = &self.transformation_file else {
            return Ok(None);
        };
        let code = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(Some(Transformation {
            code,
            enabled: !self.transformation_disabled,
        }))
    }

    pub fn new_endpoint(
        self,
        url: String,
        secret: Option<String>,
        signature_scheme: Option<SignatureScheme>,
    ) -> Result<NewEndpoint, String> {
        Ok(NewEndpoint {
            url,
            headers: self.headers()?,
            metadata: self.metadata()?,
            transformation: self.transformation()?,
            description: self.description,
            event_types: (!self.event_types.is_empty()).then_some(self.event_types),
            rate_limit: self.rate_limit,
            max_in_flight: self.max_in_flight,
            format: self.format,
            ordered: self.ordered,
            filter: self.filter,
            secret,
            signature_scheme,
            disabled: None,
        })
    }

    /// `clear_filter` and `clear_transformation` remove them (`null`).
    pub fn patch(
        self,
        url: Option<String>,
        disabled: Option<bool>,
        clear_filter: bool,
        clear_transformation: bool,
    ) -> Result<EndpointPatch, String> {
        let transformation = match self.transformation()? {
            Some(t) => Some(Some(t)),
            None => clear_transformation.then_some(None),
        };
        Ok(EndpointPatch {
            url,
            disabled,
            headers: self.headers()?,
            metadata: self.metadata()?,
            transformation,
            description: self.description.map(Some),
            event_types: (!self.event_types.is_empty()).then_some(Some(self.event_types)),
            rate_limit: self.rate_limit.map(Some),
            max_in_flight: self.max_in_flight,
            format: self.format,
            ordered: self.ordered,
            filter: match self.filter {
                Some(f) => Some(Some(f)),
                None => clear_filter.then_some(None),
            },
        })
    }
}
