// Sidelight local view. Plain JavaScript, no build step.
//
// Everything shown here comes from telemetry, which is user data: it is only
// ever placed in the page as text nodes (textContent, createTextNode) or as
// attribute values set with setAttribute. Never innerHTML.
'use strict';

(function () {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const main = document.getElementById('main');
  let generation = 0; // discards responses of views the user has left
  let watch = null; // the trace page's live updates (watchTrace)

  // h builds an element. props: class, id, type, value, placeholder, for,
  // href (only '#…' links built here), title, name, data-*; functions are
  // event listeners (onclick, onsubmit, …). Children: strings become text.
  function h(tag, props, ...children) {
    const e = document.createElement(tag);
    setProps(e, props);
    append(e, children);
    return e;
  }
  function s(tag, attrs, ...children) {
    const e = document.createElementNS(SVGNS, tag);
    setProps(e, attrs);
    append(e, children);
    return e;
  }
  function setProps(e, props) {
    if (!props) return;
    for (const k of Object.keys(props)) {
      const v = props[k];
      if (v === undefined || v === null || v === false) continue;
      if (typeof v === 'function') {
        e.addEventListener(k.replace(/^on/, ''), v);
      } else if (k === 'value') {
        e.value = String(v);
      } else if (k === 'href' && !String(v).startsWith('#') && !String(v).startsWith('/api/')) {
        throw new Error('refusing external link');
      } else {
        e.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  function append(e, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      e.appendChild(c instanceof Node ? c : document.createTextNode(text(c)));
    }
  }
  // text is how a telemetry value of any JSON type is shown as text.
  function text(v) {
    if (typeof v === 'string') return v;
    if (v === undefined || v === null) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }
  function clip(str, n) {
    return str.length > n ? str.slice(0, n - 1) + '…' : str;
  }
  // invalid shows a part of a document that is not what X-Ray specifies,
  // instead of dropping it or failing the whole view.
  function invalid(what, v) {
    return h('span', { class: 'invalid' }, what + ' is not valid: ', h('code', null, clip(v === undefined ? 'undefined' : JSON.stringify(v), 300)));
  }
  // guarded renders one part of the page; if that throws, the part is
  // shown as invalid and the rest of the page still renders.
  function guarded(what, v, render) {
    try {
      return render(v);
    } catch (e) {
      return h('div', null, invalid(what, v));
    }
  }
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
  }

  async function api(path) {
    // A plain fetch, so that the overview request index.html preloads is
    // the one this takes.
    const r = await fetch(path);
    const body = await r.json();
    if (!r.ok) {
      const e = new Error(body && body.error ? body.error : r.statusText);
      if (body && typeof body.offset === 'number') e.offset = body.offset; // where in the search text
      throw e;
    }
    return body;
  }

  // fmtMS shows a duration in milliseconds in the unit that suits it,
  // down to microseconds.
  function fmtMS(ms) {
    if (!(ms > 0)) return '0';
    if (ms < 0.001) return (ms * 1e6).toFixed(0) + ' ns';
    if (ms < 0.01) return (ms * 1000).toFixed(1) + ' µs';
    if (ms < 1) return (ms * 1000).toFixed(0) + ' µs';
    if (ms >= 60000) return (ms / 60000).toFixed(1) + ' min';
    if (ms >= 1000) return (ms / 1000).toFixed(2) + ' s';
    if (ms >= 10) return ms.toFixed(0) + ' ms';
    return ms.toFixed(1) + ' ms';
  }
  // Local wall-clock time with milliseconds. Built by hand: toLocaleTimeString
  // costs about a millisecond a call, which a 1,000-row list feels.
  function fmtTime(sec) {
    const d = new Date(sec * 1000);
    const p2 = (n) => (n < 10 ? '0' : '') + n;
    return p2(d.getHours()) + ':' + p2(d.getMinutes()) + ':' + p2(d.getSeconds()) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }
  function fmtNum(v) {
    if (Math.abs(v) >= 1000 || Number.isInteger(v)) return String(Math.round(v * 100) / 100);
    return v.toPrecision(3);
  }
  function statusBadge(status) {
    return h('span', { class: 'badge st-' + (['ok', 'error', 'fault', 'throttle'].includes(status) ? status : 'ok') }, status);
  }
  function showError(err) {
    clear(main);
    main.appendChild(h('p', { class: 'err' }, 'Could not load: ', String(err && err.message || err)));
  }

  // ---- routing ----------------------------------------------------------

  // Pages in other files (overview.js, charts.js) register here: path ->
  // function (params, gen).
  const views = {};

  // route shows the page the address names. refresh is set by live
  // refresh: pages with a form then keep it (and what the user set in
  // it) and reload only their data.
  function route(refresh) {
    refresh = refresh === true;
    const hash = location.hash || '#/overview';
    const [path, qs] = hash.slice(1).split('?');
    const params = new URLSearchParams(qs || '');
    generation++;
    for (const a of document.querySelectorAll('header nav a')) a.classList.remove('active');
    const nav = (id) => { const e = document.getElementById(id); if (e) e.classList.add('active'); };
    if (path.startsWith('/trace/')) {
      nav('nav-traces');
      return traceView(decodeURIComponent(path.slice('/trace/'.length)), generation, refresh);
    }
    if (views[path]) {
      nav('nav-' + path.slice(1));
      return views[path](params, generation, refresh);
    }
    nav('nav-traces');
    return listView(params, generation, refresh);
  }

  async function refreshStats() {
    try {
      const st = await api('/api/stats');
      const el = document.getElementById('stats');
      el.textContent = st.traces + ' traces · ' + st.metric_docs + ' metric documents · ' +
        (st.log_records ? st.log_records + ' log records · ' : '') +
        (st.bytes / 1048576).toFixed(1) + ' of ' + (st.max_bytes / 1048576).toFixed(0) + ' MiB';
    } catch (e) { /* the views report errors */ }
  }

  // ---- trace list -------------------------------------------------------

  let facetsCache = null;

  async function listView(params, gen, refresh) {
    if (refresh && document.getElementById('filters') && document.getElementById('trace-list')) {
      return showList(fetchList(params), gen);
    }
    // The facets (for the filter menus) and the list load side by side.
    const facetsLoaded = api('/api/facets').then((f) => { facetsCache = f; return f; }, () => facetsCache);
    const listLoaded = fetchList(params);
    const facets = await facetsLoaded;
    if (gen !== generation) return;
    clear(main);
    const form = filterForm(params, facets || { services: [], annotations: [] });
    const summary = h('p', { id: 'list-summary', class: 'muted' }, 'Loading…');
    const table = h('table', { id: 'trace-list', class: 'list', 'data-renders': '0' });
    main.append(form, summary, table);
    await showList(listLoaded, gen);
  }

  let listRenders = 0;

  // SEG_PARAMS select traces by one segment the overview counts (its
  // links); service_route is the older form of seg_route.
  const SEG_PARAMS = ['seg_service', 'seg_route', 'service_route', 'seg_status', 'seg_min_ms', 'seg_since', 'seg_until'];

  // segmentNote says, in words, what segment a list from the overview
  // asks for (null when none); the page keeps it until reset.
  function segmentNote(params) {
    if (!SEG_PARAMS.some((k) => params.has(k))) return null;
    const parts = ['a completed segment'];
    const svc = params.get('seg_service') || (params.has('service_route') ? params.get('service') : '');
    if (svc) parts.push('of ' + svc);
    const route = params.has('seg_route') ? params.get('seg_route') : params.get('service_route');
    if (route !== null) parts.push(route === '' ? 'without a route annotation' : 'with route ' + route);
    if (params.get('seg_status')) parts.push('marked ' + params.get('seg_status'));
    if (params.get('seg_min_ms')) parts.push('taking at least ' + fmtMS(Number(params.get('seg_min_ms'))));
    const t = (k) => { const v = Number(params.get(k)); return isFinite(v) && params.get(k) ? fmtTime(v) : params.get(k); };
    if (params.get('seg_since')) parts.push('starting from ' + t('seg_since'));
    if (params.get('seg_until')) parts.push('before ' + t('seg_until'));
    return h('p', { id: 'segment-filter', class: 'muted' }, 'Traces with ' + parts.join(', ') + ' (from the overview). ',
      h('a', { href: '#/traces', class: 'reset' }, 'all traces'));
  }

  function fetchList(params) {
    const q = new URLSearchParams();
    for (const k of ['q', 'call', 'since', 'until', 'sort', 'order', 'service', 'version', 'route', 'status', 'annotation', 'min_ms', 'max_ms', 'limit']) {
      if (params.get(k)) q.set(k, params.get(k));
    }
    // The overview's segment filter: "" is a route too (none).
    for (const k of SEG_PARAMS) if (params.has(k)) q.set(k, params.get(k));
    const t0 = performance.now();
    return api('/api/traces?' + q.toString()).then((data) => ({ data: data, fetchMS: performance.now() - t0 }));
  }

  async function showList(loaded, gen) {
    let res;
    try {
      res = await loaded;
    } catch (e) {
      if (gen !== generation) return;
      // A search or range the API refused: say why under the box.
      if (document.getElementById('q-error')) searchError(e);
      else showError(e);
      return;
    }
    if (gen !== generation) return;
    if (res.data.trace_id) {
      // The search named one trace: go straight to it.
      location.replace('#/trace/' + encodeURIComponent(res.data.trace_id));
      return;
    }
    const t1 = performance.now();
    renderList(res.data);
    // Timings for the curious (and the browser test): fetch and DOM build.
    const table = document.getElementById('trace-list');
    table.setAttribute('data-fetch-ms', res.fetchMS.toFixed(1));
    table.setAttribute('data-build-ms', (performance.now() - t1).toFixed(1));
  }

  function renderList(data) {
    const table = document.getElementById('trace-list');
    const summary = document.getElementById('list-summary');
    clear(table);
    clear(summary);
    summary.append(data.matched + ' of ' + data.total + ' traces match' +
      (data.traces.length < data.matched ? ' (newest ' + data.traces.length + ' shown) ' : ''));
    if (data.traces.length < data.matched && data.traces.length < 1000) {
      const params = new URLSearchParams((location.hash.split('?')[1]) || '');
      params.set('limit', '1000');
      summary.append(h('a', { href: '#/traces?' + params.toString(), id: 'show-more' }, 'show up to 1,000'));
    }
    table.appendChild(h('thead', null, h('tr', null,
      h('th', null, 'Time'), h('th', null, 'Service'), h('th', null, 'Request'), h('th', null, 'Status'),
      h('th', { class: 'num' }, 'Duration'), h('th', null, 'Annotations'), h('th', null, 'Trace ID'))));
    const body = h('tbody');
    for (const t of data.traces) {
      const href = '#/trace/' + encodeURIComponent(t.id);
      const req = t.method || t.url ? [t.method || '', ' ', t.url || ''] : '';
      body.appendChild(h('tr', { class: 'trace-row', 'data-trace-id': t.id, 'data-status': t.status },
        h('td', { class: 'nowrap' }, fmtTime(t.start)),
        h('td', null, h('a', { href: href, class: 'trace-link' }, t.service || '(unnamed)')),
        h('td', { class: 'url' }, req),
        h('td', null, statusBadge(t.status), t.http_status ? ' ' + t.http_status : '', t.in_progress ? ' (in progress)' : ''),
        h('td', { class: 'num' }, fmtMS(t.duration_ms)),
        h('td', null, t.annotations.slice(0, 6).map((a) => h('a', { class: 'chip', href: '#/traces?annotation=' + encodeURIComponent(a), title: 'only traces with ' + a }, a))),
        h('td', { class: 'mono' }, h('a', { href: href }, t.id))));
    }
    table.appendChild(body);
    listRenders++;
    table.setAttribute('data-renders', String(listRenders));
    refreshStats();
  }

  // searchError shows what the API could not use in the search box's
  // text, with a caret under the place it points at.
  function searchError(e) {
    const box = document.getElementById('q-error');
    const summary = document.getElementById('list-summary');
    if (summary) clear(summary);
    clear(box);
    box.appendChild(h('span', null, String(e && e.message || e)));
    const q = document.getElementById('f-q').value;
    if (typeof e.offset === 'number' && q) {
      // The offset counts UTF-8 bytes; find the character it falls on.
      const enc = new TextEncoder();
      let i = 0, bytes = 0;
      for (const ch of q) {
        if (bytes >= e.offset) break;
        bytes += enc.encode(ch).length;
        i += ch.length;
      }
      box.appendChild(h('pre', { class: 'caret' }, q + '\n' + ' '.repeat(i) + '^'));
    }
  }

  function filterForm(params, facets) {
    const search = h('input', {
      name: 'q', id: 'f-q', class: 'search', type: 'search', autocomplete: 'off', spellcheck: 'false',
      placeholder: 'Trace ID, trace header, or filter: annotation.cors_code = "preflight-status" AND responsetime > 1',
      title: 'Enter runs it. A trace ID (X-Ray or W3C) or a whole X-Amzn-Trace-Id or traceparent header opens that trace; anything else is an X-Ray filter expression.',
      value: params.get('q') || '',
    });
    const range = h('select', { name: 'since', id: 'f-range', title: 'Time range' },
      [['', 'all time'], ['5m', 'last 5 min'], ['15m', 'last 15 min'], ['1h', 'last hour']].map(([v, l]) => h('option', { value: v }, l)));
    range.value = params.get('since') || '';
    if (params.get('since') && range.value !== params.get('since')) {
      // A range from a link (epoch seconds): keep it, named by its times.
      const sec = Number(params.get('since')), until = Number(params.get('until'));
      const label = isFinite(sec) ? fmtTime(sec).slice(0, 8) + (isFinite(until) && until ? '–' + fmtTime(until).slice(0, 8) : ' on') : params.get('since');
      range.appendChild(h('option', { value: params.get('since') }, label));
      range.value = params.get('since');
    }
    const sort = h('select', { name: 'sort', id: 'f-sort', title: 'Order' },
      [['', 'newest first'], ['time:asc', 'oldest first'], ['duration', 'slowest first'], ['duration:asc', 'fastest first']].map(([v, l]) => h('option', { value: v }, l)));
    sort.value = (params.get('sort') || '') + (params.get('order') === 'asc' ? ':asc' : '');
    if (sort.selectedIndex < 0) sort.value = '';
    const service = h('select', { name: 'service', id: 'f-service' },
      h('option', { value: '' }, 'all services'),
      facets.services.map((f) => h('option', { value: f.name }, f.name + ' (' + f.count + ')')));
    service.value = params.get('service') || '';
    const status = h('select', { name: 'status', id: 'f-status' },
      ['', 'ok', 'error', 'fault', 'throttle'].map((v) => h('option', { value: v }, v || 'any status')));
    status.value = params.get('status') || '';
    const keys = h('datalist', { id: 'annotation-keys' }, facets.annotations.map((f) => h('option', { value: f.name })));
    const ann = h('input', { name: 'annotation', id: 'f-annotation', list: 'annotation-keys', placeholder: 'annotation key=value', value: params.get('annotation') || '' });
    const minMS = h('input', { name: 'min_ms', id: 'f-min', type: 'number', min: '0', placeholder: 'min ms', value: params.get('min_ms') || '' });
    const maxMS = h('input', { name: 'max_ms', id: 'f-max', type: 'number', min: '0', placeholder: 'max ms', value: params.get('max_ms') || '' });
    return h('form', {
      id: 'filters', class: 'filters',
      onsubmit: (ev) => {
        ev.preventDefault();
        const q = new URLSearchParams();
        if (search.value.trim()) q.set('q', search.value.trim());
        if (range.value) q.set('since', range.value);
        if (range.value && range.value === params.get('since') && params.get('until')) q.set('until', params.get('until'));
        if (params.get('call')) q.set('call', params.get('call')); // from a map node: kept until reset
        for (const k of SEG_PARAMS) if (params.has(k)) q.set(k, params.get(k)); // from the overview: likewise
        if (sort.value) {
          const [by, order] = sort.value.split(':');
          q.set('sort', by);
          if (order) q.set('order', order);
        }
        for (const [k, el] of [['service', service], ['status', status], ['annotation', ann], ['min_ms', minMS], ['max_ms', maxMS]]) {
          if (el.value) q.set(k, el.value);
        }
        const next = '#/traces' + (q.toString() ? '?' + q.toString() : '');
        if (location.hash === next) route(); else location.hash = next;
      },
    }, h('div', { class: 'search-row' }, search, range, sort),
    h('div', { id: 'q-error', class: 'err', role: 'alert' }),
    segmentNote(params),
    service, status, ann, keys, minMS, maxMS, h('button', { type: 'submit', id: 'f-apply' }, 'Filter'),
    h('a', { href: '#/traces', class: 'reset' }, 'reset'));
  }

  // ---- one trace --------------------------------------------------------

  // traceView draws one trace. refresh is set when live updates found it
  // changed (watchTrace): the selected span and the scroll position stay.
  async function traceView(id, gen, refresh) {
    const selected = document.querySelector('#waterfall .wf-row.selected');
    const keep = refresh === true ? { sel: selected && selected.getAttribute('data-id'), y: window.scrollY } : null;
    // The version first: whatever arrives after it is seen by the next
    // poll, never missed.
    const ver = await traceVersion(id).catch(() => null);
    if (gen !== generation) return;
    // The trace's log records (logs.js) load beside it; a trace whose
    // spans never arrived still shows its records.
    const logsLoaded = api('/api/traces/' + encodeURIComponent(id) + '/logs').catch(() => null);
    let t;
    try {
      t = await api('/api/traces/' + encodeURIComponent(id));
    } catch (e) {
      const logs = await logsLoaded;
      if (gen !== generation) return;
      if (!logs || !logs.total) {
        showError(e);
        main.appendChild(liveNote());
        watchTrace(id, gen, ver);
        return;
      }
      clear(main);
      main.append(h('div', { class: 'trace-head' }, h('a', { href: '#/traces', class: 'back' }, '\u2190 all traces'),
        h('p', { class: 'mono' }, logs.trace_id), liveNote()),
      h('section', { class: 'notice' }, 'No spans of this trace were received (or they were evicted); its log records are below.'),
      window.Sidelight.logsSection(logs, null));
      if (keep) window.scrollTo(0, keep.y);
      watchTrace(id, gen, ver);
      return;
    }
    const logs = await logsLoaded;
    if (gen !== generation) return;
    const logsBySpan = window.Sidelight.logSpanCounts(logs);
    clear(main);
    document.body.dataset.traceRenders = String(Number(document.body.dataset.traceRenders || 0) + 1); // for tests
    const rows = [];
    (function flatten(nodes, depth) {
      for (const n of nodes) {
        rows.push({ n: n, depth: depth });
        if (n.subsegments) flatten(n.subsegments, depth + 1);
      }
    })(t.segments, 0);
    let t0 = Infinity, t1 = -Infinity;
    for (const r of rows) {
      t0 = Math.min(t0, r.n.start_time);
      t1 = Math.max(t1, r.n.end_time || r.n.start_time);
    }
    const span = Math.max(t1 - t0, 1e-6);

    main.appendChild(h('div', { class: 'trace-head' },
      h('a', { href: '#/traces', class: 'back' }, '← all traces'),
      h('h2', null, t.service || '(unnamed)', ' ', statusBadge(t.status)),
      h('p', { class: 'mono' }, t.id),
      h('p', { class: 'muted' }, fmtTime(t.start), ' · ', fmtMS(t.duration_ms), ' · ', String(rows.length), ' segments and subsegments',
        t.in_progress ? ' · in progress' : ''),
      liveNote()));

    const found = findings(rows);
    if (found) main.appendChild(found);
    const detail = h('section', { id: 'node-detail', class: 'detail' });
    const wf = h('div', { id: 'waterfall', class: 'waterfall' });
    wf.appendChild(h('div', { class: 'wf-axis' }, h('span', { class: 'wf-label' }, 'Name'),
      h('span', { class: 'wf-track' }, axisTicks(span))));
    // Documents whose parent never arrived, explained once above the rows.
    const orphans = rows.filter((r) => r.n.orphan);
    if (orphans.length) {
      main.insertBefore(h('section', { id: 'orphans', class: 'notice' },
        h('strong', null, orphans.length === 1 ? '1 orphan: ' : orphans.length + ' orphans: '),
        orphans.map((r) => h('span', { class: 'mono' }, r.n.name, ' ')),
        h('p', null, 'Their parent segment is not in this trace: it was never received. Under Lambda the parent is the function segment ' +
          'that Lambda sends to X-Ray itself (never to this sidecar), and a function that timed out or crashed sends nothing after the ' +
          'point it reached. They are shown at the top level, by their own times.')), null);
    }
    for (const r of rows) {
      const n = r.n;
      const st = nodeStatus(n);
      const end = n.end_time || t1;
      const bar = h('div', { class: 'bar st-' + st + (n.in_progress ? ' in-progress' : '') });
      bar.style.left = ((n.start_time - t0) / span * 100).toFixed(3) + '%';
      bar.style.width = Math.max((end - n.start_time) / span * 100, 0.3).toFixed(3) + '%';
      const label = h('span', { class: 'wf-label' }, h('span', { class: 'wf-name' }, n.name),
        n.namespace ? h('span', { class: 'ns' }, n.namespace) : null,
        n.orphan ? h('span', { class: 'tag orphan', title: 'parent ' + n.parent_id + ' is not in this trace' }, 'orphan') : null,
        lambdaTag(n),
        logsBySpan.get(n.id) ? h('span', { class: 'tag log-count', title: 'log records of this span: see Logs below' }, logsBySpan.get(n.id) + (logsBySpan.get(n.id) === 1 ? ' log' : ' logs')) : null,
        n.cause ? h('span', { class: 'badge st-' + st }, '!') : null);
      label.style.paddingLeft = (r.depth * 14 + 4) + 'px';
      const row = h('div', {
        class: 'wf-row', tabindex: '0', 'data-id': n.id, title: n.name,
        onclick: () => select(row, n),
        onkeydown: (ev) => { if (ev.key === 'Enter') select(row, n); },
      }, label, h('span', { class: 'wf-track' }, bar, h('span', { class: 'wf-dur' }, n.end_time ? fmtMS((n.end_time - n.start_time) * 1000) : 'in progress')));
      wf.appendChild(row);
    }
    main.appendChild(wf);
    // The trace's log records, in time order, right under the waterfall;
    // a record's span ID selects its row.
    const rowOf = (spanID) => wf.querySelector('.wf-row[data-id="' + CSS.escape(spanID) + '"]');
    const logSec = window.Sidelight.logsSection(logs, {
      has: (spanID) => !!rowOf(spanID),
      show: (spanID) => {
        const row = rowOf(spanID);
        const r = rows.find((x) => x.n.id === spanID);
        if (!row || !r) return;
        select(row, r.n);
        row.scrollIntoView({ block: 'nearest' });
        row.focus();
      },
    });
    if (logSec) main.appendChild(logSec);

    // Every exception in the trace, without a click.
    const faults = rows.filter((r) => isObject(r.n.cause) && r.n.cause.exceptions !== undefined &&
      !(Array.isArray(r.n.cause.exceptions) && r.n.cause.exceptions.length === 0));
    if (faults.length) {
      const sec = h('section', { id: 'exceptions', class: 'exceptions' }, h('h3', null, 'Exceptions'));
      for (const r of faults) sec.appendChild(h('div', null, h('h4', null, r.n.name), guarded('cause', r.n.cause, causeView)));
      main.appendChild(sec);
    }
    main.appendChild(detail);
    function select(row, n) {
      for (const el of wf.querySelectorAll('.wf-row.selected')) el.classList.remove('selected');
      row.classList.add('selected');
      window.Sidelight.markLogs(n.id);
      clear(detail);
      detail.appendChild(guarded('segment ' + n.id, n, nodeDetail));
    }
    const first = (keep && keep.sel && rows.find((r) => r.n.id === keep.sel)) || rows.find((r) => r.n.cause) || rows[0];
    if (first) select(wf.querySelector('.wf-row[data-id="' + CSS.escape(first.n.id) + '"]') || wf.children[1], first.n);
    if (keep) window.scrollTo(0, keep.y);
    watchTrace(id, gen, ver);
  }

  // ---- live updates of one trace ------------------------------------------
  //
  // Spans and log records of a live request keep arriving after its page
  // opened. While the page shows, it asks for the trace's version (about
  // 150 bytes) at each live tick and draws the trace again when it
  // changed. It stops asking when the tab is hidden (and
  // asks at once when it shows again), while live refresh is paused, and
  // for good once the trace is complete and unchanged for TRACE_QUIET_S,
  // or unchanged for TRACE_IDLE_MAX_S however it is (spans in progress
  // that never end); "check again" starts it over.
  const TRACE_QUIET_S = 60;
  const TRACE_IDLE_MAX_S = 600;

  // traceVersion fetches /api/traces/{id}/version. The page reads the
  // whole answer each time, not a 304, for its idle time by the server's
  // clock.
  async function traceVersion(id) {
    const r = await fetch('/api/traces/' + encodeURIComponent(id) + '/version', { cache: 'no-store' });
    if (!r.ok) throw new Error(r.statusText);
    return r.json();
  }

  // watchTrace starts live updates for the trace page just drawn from
  // version ver (null when it could not be read).
  function watchTrace(id, gen, ver) {
    watch = {
      id: id, gen: gen, version: ver ? ver.version : null,
      idle: ver ? ver.idle_seconds : 0, at: Date.now(), complete: !!ver && ver.documents > 0 && !ver.in_progress, stopped: false,
    };
    stopIfQuiet(watch);
    showTraceLive();
  }

  function stopIfQuiet(w) {
    if (w.idle >= (w.complete ? TRACE_QUIET_S : TRACE_IDLE_MAX_S)) w.stopped = true;
  }

  // checkTrace asks whether the watched trace changed and draws it again
  // if it did. A failed request counts as no change.
  async function checkTrace(w) {
    let v;
    try {
      v = await traceVersion(w.id);
    } catch (e) {
      v = null;
    }
    if (w !== watch || w.gen !== generation) return;
    const now = Date.now();
    if (v && v.version !== w.version) return route(true);
    if (v) {
      w.idle = v.idle_seconds;
      w.complete = v.documents > 0 && !v.in_progress;
    } else {
      w.idle += (now - w.at) / 1000;
    }
    w.at = now;
    stopIfQuiet(w);
    if (w.stopped) showTraceLive();
  }

  // pollTrace checks the trace page now, unless it must not.
  function pollTrace() {
    const w = watch;
    if (!w || w.gen !== generation || w.stopped || paused || document.hidden || refreshing) return;
    // For tests: polls started, and whether one is under way.
    document.body.dataset.tracePolls = String(Number(document.body.dataset.tracePolls || 0) + 1);
    document.body.dataset.tracePolling = '1';
    refreshing = Promise.resolve(checkTrace(w)).catch(() => {}).finally(() => {
      refreshing = null;
      delete document.body.dataset.tracePolling;
    });
  }

  function liveNote() {
    return h('p', { id: 'trace-live', class: 'muted trace-live', role: 'status' });
  }

  // showTraceLive says on the trace page whether it updates itself.
  function showTraceLive() {
    const el = document.getElementById('trace-live');
    const w = watch;
    if (!el || !w || w.gen !== generation) return;
    let state = 'live';
    let say = 'Updating: spans and log records that arrive late appear here.';
    if (w.stopped) {
      state = 'stopped';
      say = w.complete ? 'Complete and unchanged for a minute: no longer checking for late spans and log records. '
        : 'Unchanged for ' + TRACE_IDLE_MAX_S / 60 + ' minutes: no longer checking for spans and log records. ';
    } else if (paused) {
      state = 'paused';
      say = 'Live refresh is paused: late spans and log records show after resuming.';
    } else if (document.hidden) {
      state = 'hidden';
      say = 'Not checking for updates while the tab is hidden.';
    }
    el.setAttribute('data-state', state);
    clear(el);
    el.appendChild(document.createTextNode(say));
    if (w.stopped) el.appendChild(h('button', { type: 'button', id: 'trace-recheck', class: 'live', onclick: () => route(true) }, 'check again'));
  }
  document.addEventListener('visibilitychange', () => {
    showTraceLive();
    pollTrace();
  });

  // findings says, above the waterfall, what the middleware's annotations
  // on any node of the trace tell about its cause (the CORS verdict, a
  // timeout, a cold start) and which nodes ended after their parent had:
  // the root cause reads without first selecting the node that holds it.
  function findings(rows) {
    const byID = new Map(rows.map((r) => [r.n.id, r.n]));
    const parentOf = new Map(); // a node's parent: the one it is nested in, or the one its parent_id names
    for (const { n } of rows) if (Array.isArray(n.subsegments)) for (const c of n.subsegments) parentOf.set(c, n);
    const items = [];
    for (const { n } of rows) {
      const a = isObject(n.annotations) ? n.annotations : {};
      const parent = parentOf.get(n) || byID.get(n.parent_id);
      if (a.cors_verdict !== undefined && (a.cors_verdict !== 'allowed' || a.cors_warnings !== undefined)) {
        items.push(h('li', { class: 'finding cors' }, h('strong', null, 'CORS ', text(a.cors_verdict)),
          a.cors_code !== undefined ? [' (', text(a.cors_code), ')'] : null,
          a.cors_warnings !== undefined ? [' warnings: ', text(a.cors_warnings)] : null,
          ' on ', h('span', { class: 'mono' }, n.name), a.cors_preflight === true ? ' (preflight)' : null,
          a.cors_reason !== undefined ? ['. ', text(a.cors_reason)] : null,
          a.cors_hint !== undefined ? h('p', null, text(a.cors_hint)) : null));
      }
      if (timedOut(n)) {
        items.push(h('li', { class: 'finding timeout' }, h('strong', null, 'Timeout'), ' on ', h('span', { class: 'mono' }, n.name),
          ': it was about to time out when it was sent, after ', n.end_time ? fmtMS((n.end_time - n.start_time) * 1000) : '?',
          '. Work still running then is not in it.'));
      }
      if (coldStart(n)) {
        items.push(h('li', { class: 'finding cold' }, h('strong', null, 'Cold start'), ' on ', h('span', { class: 'mono' }, n.name),
          parent ? [': it started ', fmtMS((n.start_time - parent.start_time) * 1000), ' after ', h('span', { class: 'mono' }, parent.name),
            ' did, the time Lambda took to initialize a new execution environment'] : ': Lambda initialized a new execution environment first',
          '.'));
      }
      if (parent && parent.end_time && n.end_time && n.end_time > parent.end_time) {
        items.push(h('li', { class: 'finding late' }, h('strong', null, 'Outlived its parent'), ': ', h('span', { class: 'mono' }, n.name),
          ' ended ', fmtMS((n.end_time - parent.end_time) * 1000), ' after ', h('span', { class: 'mono' }, parent.name),
          ' had: work left running after the request or invocation returned (a goroutine not waited for).'));
      }
    }
    return items.length ? h('section', { id: 'findings', class: 'notice' }, h('ul', null, items)) : null;
  }

  // axisTicks labels the waterfall's time axis (span in seconds) at a
  // round step (1, 2 or 5 times a power of ten), in the unit of the step:
  // µs for a 21 µs trace, never "0.0 ms" on every tick.
  function axisTicks(span) {
    const raw = span / 5;
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * pow).find((x) => x >= raw) || 10 * pow;
    const [unit, div] = step < 1e-3 ? ['µs', 1e-6] : step < 1 ? ['ms', 1e-3] : ['s', 1];
    const digits = Math.max(0, -Math.floor(Math.log10(step / div) + 1e-9));
    const out = [];
    for (let v = 0; v <= span * (1 + 1e-9); v += step) {
      const tick = h('span', { class: 'tick' }, (v / div).toFixed(digits) + ' ' + unit);
      tick.style.left = (v / span * 100).toFixed(3) + '%';
      out.push(tick);
      if (out.length > 12) break;
    }
    return out;
  }

  // The Lambda middleware's annotations: cold_start and timeout, or
  // ColdStart and Timeout from services built before the names changed.
  const annotated = (n, ...keys) => isObject(n.annotations) && keys.some((k) => n.annotations[k] === true);
  const coldStart = (n) => annotated(n, 'cold_start', 'ColdStart');
  const timedOut = (n) => annotated(n, 'timeout', 'Timeout');

  // lambdaTag labels Lambda's initialization and cold starts: Lambda's
  // own Initialization subsegment, and the Sidelight middleware's
  // cold_start annotation.
  function lambdaTag(n) {
    if (n.name === 'Initialization' || n.name === 'Init') {
      return h('span', { class: 'tag init', title: 'Lambda ran the function\u2019s initialization code in a new execution environment' }, 'Lambda init');
    }
    if (coldStart(n)) {
      return h('span', { class: 'tag cold', title: 'First invocation in a new execution environment: Lambda initialized the function before this ran' }, 'cold start');
    }
    return null;
  }

  function nodeStatus(n) {
    if (n.fault) return 'fault';
    if (n.throttle) return 'throttle';
    if (n.error) return 'error';
    return 'ok';
  }

  function kvTable(obj, cls) {
    const t = h('table', { class: 'kv ' + (cls || '') });
    for (const k of Object.keys(obj)) {
      const v = obj[k];
      t.appendChild(h('tr', null, h('th', null, k),
        h('td', null, v !== null && typeof v === 'object' ? h('pre', null, JSON.stringify(v, null, 2)) : String(v))));
    }
    return t;
  }

  function nodeDetail(n) {
    const parts = [h('h3', null, n.name, ' ', statusBadge(nodeStatus(n))),
      kvTable(Object.assign({ id: n.id, start: fmtTime(n.start_time), duration: n.end_time ? fmtMS((n.end_time - n.start_time) * 1000) : 'in progress' },
        n.namespace ? { namespace: n.namespace } : {}, n.origin ? { origin: n.origin } : {},
        n.parent_id ? { parent_id: n.parent_id + (n.orphan ? ' (not in this trace: never received)' : '') } : {},
        n.attached ? { sent: 'as its own document' } : {},
        coldStart(n) ? { 'cold start': 'yes: Lambda initialized a new execution environment before this invocation' } : {},
        timedOut(n) ? { timeout: 'the invocation was about to time out when this was sent' } : {}), 'meta')];
    if (isObject(n.http)) {
      const flat = {};
      for (const part of ['request', 'response']) {
        if (isObject(n.http[part])) for (const k of Object.keys(n.http[part])) flat[part + '.' + k] = n.http[part][k];
        else if (n.http[part] !== undefined) flat[part] = n.http[part];
      }
      parts.push(h('h4', null, 'HTTP'), kvTable(flat, 'http'));
    } else if (n.http !== undefined) {
      parts.push(h('h4', null, 'HTTP'), h('p', null, invalid('http', n.http)));
    }
    if (isObject(n.annotations)) parts.push(h('h4', null, 'Annotations'), kvTable(n.annotations, 'annotations'));
    else if (n.annotations !== undefined) parts.push(h('h4', null, 'Annotations'), h('p', null, invalid('annotations', n.annotations)));
    if (n.metadata) parts.push(h('h4', null, 'Metadata'), h('pre', { class: 'metadata' }, JSON.stringify(n.metadata, null, 2)));
    if (n.aws) parts.push(h('h4', null, 'AWS'), h('pre', null, JSON.stringify(n.aws, null, 2)));
    if (n.sql) parts.push(h('h4', null, 'SQL'), h('pre', null, JSON.stringify(n.sql, null, 2)));
    if (n.cause !== undefined) parts.push(h('h4', null, 'Cause'), guarded('cause', n.cause, causeView));
    return h('div', null, parts);
  }

  // causeView shows a cause: an exception ID (string) or an object with
  // working_directory, paths and exceptions, each with type, message,
  // stack frames (label, path, line), remote and truncated. Values of the
  // wrong type are shown, marked invalid; they never hide the valid ones.
  function causeView(c) {
    if (typeof c === 'string') return h('p', null, 'Exception ', h('span', { class: 'mono' }, c), ' (recorded on another subsegment)');
    if (!isObject(c)) return h('p', null, invalid('cause', c));
    const out = h('div', { class: 'cause' });
    if (c.working_directory !== undefined) {
      out.appendChild(h('p', { class: 'muted' }, typeof c.working_directory === 'string' ? ['in ', c.working_directory] : invalid('working_directory', c.working_directory)));
    }
    if (c.exceptions === undefined) return out;
    if (!Array.isArray(c.exceptions)) {
      out.appendChild(h('p', null, invalid('exceptions', c.exceptions)));
      return out;
    }
    for (const ex of c.exceptions) out.appendChild(guarded('exception', ex, exceptionView));
    return out;
  }

  function exceptionView(ex) {
    if (!isObject(ex)) return h('div', { class: 'exception' }, invalid('exception', ex));
    const str = (name) => ex[name] === undefined || typeof ex[name] === 'string' ? ex[name] || '' : invalid(name, ex[name]);
    const head = h('p', { class: 'ex-head' }, h('strong', null, ex.type === undefined ? 'error' : str('type')), ': ', str('message'),
      ex.remote ? ' (remote)' : '');
    let stack = null;
    if (Array.isArray(ex.stack)) {
      if (ex.stack.length) stack = h('ol', { class: 'stack' }, ex.stack.map((f) => guarded('stack frame', f, frameView)));
    } else if (ex.stack !== undefined) {
      stack = h('p', null, invalid('stack', ex.stack));
    }
    return h('div', { class: 'exception' }, head, stack,
      ex.truncated ? h('p', { class: 'muted' }, typeof ex.truncated === 'number' ? ex.truncated + ' more frames' : invalid('truncated', ex.truncated)) : null);
  }

  function frameView(f) {
    if (!isObject(f)) return h('li', null, invalid('stack frame', f));
    const label = f.label === undefined || typeof f.label === 'string' ? f.label || '?' : invalid('label', f.label);
    const path = f.path === undefined || typeof f.path === 'string' ? f.path || '' : invalid('path', f.path);
    const line = f.line === undefined ? '' : typeof f.line === 'number' ? ':' + f.line : [' ', invalid('line', f.line)];
    return h('li', null, h('span', { class: 'label' }, label), ' ', h('span', { class: 'muted' }, path, line));
  }

  // ---- live refresh -----------------------------------------------------

  // Live mode is on unless paused: it reloads the current view every few
  // seconds, except while a form field has the focus; a single trace is
  // drawn again only when it changed (pollTrace). A reload never starts
  // while the previous one is still running.
  const REFRESH_MS = 3000;
  const live = document.getElementById('live');
  let paused = sessionStorage.getItem('sidelight-paused') === '1';
  function showLive() {
    live.setAttribute('aria-pressed', paused ? 'false' : 'true');
    live.classList.toggle('paused', paused);
    live.textContent = paused ? '\u25B6 resume live' : '\u275A\u275A pause';
    live.title = paused ? 'Live refresh is paused: click to reload every ' + REFRESH_MS / 1000 + ' s again'
      : 'Live: the view reloads every ' + REFRESH_MS / 1000 + ' s. Click to pause.';
    document.getElementById('live-state').textContent = paused ? 'paused' : 'live';
    document.getElementById('live-state').className = paused ? 'live-state paused' : 'live-state on';
    showTraceLive();
  }
  live.addEventListener('click', () => {
    paused = !paused;
    sessionStorage.setItem('sidelight-paused', paused ? '1' : '0');
    showLive();
  });
  showLive();
  let refreshing = null;
  let ticks = 0;
  setInterval(() => {
    document.body.dataset.liveTicks = String(++ticks); // for tests
    const editing = document.activeElement && main.contains(document.activeElement) &&
      ['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement.tagName);
    if (paused || editing || refreshing) return;
    if ((location.hash || '').startsWith('#/trace/')) {
      pollTrace();
      return;
    }
    refreshing = Promise.resolve(route(true)).catch(() => {}).finally(() => { refreshing = null; });
  }, REFRESH_MS);

  // What the page files share.
  window.Sidelight = {
    main: main, views: views, h: h, s: s, api: api, clear: clear, clip: clip, text: text,
    fmtMS: fmtMS, fmtTime: fmtTime, fmtNum: fmtNum, statusBadge: statusBadge, showError: showError,
    kvTable: kvTable, isObject: isObject, refreshStats: refreshStats, current: () => generation, rerender: () => route(),
  };

  window.addEventListener('hashchange', route);
  // The other page files are deferred scripts too: they have registered
  // their views by DOMContentLoaded.
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', route);
  else setTimeout(route, 0);
})();
