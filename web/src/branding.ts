// Per-organization branding: the organization's colour becomes the accent of the whole app.
import { useEffect } from 'react';

const HEX = /^#[0-9a-f]{6}$/i;

/** True for a colour the server accepts as a brand colour: `#` and six hex digits. */
export function isBrandColor(value: string): boolean {
  return HEX.test(value);
}

/** WCAG relative luminance of a `#rrggbb` colour, 0 (black) to 1 (white). */
function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** Text colour for labels on the brand colour: white or near-black, whichever contrasts more. */
export function textOn(hex: string): string {
  const l = luminance(hex);
  return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? '#ffffff' : '#111418';
}

/** The design tokens (tokens.css) a brand colour overrides; null for none or an invalid one. */
export function brandTokens(color: string | null | undefined): Record<string, string> | null {
  if (!color || !isBrandColor(color)) return null;
  return {
    '--nx-color-primary': color,
    '--nx-color-primary-hover': `color-mix(in srgb, ${color} 82%, #000)`,
    '--nx-color-primary-soft': `color-mix(in srgb, ${color} 14%, var(--nx-color-surface))`,
    '--nx-color-on-primary': textOn(color),
    '--nx-color-focus': color,
  };
}

/**
 * Sets the brand colour's tokens on <html> while `color` is set, and removes them when it
 * changes or goes away (another organization's user, or logged out).
 */
export function useBrandColor(color: string | null | undefined) {
  useEffect(() => {
    const tokens = brandTokens(color);
    if (!tokens) return;
    const style = document.documentElement.style;
    for (const [name, value] of Object.entries(tokens)) style.setProperty(name, value);
    return () => {
      for (const name of Object.keys(tokens)) style.removeProperty(name);
    };
  }, [color]);
}
