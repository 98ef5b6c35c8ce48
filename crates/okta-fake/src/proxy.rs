//! A recording, tampering HTTP proxy in front of a fake (reliability and secret-canary tests).
//!
//! The connector is pointed at the proxy instead of the fake. Every request is recorded (method,
//! path, query, headers, body), so a test can say exactly what reached which host; an
//! [`Proxy::intercept`] hook answers a request itself (a redirect, a 50 MB body, ...) and a
//! [`Proxy::tamper`] hook rewrites the fake's answer (a bad record among good ones, a `next`
//! loop, invalid UTF-8, ...). Forwarded requests carry the proxy's own `Host`, so the fake Okta
//! tenant builds its `Link` headers on the proxy's origin and paging goes through it too.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::http::{Reply, Request, TestServer};

type Intercept = Arc<dyn Fn(&Request) -> Option<Reply> + Send + Sync>;
type Tamper = Arc<dyn Fn(&Request, Reply) -> Reply + Send + Sync>;

struct Shared {
    target: String,
    host: Mutex<String>,
    client: reqwest::Client,
    requests: Mutex<Vec<Request>>,
    intercept: Mutex<Option<Intercept>>,
    tamper: Mutex<Option<Tamper>>,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    server: TestServer,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Proxies to `target` (`http://127.0.0.1:PORT`, no trailing slash).
    pub async fn start(target: &str) -> Proxy {
        let shared = Arc::new(Shared {
            target: target.trim_end_matches('/').to_string(),
            host: Mutex::new(String::new()),
            client: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("proxy client"),
            requests: Mutex::new(Vec::new()),
            intercept: Mutex::new(None),
            tamper: Mutex::new(None),
        });
        let server = TestServer::serving("the proxy", &shared, |state, request| async move {
            serve(&state, request).await
        })
        .await;
        *shared.host.lock().unwrap() = server.addr().to_string();
        Proxy { server, shared }
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Answers requests for which `f` returns `Some` without asking the fake.
    pub fn intercept(&self, f: impl Fn(&Request) -> Option<Reply> + Send + Sync + 'static) {
        *self.shared.intercept.lock().unwrap() = Some(Arc::new(f));
    }

    /// Rewrites every answer of the fake through `f`.
    pub fn tamper(&self, f: impl Fn(&Request, Reply) -> Reply + Send + Sync + 'static) {
        *self.shared.tamper.lock().unwrap() = Some(Arc::new(f));
    }

    /// Removes the hooks (recording goes on).
    pub fn clear(&self) {
        *self.shared.intercept.lock().unwrap() = None;
        *self.shared.tamper.lock().unwrap() = None;
    }
}

const HOP_BY_HOP: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

async fn serve(shared: &Shared, request: Request) -> Reply {
    shared.requests.lock().unwrap().push(request.clone());
    let intercept = shared.intercept.lock().unwrap().clone();
    if let Some(reply) = intercept.and_then(|f| f(&request)) {
        return reply;
    }
    let reply = forward(shared, &request).await;
    let tamper = shared.tamper.lock().unwrap().clone();
    match tamper {
        Some(f) => f(&request, reply),
        None => reply,
    }
}

async fn forward(shared: &Shared, request: &Request) -> Reply {
    let query = if request.query.is_empty() {
        String::new()
    } else {
        format!("?{}", request.query)
    };
    let url = format!("{}{}{query}", shared.target, request.path);
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
    let mut outgoing = shared.client.request(method, url);
    for (name, value) in &request.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            outgoing = outgoing.header(name.as_str(), value.as_bytes());
        }
    }
    let host = shared.host.lock().unwrap().clone();
    outgoing = outgoing.header("host", host);
    let answer = match outgoing.body(request.body.clone()).send().await {
        Ok(answer) => answer,
        Err(_) => return Reply::Drop,
    };
    let status = answer.status().as_u16();
    let headers: Vec<(String, String)> = answer
        .headers()
        .iter()
        .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()))
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
        .collect();
    match answer.bytes().await {
        Ok(body) => Reply::Full {
            status,
            headers,
            body,
        },
        // The fake cut the body: cut ours too.
        Err(_) => Reply::Drop,
    }
}

/// Helpers to rewrite answers.
pub mod edit {
    use super::*;

    /// The body of a full answer, parsed as JSON.
    pub fn json(reply: &Reply) -> Option<serde_json::Value> {
        match reply {
            Reply::Full { body, .. } => serde_json::from_slice(body).ok(),
            _ => None,
        }
    }

    /// Replaces the body of a full answer.
    pub fn with_body(reply: Reply, new: impl Into<Bytes>) -> Reply {
        match reply {
            Reply::Full {
                status, headers, ..
            } => Reply::Full {
                status,
                headers,
                body: new.into(),
            },
            other => other,
        }
    }

    /// The `rel="next"` target of a full answer, if any.
    pub fn next_link(reply: &Reply) -> Option<String> {
        let Reply::Full { headers, .. } = reply else {
            return None;
        };
        headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("link"))
            .find(|(_, value)| value.contains("rel=\"next\""))
            .and_then(|(_, value)| {
                let start = value.find('<')? + 1;
                let end = value.find('>')?;
                Some(value[start..end].to_string())
            })
    }

    /// Replaces the `rel="next"` link of a full answer (adds one if there is none).
    pub fn with_next_link(reply: Reply, target: &str) -> Reply {
        match reply {
            Reply::Full {
                status,
                mut headers,
                body,
            } => {
                headers.retain(|(name, value)| {
                    !(name.eq_ignore_ascii_case("link") && value.contains("rel=\"next\""))
                });
                headers.push(("link".into(), format!("<{target}>; rel=\"next\"")));
                Reply::Full {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }
}
