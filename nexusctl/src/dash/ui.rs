//! Drawing the dashboard: one function of the app's state to a frame.

use nexus_wire::DaemonState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Gauge, Paragraph, Row, Sparkline, Table, Wrap};

use super::app::{App, Mode};
use crate::alerts::{Severity, age_text};

pub fn draw(f: &mut Frame, app: &App) {
    let s = &app.sample;
    let [header, services, charts, middle, logs, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(s.services.len() as u16 + 3),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    draw_header(f, app, header);
    draw_services(f, app, services);
    draw_charts(f, app, charts);
    let [alerts, side] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(middle);
    draw_alerts(f, app, alerts);
    draw_backup_and_disk(f, app, side);
    draw_logs(f, app, logs);
    draw_footer(f, app, footer);
    match &app.mode {
        Mode::Help => draw_help(f),
        Mode::Confirm(name) => draw_confirm(f, name),
        Mode::Normal => {}
    }
}

fn draw_header(f: &mut Frame, app: &App, area: Rect) {
    let s = &app.sample;
    let critical = s
        .alerts
        .iter()
        .filter(|a| a.severity == Severity::Critical)
        .count();
    let warnings = s
        .alerts
        .iter()
        .filter(|a| a.severity == Severity::Warning)
        .count();
    let (state, style) = if !s.running {
        ("NOT RUNNING", Style::new().fg(Color::Red).bold())
    } else if critical > 0 {
        ("NEEDS ATTENTION", Style::new().fg(Color::Red).bold())
    } else if warnings > 0 {
        ("WARNINGS", Style::new().fg(Color::Yellow).bold())
    } else {
        ("ALL WELL", Style::new().fg(Color::Green).bold())
    };
    let line = Line::from(vec![
        Span::styled(" NEXUS ", Style::new().bold().reversed()),
        Span::raw(" "),
        Span::styled(state, style),
        Span::raw(format!(
            "  {}  {critical} critical, {warnings} warning{}",
            s.url.as_deref().unwrap_or("-"),
            if warnings == 1 { "" } else { "s" }
        )),
    ]);
    f.render_widget(Paragraph::new(line), area);
}

fn state_style(state: DaemonState, healthy: bool) -> Style {
    match state {
        DaemonState::Running if healthy => Style::new().fg(Color::Green),
        DaemonState::Running => Style::new().fg(Color::Yellow),
        DaemonState::Starting | DaemonState::Restarting | DaemonState::Stopping => {
            Style::new().fg(Color::Yellow)
        }
        DaemonState::Failed => Style::new().fg(Color::Red).bold(),
        DaemonState::Stopped => Style::new().fg(Color::DarkGray),
    }
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "-".to_owned(), f)
}

