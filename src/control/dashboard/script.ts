// The dashboard's browser script: loads /status, applies /events live, refreshes periodically, posts
// start/stop, and asks once for the token when one is needed. Cards are drawn by script-cards.ts.
// Plain ES2020 with no template literals (it lives inside one); DOM built with textContent only.

import { cardsJs } from './script-cards.ts';

export const dashboardJs = `
'use strict';
(function () {
  var TOKEN_KEY = 'portwake.token';
  var REFRESH_MS = 5000;
  var services = new Map();
  var cards = new Map();
  var busy = new Set();
  var skew = 0;
  var source = null;
  var refreshTimer = null;
  var grid = document.getElementById('grid');
  var liveEl = document.getElementById('live');
  var liveText = document.getElementById('live-text');
  var dialog = document.getElementById('token-dialog');

  function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; } }
  function now() { return Date.now() + skew; }

  function AuthNeeded() {}
  function api(method, path) {
    var headers = { accept: 'application/json' };
    var t = token();
    if (t) headers.authorization = 'Bearer ' + t;
    return fetch(path, { method: method, headers: headers, cache: 'no-store' }).then(function (r) {
      if (r.status === 401) { askToken(); throw new AuthNeeded(); }
      return r.json().catch(function () { return null; }).then(function (body) {
        if (!r.ok) throw new Error(body && body.error ? body.error.message : 'HTTP ' + r.status);
        return body;
      });
    });
  }

  function askToken() {
    if (dialog.open) return;
    setLive('down', 'token needed');
    if (source) { source.close(); source = null; }
    dialog.showModal();
  }
  dialog.querySelector('form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var value = dialog.querySelector('input').value.trim();
    if (!value) return;
    try { sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { /* private mode: keep for this load only */ }
    dialog.close();
    refresh().then(connect);
  });

  function setLive(kind, text) { liveEl.dataset.live = kind; liveText.textContent = text; }

  function toast(text, bad) {
    var t = el('div', 'toast' + (bad ? ' bad' : ''), text);
    t.setAttribute('role', 'status');
    document.getElementById('toasts').appendChild(t);
    setTimeout(function () { t.remove(); }, bad ? 7000 : 3500);
  }

${cardsJs}
  function render() {
    var list = Array.from(services.values());
    document.getElementById('empty').hidden = list.length > 0;
    var counts = { ready: 0, paused: 0, stopped: 0, failed: 0, busy: 0 };
    list.forEach(function (s, i) {
      var c = renderCard(s);
      if (grid.children[i] !== c.root) grid.insertBefore(c.root, grid.children[i] || null);
      if (s.state === 'ready') counts.ready++;
      else if (s.state === 'paused') counts.paused++;
      else if (s.state === 'stopped') counts.stopped++;
      else if (s.state === 'failed') counts.failed++;
      else counts.busy++;
    });
    cards.forEach(function (c, name) { if (!services.has(name)) { c.root.remove(); cards.delete(name); } });
    setChip('count-ready', counts.ready);
    setChip('count-paused', counts.paused);
    setChip('count-stopped', counts.stopped);
    setChip('count-busy', counts.busy);
    setChip('count-failed', counts.failed);
    document.title = counts.failed > 0 ? '(' + counts.failed + ' failed) portwake' : 'portwake';
  }
  function setChip(id, n) {
    var chip = document.getElementById(id);
    chip.querySelector('b').textContent = String(n);
    chip.hidden = n === 0 && (id === 'count-failed' || id === 'count-busy' || id === 'count-paused');
  }

  function refresh() {
    return api('GET', '/status').then(function (body) {
      skew = body.now - Date.now();
      var next = new Map();
      body.services.forEach(function (s) {
        var old = services.get(s.name);
        s.refused = old ? old.refused : 0;
        next.set(s.name, s);
      });
      services = next;
      render();
      document.getElementById('updated').textContent = 'Updated ' + new Date().toLocaleTimeString();
    }).catch(function (err) {
      if (!(err instanceof AuthNeeded)) setLive('down', 'offline');
    });
  }
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () { refreshTimer = null; refresh(); }, 400);
  }

  function apply(ev) {
    var s = services.get(ev.service);
    if (!s) { refreshSoon(); return; }
    if (ev.type === 'state') {
      s.state = ev.to;
      if (ev.to === 'starting') { s.lastError = null; s.lastErrorCode = null; }
    } else if (ev.type === 'activated') {
      s.lastStart = ev.timings;
      if (ev.timings.startedByUs) {
        s.recentStarts = (s.recentStarts || []).concat([{ at: ev.timings.at, containerStartMs: ev.timings.containerStartMs,
          readinessMs: ev.timings.readinessMs, firstWaitMs: ev.firstWaitMs }]).slice(-24);
      }
    } else if (ev.type === 'failed') {
      s.lastError = ev.message; s.lastErrorCode = ev.code;
    } else if (ev.type === 'connection') {
      s.openConnections = Math.max(0, s.openConnections + (ev.change === 'open' ? 1 : -1));
      s.lastActivity = ev.at;
    } else if (ev.type === 'refused') {
      s.refused = (s.refused || 0) + 1;
    }
    render();
    refreshSoon();
  }

  function connect() {
    if (source) source.close();
    var t = token();
    source = new EventSource('/events' + (t ? '?token=' + encodeURIComponent(t) : ''));
    source.onopen = function () { setLive('live', 'live'); refreshSoon(); };
    source.onerror = function () {
      if (!source || source.readyState !== EventSource.CLOSED) { setLive('down', 'reconnecting…'); return; }
      // Closed for good (daemon restarted with a new token, or 401): check why, then try again.
      source = null;
      setLive('down', 'offline');
      setTimeout(function () { refresh().then(function () { if (!dialog.open) connect(); }); }, 3000);
    };
    ['state', 'activated', 'failed', 'refused', 'connection'].forEach(function (type) {
      source.addEventListener(type, function (m) {
        try { apply(JSON.parse(m.data)); } catch (e) { refreshSoon(); }
      });
    });
  }

  function act(name, action) {
    busy.add(name);
    render();
    api('POST', '/services/' + encodeURIComponent(name) + '/' + action).then(function (body) {
      toast(name + (action === 'start' ? ' is ready (' : ' stopped (') + fmtDuration(body.tookMs) + ')');
    }).catch(function (err) {
      if (!(err instanceof AuthNeeded)) toast(name + ': ' + err.message, true);
    }).then(function () {
      busy.delete(name);
      return refresh();
    });
  }

  setInterval(function () { if (!document.hidden) refresh(); }, REFRESH_MS);
  setInterval(function () { if (!document.hidden && services.size > 0) render(); }, 1000);
  document.addEventListener('visibilitychange', function () { if (!document.hidden) refresh(); });
  refresh().then(function () { if (!dialog.open) connect(); });
})();
`;
