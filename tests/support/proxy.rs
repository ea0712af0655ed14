//! A small TCP front proxy for the faults wiremock cannot make.
//!
//! wiremock always answers with a well-formed HTTP response; the faults
//! that stranded real jobs were below HTTP: a socket closed mid-response,
//! a connection reset, a body cut short. The proxy sits between seamguard
//! and the MockServer (seamguard's `GITHUB_API_URL` is the proxy), handles
//! one request per connection (it forces `connection: close` both ways, so
//! the client never reuses a connection the proxy is about to break), logs
//! every attempt in the world, and for a request matching a transport rule:
//!
//! - [`TransportFault::Close`]: closes the socket without answering;
//! - [`TransportFault::Reset`]: resets it (`SO_LINGER` 0 → `ECONNRESET`);
//! - [`TransportFault::Truncate`]: sends the headers and half the body,
//!   then closes.
//!
//! By default the request is forwarded first, so GitHub *did* act and only
//! the answer is lost (the ambiguous case); `before_github()` drops it
//! before the fake sees it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::fake_github::Shared;
use super::world::Attempt;

/// Requests larger than this are not seamguard's (GitHub caps bodies too).
const MAX_REQUEST: usize = 32 * 1024 * 1024;

/// How a connection breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFault {
    /// Close the socket without a byte of answer.
    Close,
    /// Reset the connection (the client reads `ECONNRESET`).
    Reset,
    /// Send the status line, the headers and half the body, then close.
    Truncate,
}

/// The proxy runs on a runtime of its own (like wiremock's server), so it
/// keeps serving while a test blocks its own thread (waiting on a child
/// process, say) or runs on a single-threaded runtime.
pub struct Proxy {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Proxy {
    pub async fn start(upstream: SocketAddr, shared: Arc<Shared>) -> Self {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy on loopback");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("proxy address");
        let (stop, mut stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("fake-github-proxy".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("proxy runtime");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("tokio listener");
                    loop {
                        tokio::select! {
                            _ = &mut stopped => break,
                            accepted = listener.accept() => {
                                let Ok((socket, _)) = accepted else { break };
                                let shared = shared.clone();
                                let counted = InFlight::enter(shared.clone());
                                tokio::spawn(async move {
                                    // A client that hangs up is not an error of the fake.
                                    let _ = serve(socket, upstream, shared).await;
                                    drop(counted);
                                });
                            }
                        }
                    }
                });
            })
            .expect("spawn the proxy thread");
        Self {
            addr,
            stop: Some(stop),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// One connection counted in [`Shared::in_flight`] from its accept until
/// its answer is sent (or it is broken), whatever way the task ends.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn enter(shared: Arc<Shared>) -> Self {
        shared
            .in_flight
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.changed();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request: the head and a `Content-Length` (or chunked) body.
async fn read_request(socket: &mut TcpStream) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = buf[..head_end].to_vec();
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = text
        .lines()
        .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
    let mut body = buf[head_end..].to_vec();
    loop {
        let complete = match (length, chunked) {
            (Some(n), _) => body.len() >= n,
            (None, true) => body.ends_with(b"0\r\n\r\n"),
            (None, false) => true,
        };
        if complete || body.len() > MAX_REQUEST {
            break;
        }
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some((head, body)))
}

/// The head with `connection: close` in place of any keep-alive headers.
fn closing(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("connection: close\r\n\r\n");
    out.into_bytes()
}

async fn serve(mut client: TcpStream, upstream: SocketAddr, shared: Arc<Shared>) -> io::Result<()> {
    let Some((head, body)) = read_request(&mut client).await? else {
        return Ok(());
    };
    let request_line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_ascii_uppercase();
    let target = parts.next().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default().to_owned();

    let rule = shared.edit(|w| {
        let rule = w.faults.take_transport(&method, &path);
        w.attempts.push(Attempt {
            method: method.clone(),
            path: path.clone(),
            fault: rule.as_ref().map(|r| {
                format!(
                    "{:?}{}",
                    r.fault,
                    if r.before_github {
                        " (before GitHub)"
                    } else {
                        ""
                    }
                )
            }),
        });
        rule
    });

    if let Some(rule) = rule.as_ref().filter(|r| r.before_github) {
        return break_connection(client, rule.fault, &[]).await;
    }

    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&closing(&head)).await?;
    server.write_all(&body).await?;
    let mut response = Vec::new();
    server.read_to_end(&mut response).await?;

    let Some(rule) = rule else {
        let out = match find(&response, b"\r\n\r\n") {
            Some(i) => [closing(&response[..i + 4]), response[i + 4..].to_vec()].concat(),
            None => response,
        };
        client.write_all(&out).await?;
        client.shutdown().await?;
        return Ok(());
    };
    break_connection(client, rule.fault, &response).await
}

/// Applies `fault` to the client's connection; `response` is the answer
/// the fake gave (empty when the request never reached it).
async fn break_connection(
    mut client: TcpStream,
    fault: TransportFault,
    response: &[u8],
) -> io::Result<()> {
    match fault {
        TransportFault::Close => {
            client.shutdown().await?;
        }
        TransportFault::Reset => {
            client.set_zero_linger()?;
        }
        TransportFault::Truncate => {
            let cut = match find(response, b"\r\n\r\n") {
                // An empty body cannot be cut: cut the head instead.
                Some(i) if i + 4 < response.len() => {
                    let head = closing(&response[..i + 4]);
                    let body = &response[i + 4..];
                    [head, body[..body.len() / 2].to_vec()].concat()
                }
                Some(i) => response[..i / 2].to_vec(),
                None => response[..response.len() / 2].to_vec(),
            };
            client.write_all(&cut).await?;
            client.shutdown().await?;
        }
    }
    drop(client);
    Ok(())
}
