// The page a browser gets while its service starts (`strategy: page`): self-contained (no external
// asset), with the service's name and the time since the start began. Without JavaScript it
// reloads itself through a meta refresh; with JavaScript it asks portwake (POLL_HEADER, answered by
// portwake, never by the app) once a second and reloads when the service is ready.

/** A request with this header is a waiting page's poll: portwake answers it, it never reaches the app. */
export const POLL_HEADER = 'x-portwake-poll';
/** Seconds between meta refreshes (no JavaScript) and the Retry-After of the page. */
export const REFRESH_SECONDS = 2;

/** Whether a request is a browser loading a page: GET or HEAD, without Upgrade, accepting text/html. */
export function wantsPage(method: string | undefined, accept: string | undefined): boolean {
  return (method === 'GET' || method === 'HEAD') && accept !== undefined && /(^|,)\s*text\/html/i.test(accept);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page for a service whose start began `elapsedMs` ago. */
export function waitingPage(service: string, elapsedMs: number): string {
  const name = escapeHtml(service);
  const seconds = Math.max(0, Math.floor(elapsedMs / 1000));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="${REFRESH_SECONDS}"></noscript>
<title>Starting ${name}…</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f6f7f9;color:#222}
main{text-align:center;padding:2em}
h1{font-size:1.4em;font-weight:600;margin:0 0 .5em}
p{margin:.3em 0;color:#555}
.dot{display:inline-block;width:.6em;height:.6em;border-radius:50%;background:#4a7;animation:p 1s infinite alternate}
@keyframes p{from{opacity:.2}to{opacity:1}}
@media (prefers-color-scheme:dark){body{background:#16181c;color:#eee}p{color:#aaa}}
</style></head>
<body><main>
<h1><span class="dot"></span> Starting <span id="service">${name}</span>…</h1>
<p>Waiting for <strong>${name}</strong> to become ready: <span id="elapsed" data-seconds="${seconds}">${seconds}</span> s</p>
<p id="status">This page opens the app by itself once it is up.</p>
</main>
<script>
(function () {
  var elapsed = document.getElementById('elapsed');
  var status = document.getElementById('status');
  var seconds = Number(elapsed.getAttribute('data-seconds')) || 0;
  setInterval(function () { seconds += 1; elapsed.textContent = String(seconds); }, 1000);
  function poll() {
    fetch(location.href, { headers: { '${POLL_HEADER}': '1' }, cache: 'no-store' }).then(function (r) {
      if (r.status === 204) { location.reload(); return; }
      if (r.status === 503) {
        return r.text().then(function (t) { status.textContent = t; setTimeout(poll, ${REFRESH_SECONDS * 1000}); });
      }
      setTimeout(poll, 1000);
    }, function () { setTimeout(poll, ${REFRESH_SECONDS * 1000}); });
  }
  setTimeout(poll, 500);
})();
</script>
</body></html>
`;
}
