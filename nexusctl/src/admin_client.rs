//! HTTP/1.1 over a daemon's admin unix socket.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

/// `GET path` on the admin socket; returns the status code and body.
pub async fn get(socket: &Path, path: &str, timeout: Duration) -> Result<(u16, Bytes)> {
    tokio::time::timeout(timeout, get_inner(socket, path))
        .await
        .with_context(|| format!("{} did not answer within {timeout:?}", socket.display()))?
}

async fn get_inner(socket: &Path, path: &str) -> Result<(u16, Bytes)> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .with_context(|| format!("cannot connect to {}", socket.display()))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, "nexus-admin")
        .body(Empty::<Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}
