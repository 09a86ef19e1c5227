import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';

/** One static file of the page, read once, with its content type. */
export interface PageAsset {
  type: string;
  body: Buffer;
}

/** The page's files by URL path. They live at the package root (the compiled dist/ has none of them). */
export const PAGE_FILES: ReadonlyArray<{ path: string; file: string; type: string }> = [
  { path: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { path: '/page.js', file: 'page.js', type: 'text/javascript; charset=utf-8' },
  { path: '/page.css', file: 'page.css', type: 'text/css; charset=utf-8' },
];

export const PAGE_DIR = join(packageRoot, 'web', 'status');

/**
 * Only the page's own files, scripts and styles; no inline script or style,
 * no frames, no forms, nothing sent elsewhere.
 */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Reads the page's files. One that cannot be read is listed in `unreadable`
 * with the reason (the page's routes then say so, and the rest of the server
 * works) rather than failing the start.
 */
export function loadPageAssets(dir = PAGE_DIR): { assets: Map<string, PageAsset>; unreadable: string[] } {
  const assets = new Map<string, PageAsset>();
  const unreadable: string[] = [];
  for (const { path, file, type } of PAGE_FILES) {
    try {
      assets.set(path, { type, body: readFileSync(join(dir, file)) });
    } catch (err) {
      unreadable.push(`${join(dir, file)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return { assets, unreadable };
}
