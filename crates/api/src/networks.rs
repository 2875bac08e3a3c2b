//! `/networks/…`: list, inspect, create, remove, connect, disconnect and prune, through the
//! same network store and engine calls as `hull network`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use hull_engine::endpoint::connect::{ConnectError, ConnectRequest};
use hull_engine::state::ContainerError;
use hull_engine::view::network::{inspect as network_doc, Predefined};
use hull_engine::view::network_list;
use hull_net::{CreateRequest, Network, NetworkError, Networks};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body;
use crate::error::{one_line, ApiError};
use crate::route::{blocking, not_served, Handled, Shared, Target};

pub async fn route(shared: Arc<Shared>, req: Request<Incoming>, t: Target) -> Handled {
    let segs: Vec<String> = t.segments.clone();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method().clone();
    match (&method, &segs[1..]) {
        (&Method::GET, []) => list(&shared, &t).await,
        (&Method::POST, ["create"]) => {
            let b = body::parse_json(&body::read_all(req.into_body()).await?)?;
            create(&shared, b).await
        }
        (&Method::POST, ["prune"]) => prune(&shared, &t).await,
        (&Method::GET, [name]) => inspect(&shared, name.to_string()).await,
        (&Method::DELETE, [name]) => remove(&shared, name.to_string()).await,
        (&Method::POST, [name, op @ ("connect" | "disconnect")]) => {
            let b = body::parse_json(&body::read_all(req.into_body()).await?)?;
            attach(&shared, name.to_string(), *op == "connect", b).await
        }
        _ => Err(not_served(&method, &t)),
    }
}

/// A network store failure with Docker's status.
fn network_error(e: NetworkError) -> ApiError {
    match e {
        NetworkError::NotFound { .. } => ApiError::not_found(e.to_string()),
        NetworkError::AlreadyExists {
            what: "network",
            name,
        } => ApiError::conflict(format!("network with name {name} already exists")),
        NetworkError::AlreadyExists { .. }
        | NetworkError::Conflict(_)
        | NetworkError::PortInUse { .. }
        | NetworkError::Exhausted { .. } => ApiError::conflict(e.to_string()),
        NetworkError::InvalidInput(_) => ApiError::bad(e.to_string()),
        other => ApiError::internal(one_line(&other)),
    }
}

/// `GET /networks?filters` (name, id, driver, type, label, scope, dangling).
async fn list(shared: &Arc<Shared>, t: &Target) -> Handled {
    let filters = t.query.filters()?;
    for (k, v) in &filters {
        network_list::check_filter(k, v).map_err(ApiError::bad)?;
    }
    let docs = blocking(shared, move |s| {
        let nets = Networks::open(&s.opts.root);
        let docs = network_list::documents(&s.opts.root, &nets).map_err(network_error)?;
        Ok(docs
            .into_iter()
            .filter(|d| network_list::matches(&filters, d))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(body::json(StatusCode::OK, &Value::Array(docs)))
}

async fn inspect(shared: &Arc<Shared>, name: String) -> Handled {
    let doc = blocking(shared, move |s| {
        let nets = Networks::open(&s.opts.root);
        network_doc(&s.opts.root, &nets, &name).map_err(network_error)
    })
    .await?;
    Ok(body::json(
        StatusCode::OK,
        &serde_json::to_value(doc).unwrap_or(Value::Null),
    ))
}

/// Docker's NetworkCreateRequest; unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBody {
    name: Option<String>,
    driver: Option<String>,
    internal: Option<bool>,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "IPAM")]
    ipam: Option<IpamBody>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamBody {
    config: Option<Vec<IpamConfigBody>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamConfigBody {
    subnet: Option<String>,
    gateway: Option<String>,
}

/// The create body as the store's request; a 400 names the field that cannot be honoured.
fn create_request(b: CreateBody) -> Result<CreateRequest, ApiError> {
    let name = b
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad("Name: a network needs a name"))?;
    if let Some(p) = Predefined::named(&name)
        .map(|p| p.name())
        .or((name == "bridge").then_some("bridge"))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("operation is not permitted on predefined {p} network"),
        ));
    }
    if b.internal == Some(true) {
        return Err(ApiError::bad(
            "Internal: internal networks are not supported by hull",
        ));
    }
    if b.enable_ipv6 == Some(true) {
        return Err(ApiError::bad(
            "EnableIPv6: IPv6 networks are not supported by hull",
        ));
    }
    let configs = b.ipam.and_then(|i| i.config).unwrap_or_default();
    if configs.len() > 1 {
        return Err(ApiError::bad(
            "IPAM.Config: hull networks have one IPv4 subnet",
        ));
    }
    let config = configs.into_iter().next().unwrap_or_default();
    let subnet = config
        .subnet
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|e: String| ApiError::bad(format!("IPAM.Config.Subnet: {e}")))
        })
        .transpose()?;
    let gateway = config
        .gateway
        .filter(|g| !g.is_empty())
        .map(|g| {
            g.parse::<Ipv4Addr>()
                .map_err(|_| ApiError::bad(format!("IPAM.Config.Gateway: invalid address {g:?}")))
        })
        .transpose()?;
    if gateway.is_some() && subnet.is_none() {
        return Err(ApiError::bad(
            "IPAM.Config.Gateway: a gateway needs a Subnet",
        ));
    }
    Ok(CreateRequest {
        name,
        subnet,
        gateway,
        driver: b.driver.filter(|d| !d.is_empty()),
        labels: b.labels.unwrap_or_default(),
    })
}

