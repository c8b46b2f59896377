//! The listener side of the server: accepting connections and holding each one to its time limits, so that a
//! client that stalls (slow-loris: headers or a body trickled in, a response never read) cannot keep a
//! connection, a task and a file descriptor for ever.
//!
//! `axum::serve` has none of these limits (hyper's header timer needs a timer it does not give), so connections
//! are served here with hyper's HTTP/1 builder directly:
//! - at most `max_connections` at once (a semaphore; when full, new clients wait in the kernel's accept backlog
//!   until a connection ends rather than making the process run out of descriptors);
//! - `header_read_timeout` for a request's head, which in hyper also bounds the wait for the next request on an
//!   idle keep-alive connection;
//! - `body_read_timeout` for the whole request body, from the moment its head arrived (a per-chunk timeout would
//!   let a client trickle one byte every few seconds);
//! - `idle_timeout`: a connection on which no byte moved in either direction for that long is dropped, which also
//!   covers a client that never reads its response.
//!
//! Every request gets the peer address as axum's `ConnectInfo<SocketAddr>` (per-address limits need it).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// The per-connection limits, from `ServerConfig`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets every connection finish its
/// in-flight request (idle keep-alive connections close at once) and returns when all have ended.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Per-connection errors (ECONNABORTED) and resource exhaustion (EMFILE) are not fatal to the
                    // server; the pause keeps the loop from spinning while descriptors are short.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, app, limits, stop).await;
            drop(permit);
        });
    }
    // New clients are refused from here on instead of waiting in a backlog nobody accepts from.
    drop(listener);
    let _ = stop_tx.send(true);
    // Each connection task holds one permit until it ends: having them all back means every connection is done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let last_activity = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Tracked { inner: stream, started, last_activity: last_activity.clone() });
    let body_timeout = limits.body_read_timeout;
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(|body| Body::new(DeadlineBody::new(body, body_timeout)));
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(io, svc);
    let mut conn = pin!(conn);
    let mut draining = false;
    loop {
        let seen = last_activity.load(Ordering::Relaxed);
        let idle_deadline = started + Duration::from_millis(seen) + limits.idle_timeout;
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = stop.wait_for(|stop| *stop), if !draining => {
                // Finishes the request in flight, then closes; an idle connection closes at once.
                conn.as_mut().graceful_shutdown();
                draining = true;
            }
            () = tokio::time::sleep_until(idle_deadline) => {
                if last_activity.load(Ordering::Relaxed) == seen {
                    // Nothing moved for a whole idle period: dropping the connection closes the socket.
                    tracing::debug!("connection closed after the idle timeout");
                    return;
                }
            }
        }
    }
}

/// A socket that records when it last moved a byte, for the idle timeout.
struct Tracked {
    inner: TcpStream,
    started: Instant,
    /// Milliseconds since `started`.
    last_activity: Arc<AtomicU64>,
}

impl Tracked {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_activity.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.touch();
        }
        res
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            this.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The request body was not complete within the body read timeout. Body readers (the RPC endpoint, the device
/// extractor) see it as a read error.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within {} s", .0.as_secs())]
pub(crate) struct BodyTimeout(pub Duration);

/// A request body with one deadline for all of it.
struct DeadlineBody {
    inner: Incoming,
    /// `None` for a body that is already complete (GET): no timer to set up.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    limit: Duration,
    timed_out: bool,
}

impl DeadlineBody {
    fn new(inner: Incoming, limit: Duration) -> Self {
        let deadline = (!inner.is_end_stream()).then(|| Box::pin(tokio::time::sleep(limit)));
        DeadlineBody { inner, deadline, limit, timed_out: false }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.timed_out {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if let Some(deadline) = &mut this.deadline
            && deadline.as_mut().poll(cx).is_ready()
        {
            this.timed_out = true;
            return Poll::Ready(Some(Err(BodyTimeout(this.limit).into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.timed_out || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Far above the timeouts below: reaching it means the connection was kept.
    const BOUND: Duration = Duration::from_secs(30);

    #[tokio::test]
    async fn a_connection_where_nothing_moves_is_closed_after_the_idle_timeout() {
        // A handler slower than the bound stands for any wait without traffic (a response the client does not read
        // blocks the same way); hyper's own timers do not cover it.
        let app = Router::new().route("/slow", get(|| tokio::time::sleep(Duration::from_secs(600))));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = ConnLimits {
            header_read_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(1),
            max_connections: 4,
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(run(listener, app, limits, async move {
            let _ = rx.await;
        }));
        let mut conn = TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(BOUND, conn.read(&mut buf)).await;
        assert!(matches!(closed, Ok(Ok(0) | Err(_))), "the idle connection is closed: {closed:?}");
        let _ = tx.send(());
        tokio::time::timeout(BOUND, server).await.expect("shutdown finishes").unwrap().unwrap();
    }
}
