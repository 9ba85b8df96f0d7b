// The dashboard served at `GET /`: one self-contained HTML page (no CDN, nothing fetched but the
// API), built from strings so `npm run build` ships it with no copy step. Its inline style and
// script are pinned by hash in the Content-Security-Policy.

import { createHash } from 'node:crypto';
import { dashboardJs } from './script.ts';
import { dashboardCss } from './styles.ts';

const LOGO = `<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M12 3v8"/><path d="M6.3 6.8a8 8 0 1 0 11.4 0"/></svg>`;

const FAVICON = `data:image/svg+xml,${encodeURIComponent(
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#3b6cf6" stroke-width="2.5" stroke-linecap="round"><path d="M12 3v8"/><path d="M6.3 6.8a8 8 0 1 0 11.4 0"/></svg>`,
)}`;

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>portwake</title>
<link rel="icon" href="${FAVICON}">
<style>${dashboardCss}</style>
</head>
<body>
<header class="top">
  <div class="top-inner">
    <div class="brand">${LOGO}<span>portwake</span></div>
    <div class="summary" aria-label="summary">
      <span class="chip" id="count-ready"><b>0</b> ready</span>
      <span class="chip" id="count-paused" hidden><b>0</b> paused</span>
      <span class="chip" id="count-stopped"><b>0</b> stopped</span>
      <span class="chip" id="count-busy" hidden><b>0</b> changing</span>
      <span class="chip" id="count-failed" hidden><b>0</b> failed</span>
    </div>
    <span class="live" id="live" data-live="down"><span class="dot"></span><span id="live-text">connecting…</span></span>
  </div>
</header>
<main>
  <div class="grid" id="grid" aria-live="polite"></div>
  <p class="empty" id="empty" hidden>No services are configured.</p>
</main>
<footer class="page"><span id="updated"></span></footer>
<div class="toasts" id="toasts"></div>
<dialog id="token-dialog">
  <form>
    <h2>Control API token</h2>
    <p>This daemon requires a token. It is kept for this browser tab only.</p>
    <input type="password" name="token" autocomplete="current-password" placeholder="token" aria-label="token" required>
    <div class="row"><button type="submit" class="primary">Unlock</button></div>
  </form>
</dialog>
<script>${dashboardJs}</script>
</body>
</html>
`;

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

export const dashboardPage: { readonly html: string; readonly contentSecurityPolicy: string } = {
  html,
  contentSecurityPolicy: [
    "default-src 'none'",
    `script-src ${sha256(dashboardJs)}`,
    `style-src ${sha256(dashboardCss)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
};