/// `POST /networks/create`: 201 `{"Id", "Warning"}`; a name in use is a 409 (Docker's
/// `CheckDuplicate`, always on, as since Docker 25).
async fn create(shared: &Arc<Shared>, b: CreateBody) -> Handled {
    let req = create_request(b)?;
    let net: Network = blocking(shared, move |s| {
        s.engine.network_create(&req).map_err(network_error)
    })
    .await?;
    Ok(body::json(
        StatusCode::CREATED,
        &json!({"Id": net.id, "Warning": ""}),
    ))
}

/// `DELETE /networks/{id}`: 204; the pre-defined ones and one with endpoints are refused
/// (403, as Docker's).
async fn remove(shared: &Arc<Shared>, name: String) -> Handled {
    blocking(shared, move |s| {
        let root = &s.opts.root;
        if let Some(p) = Predefined::resolve(root, &name) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "{} is a pre-defined network and cannot be removed",
                    p.name()
                ),
            ));
        }
        match s.engine.network_remove(&name) {
            Ok(_) => Ok(()),
            Err(NetworkError::InUse { name }) => {
                let id = Networks::open(root)
                    .get(&name)
                    .map(|n| n.id)
                    .unwrap_or_default();
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "error while removing network: network {name} id {id} has active endpoints"
                    ),
                ))
            }
            Err(NetworkError::InvalidInput(m)) => Err(ApiError::new(StatusCode::FORBIDDEN, m)),
            Err(e) => Err(network_error(e)),
        }
    })
    .await?;
    Ok(body::empty(StatusCode::NO_CONTENT))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttachBody {
    container: Option<String>,
    endpoint_config: Option<EndpointBody>,
    force: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EndpointBody {
    aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<EndpointIpam>,
}

#[derive(Debug, Default, Deserialize)]
struct EndpointIpam {
    #[serde(rename = "IPv4Address")]
    ipv4_address: Option<String>,
}

/// `POST /networks/{id}/connect` and `/disconnect`: 200, no body.
async fn attach(shared: &Arc<Shared>, network: String, connect: bool, b: AttachBody) -> Handled {
    let container = b
        .container
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad("Container: the container to (dis)connect is required"))?;
    let endpoint = b.endpoint_config.unwrap_or_default();
    let ip = endpoint
        .ipam_config
        .and_then(|i| i.ipv4_address)
        .filter(|ip| !ip.is_empty())
        .map(|ip| {
            ip.parse::<Ipv4Addr>().map_err(|_| {
                ApiError::bad(format!(
                    "EndpointConfig.IPAMConfig.IPv4Address: invalid {ip:?}"
                ))
            })
        })
        .transpose()?;
    let req = ConnectRequest {
        aliases: endpoint.aliases.unwrap_or_default(),
        ip,
    };
    let force = b.force.unwrap_or(false);
    blocking(shared, move |s| {
        let done = match connect {
            true => s
                .engine
                .connect_network(&network, &container, &req)
                .map(|_| ()),
            false => s.engine.disconnect_network(&network, &container, force),
        };
        done.map_err(|e| connect_error(&container, e))
    })
    .await?;
    Ok(body::empty(StatusCode::OK))
}

fn connect_error(container: &str, e: ConnectError) -> ApiError {
    match e {
        ConnectError::Container(ContainerError::NotFound(_)) => {
            ApiError::not_found(format!("No such container: {container}"))
        }
        ConnectError::Network(n) => network_error(n),
        ConnectError::NotRunning(_) => ApiError::conflict(e.to_string()),
        ConnectError::SharedNamespace { .. } | ConnectError::NotConnected { .. } => {
            ApiError::new(StatusCode::FORBIDDEN, e.to_string())
        }
        other => ApiError::internal(one_line(&other)),
    }
}

/// `POST /networks/prune?filters` (label, label!, until): `{"NetworksDeleted": […]}`.
async fn prune(shared: &Arc<Shared>, t: &Target) -> Handled {
    let mut labels = Vec::new();
    let mut until = None;
    for (k, v) in t.query.filters()? {
        match k.as_str() {
            "label" => labels.push((true, v)),
            "label!" => labels.push((false, v)),
            "until" => {
                until = Some(crate::images::until(&v).ok_or_else(|| {
                    ApiError::bad(format!("invalid filter 'until={v}': not a time"))
                })?)
            }
            _ => return Err(ApiError::bad(format!("invalid filter '{k}'"))),
        }
    }
    let removed = blocking(shared, move |s| {
        let wanted = |n: &Network| {
            let labelled = labels.iter().all(|(want, l)| {
                let has = match l.split_once('=') {
                    Some((k, v)) => n.labels.get(k).is_some_and(|have| have == v),
                    None => n.labels.contains_key(l),
                };
                has == *want
            });
            let old = until
                .is_none_or(|u| hull_image::time::parse_rfc3339(&n.created).is_some_and(|c| c < u));
            labelled && old
        };
        s.engine.network_prune_where(wanted).map_err(network_error)
    })
    .await?;
    let deleted = match removed.is_empty() {
        true => Value::Null,
        false => json!(removed),
    };
    Ok(body::json(
        StatusCode::OK,
        &json!({ "NetworksDeleted": deleted }),
    ))
}
