// Mesh diagnostics page: polls the JSON document next to it every second and draws it. Self-contained: no library,
// no external resource. Everything from the document is set with textContent (never as HTML): endpoint addresses,
// metadata and reasons can come from a discovery source.
(() => {
  'use strict';

  const base = document.querySelector('meta[name="mesh-diagnostics"]').content;
  const dataUrl = base === '' ? '/' : base;
  const servicesEl = document.getElementById('services');
  const timelineEl = document.getElementById('timeline');
  const timelineEmptyEl = document.getElementById('timeline-empty');
  const identityEl = document.getElementById('identity');
  const statusEl = document.getElementById('status');
  const stateLabels = { Healthy: 'Healthy', SlowStart: 'Slow start', Probing: 'Probing', Ejected: 'Ejected', Unhealthy: 'Unhealthy' };
  const kindLabels = {
    Ejected: 'Ejected', Probing: 'Probing', Returned: 'Returned', Unhealthy: 'Unhealthy',
    PanicStarted: 'Panic', PanicEnded: 'Panic over', DiscoveryFailed: 'Discovery failed', DiscoveryRecovered: 'Discovery recovered',
  };
  let timer = 0;

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function td(label, className, ...children) {
    const cell = el('td', className);
    cell.dataset.label = label;
    for (const child of children) cell.append(child);
    return cell;
  }

  const ms = v => v === null || v === undefined ? '–' : v < 1 ? v.toFixed(2) + ' ms' : v < 100 ? v.toFixed(1) + ' ms' : Math.round(v) + ' ms';
  const rate = v => v >= 100 ? String(Math.round(v)) : v.toFixed(1);
  const percent = v => (v * 100).toFixed(v > 0 && v < 0.1 ? 1 : 0) + '%';
  const clock = iso => new Date(iso).toLocaleTimeString([], { hour12: false });

  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
  }

  function badge(className, text) { return el('span', 'badge ' + className, text); }

  function stat(value, label, bad) {
    const s = el('div', 'stat' + (bad ? ' bad' : ''));
    s.append(el('span', 'value', value), el('span', 'label', label));
    return s;
  }

  // Requests per second over the last minute as a line, errors as red bars along the bottom.
  function sparkline(perSecond, errorsPerSecond) {
    const ns = 'http://www.w3.org/2000/svg';
    const w = 180, h = 36, n = perSecond.length;
    const max = Math.max(1, ...perSecond);
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'requests per second over the last minute');
    const points = perSecond.map((v, i) => `${(i * w / Math.max(1, n - 1)).toFixed(1)},${(h - 2 - v / max * (h - 6)).toFixed(1)}`);
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', points.join(' '));
    svg.append(line);
    errorsPerSecond.forEach((v, i) => {
      if (v <= 0) return;
      const bar = document.createElementNS(ns, 'rect');
      const height = Math.max(2, v / max * (h - 6));
      bar.setAttribute('x', (i * w / n).toFixed(1));
      bar.setAttribute('y', (h - height).toFixed(1));
      bar.setAttribute('width', Math.max(1, w / n - 1).toFixed(1));
      bar.setAttribute('height', height.toFixed(1));
      svg.append(bar);
    });
    return svg;
  }

  function renderEndpoint(e) {
    const row = el('tr');
    row.dataset.endpoint = e.address;
    row.dataset.state = e.state;

    const endpoint = td('Endpoint', 'endpoint', el('div', 'address', e.address));
    const chips = el('div', 'chips');
    if (e.zone) chips.append(el('span', 'chip', 'zone ' + e.zone));
    for (const [k, v] of Object.entries(e.metadata || {})) chips.append(el('span', 'chip', `${k}=${v}`));
    if (chips.childElementCount) endpoint.append(chips);

    const state = td('State', 'state', badge('state-' + e.state.toLowerCase(), stateLabels[e.state] || e.state));
    let reason = e.reason || '';
    if (e.ejectedUntil) reason += (reason ? ' · ' : '') + 'until ' + clock(e.ejectedUntil);
    if (reason) state.append(el('span', 'reason', reason));

    const share = el('div', 'share');
    const bar = el('div', 'bar');
    const fill = el('div', 'fill');
    fill.style.width = (e.traffic.share * 100).toFixed(1) + '%';
    bar.append(fill);
    share.append(bar, el('span', 'text', percent(e.traffic.share)));

    const errors = e.traffic.errors > 0 ? el('span', 'errors', String(e.traffic.errors)) : el('span', null, '0');
    const weight = e.weightFactor < 1 ? `${e.effectiveWeight.toFixed(2)} / ${e.weight}` : String(e.weight);
    row.append(
      endpoint,
      state,
      td('Share', 'share-cell', share),
      td('Req/s', 'num', rate(e.traffic.requestsPerSecond)),
      td('Errors (1 min)', 'num', errors),
      td('In flight', 'num', String(e.inFlight)),
      td('Latency est.', 'num', ms(e.latencyEstimateMs)),
      td('Weight', 'num', weight),
      td('Ejections', 'num', String(e.ejections)));
    return row;
  }

  function renderService(s) {
    const card = el('article', 'service');
    card.dataset.service = s.name;

    const head = el('div', 'service-head');
    head.append(el('h2', null, s.name), badge('', s.loadBalancer), badge('', `${s.availableEndpoints} of ${s.endpointCount} available`));
    if (s.panicMode) head.append(badge('panic', 'Panic: balancing over all endpoints'));
    card.append(head);

    const t = s.traffic;
    const stats = el('div', 'stats');
    stats.append(
      stat(rate(t.requestsPerSecond), 'req/s (1 min)'),
      stat(ms(t.p50Ms), 'p50'),
      stat(ms(t.p99Ms), 'p99'),
      stat(`${t.errors} (${percent(t.errorRate)})`, 'errors (1 min)', t.errors > 0),
      sparkline(t.perSecond, t.errorsPerSecond));
    card.append(stats);

    const discovery = el('div', 'discovery');
    for (const d of s.discovery) {
      const item = el('span', null, `${d.source}: ${d.endpointCount === null ? 'waiting for its first set' : d.endpointCount + ' endpoints'}`);
      if (d.problem) item.append(el('span', 'problem', ` · failing (${d.failuresInARow} in a row): ${d.problem}`));
      discovery.append(item);
    }
    card.append(discovery);

    if (s.endpoints.length === 0) {
      card.append(el('p', 'empty', 'No endpoints.'));
      return card;
    }

    const table = el('table');
    const head2 = el('tr');
    for (const [text, cls] of [['Endpoint'], ['State'], ['Share'], ['Req/s', 'num'], ['Errors', 'num'], ['In flight', 'num'], ['Latency est.', 'num'], ['Weight', 'num'], ['Ejections', 'num']]) {
      head2.append(el('th', cls, text));
    }
    const thead = el('thead');
    thead.append(head2);
    const tbody = el('tbody');
    for (const e of s.endpoints) tbody.append(renderEndpoint(e));
    table.append(thead, tbody);
    const wrap = el('div', 'table-wrap');
    wrap.append(table);
    card.append(wrap);
    return card;
  }

  function renderTimeline(events) {
    const items = [];
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i];
      const li = el('li');
      li.dataset.kind = e.kind;
      li.dataset.id = String(e.id);
      if (e.endpoint) li.dataset.endpoint = e.endpoint;
      const what = el('div', 'what');
      what.append(badge('kind-' + e.kind, kindLabels[e.kind] || e.kind), el('span', 'subject', e.endpoint ? `${e.service} ${e.endpoint}` : e.source ? `${e.service} (${e.source})` : e.service));
      li.append(el('span', 'time', clock(e.time)), what);
      if (e.reason) li.append(el('span', 'reason', e.reason));
      items.push(li);
    }
    timelineEl.replaceChildren(...items);
    timelineEmptyEl.hidden = items.length > 0;
  }

  function renderIdentity(identity) {
    if (!identity) {
      identityEl.replaceChildren(el('span', null, 'No workload identity: requests are not mutually authenticated.'));
      return;
    }
    const expiring = identity.expiresInSeconds < 3600;
    identityEl.replaceChildren(
      el('strong', null, identity.spiffeId),
      el('span', expiring ? 'warn' : null, identity.expiresInSeconds > 0 ? ` · certificate expires in ${duration(identity.expiresInSeconds)}` : ' · certificate expired'));
  }

  function render(doc) {
    renderIdentity(doc.identity);
    servicesEl.replaceChildren(...(doc.services.length ? doc.services.map(renderService) : [el('p', 'card empty', 'The mesh has no services.')]));
    renderTimeline(doc.events);
    const down = doc.services.reduce((n, s) => n + s.endpoints.filter(e => e.state === 'Ejected' || e.state === 'Unhealthy').length, 0);
    document.title = down > 0 ? `Mesh · ${down} down` : 'Mesh';
  }

  function setStatus(status, text) {
    statusEl.dataset.status = status;
    statusEl.textContent = text;
  }

  async function poll() {
    try {
      const response = await fetch(dataUrl, { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const doc = await response.json();
      render(doc);
      setStatus('live', 'live · ' + clock(doc.generatedAt));
    } catch (error) {
      setStatus('error', `disconnected (${error.message}); retrying`);
    } finally {
      clearTimeout(timer);
      timer = setTimeout(poll, document.hidden ? 5000 : 1000);
    }
  }

  document.addEventListener('visibilitychange', () => { if (!document.hidden) { clearTimeout(timer); poll(); } });
  poll();
})();
