// Sidelight local view: the overview (services page), the landing page.
// Per service and per route: request rate, error/fault/throttle shares and
// latency percentiles, from /api/overview, with a timeline per row on one
// shared time axis. Every number links to the traces behind it.
// Telemetry is only placed in the page as text (see app.js).
'use strict';

(function () {
  const SL = window.Sidelight;
  const { h, s, api, clear, fmtMS, fmtTime, main } = SL;

  // quote makes a string literal of the filter language.
  const quote = (v) => '"' + String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';

  // filterFor is what selects the traces behind a row's figures: those
  // with a segment the overview counts (seg_*: one segment must pass all
  // of them) of the service, and for a route row ("" is the row of
  // requests without a route) whose own route annotation is the route.
  // A trace-level filter (service(), fault, duration) would also list
  // traces where another service failed or was slow.
  function filterFor(service, route) {
    const f = { seg_service: service };
    if (route !== undefined) f.seg_route = route;
    return f;
  }
  // and adds segment conditions to a filter.
  const and = (f, more) => Object.assign({}, f, more);

  // tracesLink is the trace list for a filter whose segment started in
  // [since, until) (epoch seconds), optionally sorted slowest first.
  function tracesLink(f, since, until, slowest) {
    const p = new URLSearchParams();
    for (const k of ['seg_service', 'seg_route', 'seg_status', 'seg_min_ms']) {
      if (f[k] !== undefined) p.set(k, String(f[k]));
    }
    p.set('seg_since', String(since));
    p.set('seg_until', String(until));
    if (slowest) p.set('sort', 'duration');
    return '#/traces?' + p.toString();
  }

  // waitingForData says, when nothing has arrived, what to send where.
  function waitingForData(stats, what) {
    const inputs = (stats && stats.inputs) || [];
    return h('section', { id: 'waiting', class: 'waiting' },
      h('h3', null, 'Waiting for data'),
      h('p', null, 'No ' + what + ' yet. This page refreshes by itself every few seconds; what arrives shows up here.'),
      h('table', { class: 'kv' }, inputs.map((i) => h('tr', null, h('th', null, i.signal), h('td', null, h('code', null, i.address),
        i.env ? [' — point an SDK at it with ', h('code', null, i.env)] : null)))),
      h('p', { class: 'muted' }, 'Instrument a service with Sidelight\u2019s middleware (or any X-Ray SDK and EMF writer), or run ',
        h('code', null, 'go run ./sidecar -demo'), ' for sample traffic.'));
  }
  SL.waitingForData = waitingForData;

  const pct = (x) => (x * 100).toFixed(x > 0 && x < 0.01 ? 2 : x < 0.1 ? 1 : 0) + '%';
  const rate = (r) => (r >= 100 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)) + '/s';

  async function overviewView(params, gen) {
    const q = new URLSearchParams();
    for (const k of ['since', 'until']) if (params.get(k)) q.set(k, params.get(k));
    let o, st;
    try {
      // Without a range this is the request index.html preloads.
      o = await api(q.toString() ? '/api/overview?' + q.toString() : '/api/overview');
      // Where to send data is only needed while there is none.
      if (!o.services.length) st = await api('/api/stats');
    } catch (e) {
      if (gen === SL.current()) SL.showError(e);
      return;
    }
    if (gen !== SL.current()) return;
    if (!performance.getEntriesByName('sidelight-overview-data').length) performance.mark('sidelight-overview-data');
    clear(main);
    main.appendChild(h('h2', null, 'Services'));
    if (!o.services.length) {
      main.appendChild(waitingForData(st, 'requests'));
      SL.refreshStats();
      return;
    }
    // The figures count segments that started in [from, to).
    const since = o.from, until = o.to;
    main.appendChild(h('p', { class: 'muted' }, 'Requests per service and route (completed segments), ' + fmtTime(since) + ' to ' + fmtTime(until) +
      ', ' + o.column_seconds + ' s per bar. Every figure links to its traces.'));
    const table = h('table', { id: 'overview', class: 'list overview' },
      h('thead', null, h('tr', null, h('th', null, 'Service / route'), h('th', { class: 'num' }, 'Requests'),
        h('th', { class: 'num' }, 'Errors'), h('th', { class: 'num' }, 'Faults'), h('th', { class: 'num' }, 'Throttles'),
        h('th', { class: 'num' }, 'p50'), h('th', { class: 'num' }, 'p90'), h('th', { class: 'num' }, 'p99'),
        h('th', { class: 'timeline-head' }, axis(o)))));
    const body = h('tbody');
    for (const svc of o.services) {
      body.appendChild(row(o, svc, undefined, since, until));
      if (svc.routes.length > 1 || (svc.routes.length === 1 && svc.routes[0].route !== '')) {
        for (const r of svc.routes) body.appendChild(row(o, r, r.route, since, until));
      }
    }
    table.appendChild(body);
    main.appendChild(table);
    // For the first-paint benchmark: when the overview first showed.
    if (!performance.getEntriesByName('sidelight-overview').length) performance.mark('sidelight-overview');
    SL.refreshStats();
  }

  function axis(o) {
    const W = 240;
    const svg = s('svg', { class: 'axis-svg', viewBox: '0 0 ' + W + ' 16', width: W, height: 16 });
    const n = Math.min(2, o.columns); // start, middle, end: room for each
    for (let i = 0; i <= n; i++) {
      const t = o.start + Math.round(o.columns * i / n) * o.column_seconds;
      svg.appendChild(s('text', { x: i / n * W, y: 12, class: 'tlabel' + (i === 0 ? ' start' : i === n ? ' end' : '') }, fmtTime(t).slice(0, 8)));
    }
    return svg;
  }

  function row(o, r, route, since, until) {
    const isRoute = route !== undefined;
    const filter = filterFor(r.service, route);
    const t = r.total;
    const num = (cls, value, q, slowest, title) => h('td', { class: 'num ' + cls },
      h('a', { href: tracesLink(q, since, until, slowest), title: title }, value));
    const share = (n, x, flag) => n ? num(flag, pct(x) + ' (' + n + ')', and(filter, { seg_status: flag }), false, n + ' ' + flag + ' of ' + t.requests)
      : h('td', { class: 'num zero' }, '0');
    // A percentile is its histogram bin's upper bound (bins are 2^(1/8)
    // apart): the link asks for segments from the bin's lower bound.
    const slow = (ms) => and(filter, { seg_min_ms: Math.max(0, ms * Math.pow(2, -1 / 8)) });
    return h('tr', { class: isRoute ? 'route-row' : 'service-row', 'data-service': r.service, 'data-route': isRoute ? route : null },
      h('td', { class: 'name' }, isRoute
        ? h('a', { href: tracesLink(filter, since, until), class: 'route-link' }, route === '' ? '(no route annotation)' : route)
        : h('a', { href: tracesLink(filter, since, until), class: 'service-link' }, r.service)),
      num('rate', rate(t.rate), filter, false, t.requests + ' requests'),
      share(t.errors, t.error_rate, 'error'), share(t.faults, t.fault_rate, 'fault'), share(t.throttles, t.throttle_rate, 'throttle'),
      num('p50', fmtMS(t.p50_ms), slow(t.p50_ms), true, 'traces at or above the median, slowest first'),
      num('p90', fmtMS(t.p90_ms), slow(t.p90_ms), true, 'the slowest 10%'),
      num('p99', fmtMS(t.p99_ms), slow(t.p99_ms), true, 'the slowest 1%'),
      h('td', { class: 'timeline' }, timeline(o, r, filter, since, until)));
  }

  // timeline draws the row's requests per column (failed ones on top, in
  // red) on the shared axis; each column links to its traces. Few
  // elements per column: a link and its bars, the details in its label.
  function timeline(o, r, filter, since, until) {
    const W = 240, H = 26;
    const cw = W / o.columns;
    let peak = 1;
    for (const c of r.columns) peak = Math.max(peak, c.requests);
    const svg = s('svg', { class: 'spark', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H });
    const frag = document.createDocumentFragment();
    r.columns.forEach((c, i) => {
      if (!c.requests) return;
      const t0 = o.start + i * o.column_seconds;
      const failed = Math.max(c.errors, c.faults);
      const hAll = Math.max(1, c.requests / peak * (H - 2));
      const hBad = failed / peak * (H - 2);
      const x = i * cw + 0.5, w = Math.max(1, cw - 1);
      const a = document.createElementNS(SVGNS, 'a');
      a.setAttribute('href', tracesLink(filter, Math.max(t0, since), Math.min(t0 + o.column_seconds, until)));
      a.setAttribute('class', 'col');
      a.setAttribute('aria-label', c.requests + ' requests, ' + c.errors + ' errors, ' + c.faults + ' faults, p99 ' + fmtMS(c.p99_ms));
      a.appendChild(bar(x, H - hAll, w, hAll, 'ok'));
      if (hBad > 0) a.appendChild(bar(x, H - hAll, w, Math.max(1, hBad), 'bad'));
      frag.appendChild(a);
    });
    svg.appendChild(frag);
    return svg;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function bar(x, y, w, hgt, cls) {
    const r = document.createElementNS(SVGNS, 'rect');
    r.setAttribute('x', x.toFixed(1));
    r.setAttribute('y', y.toFixed(1));
    r.setAttribute('width', w.toFixed(1));
    r.setAttribute('height', hgt.toFixed(1));
    r.setAttribute('class', cls);
    return r;
  }

  SL.views['/overview'] = overviewView;
})();
