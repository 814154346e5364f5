//! Process life cycle: signals and the systemd notification protocol.
//!
//! `sd_notify` is a no-op unless `NOTIFY_SOCKET` is set, which both systemd and nexusctl's
//! own supervisor do, so the daemon behaves the same under either.

use tokio_util::sync::CancellationToken;

/// Cancels `token` on the first SIGTERM or SIGINT.
pub fn cancel_on_signals(token: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received; shutting down"),
            _ = int.recv() => tracing::info!("SIGINT received; shutting down"),
            _ = token.cancelled() => return,
        }
        token.cancel();
    });
    Ok(())
}

pub fn notify_ready(status: &str) {
    send(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(status),
    ]);
}

pub fn notify_stopping() {
    send(&[
        sd_notify::NotifyState::Stopping,
        sd_notify::NotifyState::Status("shutting down"),
    ]);
}

pub fn notify_status(status: &str) {
    send(&[sd_notify::NotifyState::Status(status)]);
}

fn send(states: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}

/// Pings the watchdog at half its interval while `healthy` says so, until `cancel` fires.
/// Returns at once when no watchdog is configured.
pub fn spawn_watchdog<F, Fut>(cancel: CancellationToken, healthy: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    if interval.is_zero() {
        return;
    }
    let period = interval / 2;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {
                    if healthy().await {
                        send(&[sd_notify::NotifyState::Watchdog]);
                    } else {
                        tracing::warn!("health check failed; withholding the watchdog ping");
                    }
                }
            }
        }
    });
}
