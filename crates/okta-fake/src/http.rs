//! A minimal loopback HTTP/1.1 server for the fakes (Okta tenant, intake, proxy).
//!
//! Built directly on hyper because the fakes need faults an ordinary mock server (the tests use
//! wiremock) cannot produce: bodies cut off mid-stream and connections dropped without a
//! response.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A request as the fakes see it: everything already read into memory.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path only, percent-encoded as received.
    pub path: String,
    /// Raw query string (without `?`), percent-encoded as received.
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Decoded query parameters, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// What a handler answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A normal response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Bytes,
    },
    /// Announce the whole body's length, send only `sent` bytes of it, then cut the connection.
    Truncated {
        status: u16,
        headers: Vec<(String, String)>,
        body: Bytes,
        sent: usize,
    },
    /// Close the connection without any response.
    Drop,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply::Full {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply::Full {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a header (response variants only).
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        if let Reply::Full { headers, .. } | Reply::Truncated { headers, .. } = &mut self {
            headers.push((name.to_string(), value.into()));
        }
        self
    }
}

pub type Handler =
    Arc<dyn Fn(Request) -> Pin<Box<dyn std::future::Future<Output = Reply> + Send>> + Send + Sync>;

/// Wraps an async closure into a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Reply> + Send + 'static,
{
    Arc::new(move |req| Box::pin(f(req)))
}

/// A running server; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl TestServer {
    /// Binds `127.0.0.1:port` (0 = any free port) and serves `handler` until dropped.
    pub async fn start(port: u16, handler: Handler) -> std::io::Result<TestServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let (shutdown, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = stopped.changed() => return,
                };
                let Ok((stream, _)) = accepted else { continue };
                let handler = handler.clone();
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| serve_one(handler.clone(), req));
                    let conn = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = stopped.changed() => {}
                    }
                });
            }
        });
        Ok(TestServer { addr, shutdown })
    }

    /// Binds a free loopback port; `serve` answers every request with its own handle on
    /// `state`. Panics, naming `what`, when no port can be bound.
    pub async fn serving<S, F, Fut>(what: &str, state: &Arc<S>, serve: F) -> TestServer
    where
        S: Send + Sync + 'static,
        F: Fn(Arc<S>, Request) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Reply> + Send + 'static,
    {
        let state = state.clone();
        let handler = handler(move |request| serve(state.clone(), request));
        let server = TestServer::start(0, handler).await;
        server.unwrap_or_else(|error| panic!("start {what}: {error}"))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// The error hyper sees when a handler wants the connection gone.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

async fn serve_one(
    handler: Handler,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<FakeBody>, DropConnection> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let request = Request {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    };
    match handler(request).await {
        Reply::Drop => Err(DropConnection),
        Reply::Full {
            status,
            headers,
            body,
        } => Ok(build(status, &headers, body.len(), FakeBody::full(body))),
        Reply::Truncated {
            status,
            headers,
            body,
            sent,
        } => {
            let len = body.len();
            let head = body.slice(..sent.min(len));
            Ok(build(status, &headers, len, FakeBody::truncated(head)))
        }
    }
}

fn build(
    status: u16,
    headers: &[(String, String)],
    content_length: usize,
    body: FakeBody,
) -> hyper::Response<FakeBody> {
    let mut response = hyper::Response::new(body);
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let map = response.headers_mut();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            // `append`, not `insert`: Okta sends `Link` as several header fields.
            map.append(name, value);
        }
    }
    map.insert(
        hyper::header::CONTENT_LENGTH,
        HeaderValue::from(content_length as u64),
    );
    response
}

/// A body that is either whole or cut off with an error after its first chunk.
pub struct FakeBody {
    chunk: Option<Bytes>,
    fail_after: bool,
    /// Truncated bodies pause once after their chunk so that hyper flushes it to the client
    /// before the error aborts the connection (otherwise the client sees no response at all).
    paused: bool,
}

impl FakeBody {
    fn full(bytes: Bytes) -> FakeBody {
        FakeBody {
            chunk: Some(bytes),
            fail_after: false,
            paused: false,
        }
    }

    fn truncated(bytes: Bytes) -> FakeBody {
        FakeBody {
            chunk: Some(bytes),
            fail_after: true,
            paused: false,
        }
    }
}

impl Body for FakeBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(chunk) = self.chunk.take() {
            if !chunk.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
        }
        if self.fail_after && !self.paused {
            self.paused = true;
            let waker = cx.waker().clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                waker.wake();
            });
            return Poll::Pending;
        }
        if self.fail_after {
            self.fail_after = false;
            return Poll::Ready(Some(Err(std::io::Error::other(
                "body truncated on purpose",
            ))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.chunk.is_none() && !self.fail_after
    }
}
