// Browser-side rendering for the dashboard: formatting, one card per service, the cold-start chart.
// A fragment of the page script (see script.ts): it shares that script's scope, so it may use its
// state (cards, busy, now, act) and is only ever inlined through dashboardJs.

export const cardsJs = `
  var SVG_NS = 'http://www.w3.org/2000/svg';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }

  function fmtDuration(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s';
    var m = Math.floor(ms / 60000), s = Math.round((ms % 60000) / 1000);
    if (m < 60) return m + 'm ' + s + 's';
    return Math.floor(m / 60) + 'h ' + (m % 60) + 'm';
  }
  function fmtAgo(at) {
    if (at === null || at === undefined) return 'never';
    var s = Math.floor(Math.max(0, now() - at) / 1000);
    if (s < 5) return 'just now';
    if (s < 60) return s + 's ago';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ago';
    var h = Math.floor(m / 60);
    if (h < 48) return h + 'h ' + (m % 60) + 'm ago';
    return Math.floor(h / 24) + 'd ago';
  }
  function fmtBytes(n) {
    var units = ['B', 'kB', 'MB', 'GB', 'TB'], i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
  }
  function total(sample) { return sample.containerStartMs + sample.readinessMs; }

  function createCard(name) {
    var c = { root: el('article', 'card') };
    c.root.dataset.service = name;
    var head = el('div', 'card-head');
    var title = el('div', 'card-title');
    title.appendChild(el('h2', null, name));
    c.container = el('div', 'container');
    title.appendChild(c.container);
    c.pill = el('span', 'pill');
    c.pill.appendChild(el('span', 'dot'));
    c.state = el('span', 'state');
    c.pill.appendChild(c.state);
    head.appendChild(title);
    head.appendChild(c.pill);
    c.root.appendChild(head);
    c.listeners = el('div', 'listeners');
    c.listeners.setAttribute('aria-label', 'listening on');
    c.root.appendChild(c.listeners);
    c.error = el('p', 'error');
    c.root.appendChild(c.error);
    var stats = el('dl', 'stats');
    function stat(label) {
      var d = el('div');
      d.appendChild(el('dt', null, label));
      var dd = el('dd');
      d.appendChild(dd);
      stats.appendChild(d);
      return dd;
    }
    c.conn = stat('Connections');
    c.activity = stat('Last activity');
    c.bytes = stat('Traffic in / out');
    c.idle = stat('Idle stop');
    c.root.appendChild(stats);
    var chart = el('div', 'chart');
    var chead = el('div', 'chart-head');
    chead.appendChild(el('span', null, 'Cold starts'));
    c.last = el('span', 'last');
    chead.appendChild(c.last);
    chart.appendChild(chead);
    c.svg = svg('svg', { viewBox: '0 0 240 56', preserveAspectRatio: 'none', role: 'img' });
    chart.appendChild(c.svg);
    c.nodata = el('div', 'nodata', 'no cold start yet');
    chart.appendChild(c.nodata);
    var legend = el('div', 'legend');
    var la = el('span'); la.appendChild(el('i', 'a')); la.appendChild(document.createTextNode('container start'));
    var lb = el('span'); lb.appendChild(el('i', 'b')); lb.appendChild(document.createTextNode('until ready'));
    c.max = el('span', 'max');
    legend.appendChild(la); legend.appendChild(lb); legend.appendChild(c.max);
    chart.appendChild(legend);
    c.root.appendChild(chart);
    var foot = el('div', 'card-foot');
    var actions = el('div', 'actions');
    c.start = el('button', 'primary', 'Start');
    c.stop = el('button', null, 'Stop');
    c.start.type = c.stop.type = 'button';
    c.start.addEventListener('click', function () { act(name, 'start'); });
    c.stop.addEventListener('click', function () { act(name, 'stop'); });
    actions.appendChild(c.start);
    actions.appendChild(c.stop);
    foot.appendChild(actions);
    c.root.appendChild(foot);
    return c;
  }

  function drawChart(c, samples) {
    while (c.svg.firstChild) c.svg.removeChild(c.svg.firstChild);
    var empty = !samples || samples.length === 0;
    c.svg.toggleAttribute('hidden', empty);
    c.nodata.hidden = !empty;
    c.max.textContent = '';
    if (empty) return;
    c.svg.appendChild(svg('line', { x1: 0, y1: 55.5, x2: 240, y2: 55.5, 'class': 'axis' }));
    var max = Math.max.apply(null, samples.map(total).concat([1]));
    c.max.textContent = 'tallest ' + fmtDuration(max);
    var slots = Math.max(samples.length, 12), w = 240 / slots, gap = Math.min(4, w * 0.25);
    samples.forEach(function (s, i) {
      var x = (slots - samples.length + i) * w + gap / 2, bw = w - gap;
      var ha = (s.containerStartMs / max) * 52, hb = (s.readinessMs / max) * 52;
      var g = svg('g', {});
      var title = svg('title', {});
      title.textContent = fmtDuration(total(s)) + ' (' + fmtDuration(s.containerStartMs) + ' start + ' +
        fmtDuration(s.readinessMs) + ' ready) at ' + new Date(s.at).toLocaleString() +
        (s.firstWaitMs === null || s.firstWaitMs === undefined ? '' : '; first connection waited ' + fmtDuration(s.firstWaitMs));
      g.appendChild(title);
      g.appendChild(svg('rect', { x: x, y: 55 - ha, width: bw, height: Math.max(ha, 0.5), rx: 1.5, 'class': 'bar-a' }));
      g.appendChild(svg('rect', { x: x, y: 55 - ha - hb, width: bw, height: hb, rx: 1.5, 'class': 'bar-b' }));
      c.svg.appendChild(g);
    });
    c.svg.setAttribute('aria-label', samples.length + ' recent cold starts, longest ' + fmtDuration(max));
  }

  var LABEL = { stopped: 'stopped', starting: 'starting…', ready: 'ready', pausing: 'pausing…', paused: 'paused', unpausing: 'unpausing…', stopping: 'stopping…', failed: 'failed' };

  function renderCard(s) {
    var c = cards.get(s.name);
    if (!c) { c = createCard(s.name); cards.set(s.name, c); }
    c.root.dataset.state = s.state;
    c.container.textContent = 'container ' + s.container;
    c.state.textContent = s.backoffUntil ? 'backing off' : (LABEL[s.state] || s.state);
    c.pill.title = s.state;
    c.error.hidden = !s.lastError && !s.backoffUntil;
    c.error.textContent = '';
    if (s.backoffUntil) {
      c.error.appendChild(el('strong', null, 'backing off until ' + new Date(s.backoffUntil).toLocaleTimeString() +
        ' (' + (s.backoffRefused || 0) + ' refused); Start retries now. '));
    }
    if (s.lastError) {
      if (s.lastErrorCode) c.error.appendChild(el('code', null, s.lastErrorCode));
      c.error.appendChild(document.createTextNode(s.lastError));
    }
    c.conn.textContent = String(s.openConnections) + ' open';
    if (s.heldConnections > 0) c.conn.appendChild(el('small', null, ' · ' + s.heldConnections + ' held'));
    if (s.refused > 0) c.conn.appendChild(el('small', null, ' · ' + s.refused + ' refused'));
    c.activity.textContent = fmtAgo(s.lastActivity);
    c.bytes.textContent = fmtBytes(s.bytesIn) + ' / ' + fmtBytes(s.bytesOut);
    c.idle.textContent = s.idleDeadline ? 'in ' + fmtDuration(Math.max(0, s.idleDeadline - now())) :
      (s.state === 'ready' ? 'not armed' : '–');
    var recent = s.recentStarts || [];
    var ls = s.lastStart || recent[recent.length - 1];
    c.last.textContent = ls ? (ls.unpaused ? 'unpaused in ' + fmtDuration(total(ls)) + ' · ' + fmtAgo(ls.at)
      : ls.startedByUs === false ? 'found running ' + fmtAgo(ls.at)
      : 'last ' + fmtDuration(total(ls)) + ' · ' + fmtAgo(ls.at)) : '';
    var listenKey = JSON.stringify(s.listeners || []);
    if (c.listenKey !== listenKey) {
      c.listenKey = listenKey;
      c.listeners.textContent = '';
      (s.listeners || []).forEach(function (l) { c.listeners.appendChild(el('span', 'listener', l)); });
    }
    var pending = busy.has(s.name);
    c.start.disabled = pending || s.state === 'ready' || s.state === 'starting' || s.state === 'unpausing';
    c.stop.disabled = pending || s.state === 'stopped' || s.state === 'stopping';
    var chartKey = JSON.stringify(s.recentStarts || []);
    if (c.chartKey !== chartKey) { c.chartKey = chartKey; drawChart(c, s.recentStarts); }
    return c;
  }
`;
