export interface SpinnerProps {
  size?: 'small' | 'medium' | 'large';
  /** Announced to screen readers; pass '' inside a component that already announces its state. */
  label?: string;
  className?: string;
}

export function Spinner({ size = 'medium', label = 'Loading', className }: SpinnerProps) {
  const classes = ['nx-spinner', size !== 'medium' && `nx-spinner--${size}`, className]
    .filter(Boolean)
    .join(' ');
  if (!label) return <span className={classes} aria-hidden="true" />;
  return (
    <span role="status" aria-live="polite">
      <span className={classes} aria-hidden="true" />
      <span className="nx-visually-hidden">{label}</span>
    </span>
  );
}

/** A centred spinner with a caption, for whole-page loading states. */
export function PageLoading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="nx-page-loading" role="status" aria-live="polite">
      <span className="nx-spinner nx-spinner--large" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}