fn draw_services(f: &mut Frame, app: &App, area: Rect) {
    let header = Row::new([
        "SERVICE", "STATE", "PID", "UPTIME", "CPU%", "MEMORY", "REQ/S", "ERR/S", "P99", "RESTARTS",
    ])
    .style(Style::new().bold());
    let rows = app.sample.services.iter().map(|s| {
        let r = app.rates.get(&s.name).cloned().unwrap_or_default();
        let state = if s.state == DaemonState::Running && !s.healthy {
            "unhealthy".to_owned()
        } else {
            s.state.to_string()
        };
        Row::new([
            Cell::from(s.name.clone()),
            Cell::from(state).style(state_style(s.state, s.healthy)),
            Cell::from(s.pid.map_or_else(|| "-".to_owned(), |p| p.to_string())),
            Cell::from(opt(s.uptime_secs, |u| age_text(u as i64))),
            Cell::from(opt(r.cpu_percent, |c| format!("{c:.1}"))),
            Cell::from(opt(s.rss_bytes.map(|b| b as f64), |b| {
                format!("{:.1} MiB", b / 1_048_576.0)
            })),
            Cell::from(opt(r.requests_per_sec, |v| format!("{v:.1}"))),
            Cell::from(opt(r.errors_per_sec, |v| format!("{v:.1}"))),
            Cell::from(crate::metrics::ms(r.p99_ms)),
            Cell::from(s.restarts.to_string()),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(11),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(6),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(9),
            Constraint::Length(8),
        ],
    )
    .header(header)
    .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
    .highlight_symbol("▶ ")
    .block(Block::bordered().title(" Services "));
    let mut state = ratatui::widgets::TableState::default();
    state.select(Some(app.selected));
    f.render_stateful_widget(table, area, &mut state);
}

fn draw_charts(f: &mut Frame, app: &App, area: Rect) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let name = app
        .selected_service()
        .map_or("-", |s| s.name.as_str())
        .to_owned();
    let h = app.history.get(&name);
    let tail = |q: Option<&std::collections::VecDeque<u64>>, width: u16| -> Vec<u64> {
        let Some(q) = q else { return Vec::new() };
        let keep = usize::from(width.saturating_sub(2));
        q.iter()
            .skip(q.len().saturating_sub(keep))
            .copied()
            .collect()
    };
    let req = tail(h.map(|h| &h.requests), left.width);
    let lat = tail(h.map(|h| &h.latency), right.width);
    let now_req = app.rates.get(&name).and_then(|r| r.requests_per_sec);
    let now_lat = app.rates.get(&name).and_then(|r| r.p99_ms);
    f.render_widget(
        Sparkline::default()
            .block(Block::bordered().title(format!(
                " {name}: requests/s ({}) ",
                opt(now_req, |v| format!("{v:.1}"))
            )))
            .data(&req)
            .style(Style::new().fg(Color::Cyan)),
        left,
    );
    f.render_widget(
        Sparkline::default()
            .block(Block::bordered().title(format!(
                " {name}: latency p99 ({}) ",
                crate::metrics::ms(now_lat)
            )))
            .data(&lat)
            .style(Style::new().fg(Color::Magenta)),
        right,
    );
}

fn draw_alerts(f: &mut Frame, app: &App, area: Rect) {
    let now = app.sample.now;
    let lines: Vec<Line> = if app.sample.alerts.is_empty() {
        vec![Line::from(Span::styled(
            "no alerts",
            Style::new().fg(Color::Green),
        ))]
    } else {
        app.sample
            .alerts
            .iter()
            .map(|a| {
                let style = match a.severity {
                    Severity::Critical => Style::new().fg(Color::Red).bold(),
                    Severity::Warning => Style::new().fg(Color::Yellow),
                    Severity::Info => Style::new().fg(Color::Blue),
                };
                Line::from(vec![
                    Span::styled(format!("{:<8} ", a.severity.to_string()), style),
                    Span::raw(a.summary.clone()),
                    Span::styled(
                        format!(" ({})", age_text(now - a.since)),
                        Style::new().fg(Color::DarkGray),
                    ),
                ])
            })
            .collect()
    };
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Alerts ")),
        area,
    );
}

fn when(now: i64, t: i64) -> String {
    if t >= now {
        format!("in {}", age_text(t - now))
    } else {
        format!("{} ago", age_text(now - t))
    }
}

