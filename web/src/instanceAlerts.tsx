// The instance's health alerts (`GET /api/admin/instance/alerts`), shared by the Hub's banner
// and the admin console's "Instance health" section.
import type { ReactNode } from 'react';
import type { AlertSeverity, InstanceAlert } from './api';

const RANK: Record<AlertSeverity, number> = { critical: 0, warning: 1, info: 2 };

export const SEVERITY_LABEL: Record<AlertSeverity, string> = {
  critical: 'Critical',
  warning: 'Warning',
  info: 'Info',
};

/** The alerts most severe first; alerts of one severity keep the server's order. */
export function bySeverity(alerts: readonly InstanceAlert[]): InstanceAlert[] {
  return [...alerts].sort((a, b) => (RANK[a.severity] ?? 3) - (RANK[b.severity] ?? 3));
}

/** The warning and critical alerts (the ones that need someone), most severe first. */
export function needingAttention(alerts: readonly InstanceAlert[]): InstanceAlert[] {
  return bySeverity(alerts.filter((a) => a.severity === 'critical' || a.severity === 'warning'));
}

/** The current time in Unix seconds, as the server counts. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** How long ago Unix second `then` was, e.g. "12 minutes ago" ("just now" under a minute). */
export function timeAgo(then: number, now = nowSeconds()): string {
  const seconds = Math.max(0, now - then);
  if (seconds < 60) return 'just now';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${plural(minutes, 'minute')} ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${plural(hours, 'hour')} ago`;
  return `${plural(Math.floor(hours / 24), 'day')} ago`;
}

/** Unix second `then` as a relative time, with the exact moment for machines and tooltips. */
export function Ago({ at, now }: { at: number; now?: number }) {
  const date = new Date(at * 1000);
  return (
    <time dateTime={date.toISOString()} title={date.toLocaleString()}>
      {timeAgo(at, now)}
    </time>
  );
}

/** An alert's text with the commands it quotes in backticks (`nexusctl logs web`) as code. */
export function CommandText({ text }: { text: string }) {
  const pieces = text.split('`');
  // An unpaired backtick stays as it is.
  if (pieces.length % 2 === 0) pieces.splice(-2, 2, `${pieces.at(-2)}\`${pieces.at(-1)}`);
  const parts: ReactNode[] = pieces.map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part));
  return <>{parts}</>;
}