fn draw_backup_and_disk(f: &mut Frame, app: &App, area: Rect) {
    let [backup, disk] = Layout::vertical([Constraint::Min(3), Constraint::Length(3)]).areas(area);
    let b = &app.sample.backup;
    let now = app.sample.now;
    let mut lines = Vec::new();
    match &b.schedule {
        Some(s) => lines.push(Line::raw(s.clone())),
        None => lines.push(Line::styled(
            "not scheduled",
            Style::new().fg(Color::Yellow),
        )),
    }
    match &b.last {
        Some((t, true, _)) => lines.push(Line::raw(format!("last: ok, {}", when(now, *t)))),
        Some((t, false, why)) => lines.push(Line::styled(
            format!(
                "last: FAILED {}: {}",
                when(now, *t),
                why.as_deref().unwrap_or("?")
            ),
            Style::new().fg(Color::Red),
        )),
        None => lines.push(Line::raw("last: never")),
    }
    if b.last.as_ref().is_some_and(|(_, ok, _)| !ok) {
        lines.push(Line::raw(match b.last_success {
            Some(t) => format!("last success: {}", when(now, t)),
            None => "last success: never".to_owned(),
        }));
    }
    if let Some(next) = b.next {
        lines.push(Line::raw(format!("next: {}", when(now, next))));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Backup ")),
        backup,
    );
    let (ratio, label) = match app.sample.disk {
        Some((used, total)) if total > 0 => {
            let r = used as f64 / total as f64;
            (
                r.clamp(0.0, 1.0),
                format!(
                    "{:.0}% used, {} free",
                    r * 100.0,
                    crate::backup::size_text(total - used)
                ),
            )
        }
        _ => (0.0, "unknown".to_owned()),
    };
    let color = if ratio >= 0.9 {
        Color::Red
    } else if ratio >= 0.75 {
        Color::Yellow
    } else {
        Color::Green
    };
    f.render_widget(
        Gauge::default()
            .block(Block::bordered().title(" Disk "))
            .gauge_style(Style::new().fg(color))
            .ratio(ratio)
            .label(label),
        disk,
    );
}

fn draw_logs(f: &mut Frame, app: &App, area: Rect) {
    let name = app.selected_service().map_or("-", |s| s.name.as_str());
    let lines = app.log_lines();
    let room = usize::from(area.height.saturating_sub(2));
    let shown: Vec<Line> = lines
        .iter()
        .skip(lines.len().saturating_sub(room))
        .map(|l| Line::raw((*l).to_owned()))
        .collect();
    let title = format!(
        " {name} log ({}) ",
        if app.errors_only {
            "warnings and errors; e: all lines"
        } else {
            "all lines; e: warnings and errors only"
        }
    );
    let body = if shown.is_empty() {
        Paragraph::new(Line::styled(
            "nothing yet",
            Style::new().fg(Color::DarkGray),
        ))
    } else {
        Paragraph::new(shown)
    };
    f.render_widget(body.block(Block::bordered().title(title)), area);
}

fn draw_footer(f: &mut Frame, app: &App, area: Rect) {
    let keys = "↑↓ select  r restart  e log filter  ? help  q quit";
    let line = match &app.message {
        Some(m) => Line::from(vec![
            Span::styled(m.clone(), Style::new().bold()),
            Span::raw("   "),
            Span::styled(keys, Style::new().fg(Color::DarkGray)),
        ]),
        None => Line::styled(keys, Style::new().fg(Color::DarkGray)),
    };
    f.render_widget(Paragraph::new(line), area);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_help(f: &mut Frame) {
    let text = vec![
        Line::raw("↑ ↓  j k  Tab   select a service"),
        Line::raw("r               restart the selected service (asks first)"),
        Line::raw("e               log pane: warnings and errors only / all lines"),
        Line::raw("? h F1          this help"),
        Line::raw("q Esc Ctrl-C    quit"),
        Line::raw(""),
        Line::raw("Refreshes every second. Alerts are evaluated by `nexusctl up`"),
        Line::raw("every 15 s; `nexusctl alerts` lists them with what to do."),
        Line::raw(""),
        Line::styled("any key closes this help", Style::new().fg(Color::DarkGray)),
    ];
    let area = centered(f.area(), 70, text.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(text).block(Block::bordered().title(" Help ")),
        area,
    );
}

fn draw_confirm(f: &mut Frame, name: &str) {
    let text = vec![
        Line::raw(format!("Restart {name}?")),
        Line::raw("It stops gracefully and starts again;"),
        Line::raw("requests in flight are finished first."),
        Line::raw(""),
        Line::styled("y: restart    any other key: cancel", Style::new().bold()),
    ];
    let area = centered(f.area(), 44, text.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(text).block(Block::bordered().title(" Restart ")),
        area,
    );
}
